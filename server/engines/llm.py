"""Chat completions that answer in JSON matching a schema (OpenAI or any compatible server).

    chat = OpenAIJsonChat.from_settings(settings)   # None without OPENAI_API_KEY
    answer = await chat.complete_json(system, user, "resume_skills", schema)
    skills = await complete_validated(chat, system, user, "resume_skills", schema, Skills)

Every failure, whatever its cause, is an `LlmError` whose `kind` names it in a
word or two, short enough to show to people ("timeout", "rate_limited",
"server_error", "bad_json" ...). `complete_validated` adds "bad_answer": JSON that
does not fit the feature's pydantic model. Callers decide what to fall back on
(`server.domain.llm_fallback` is the domain's one way of doing it).
Retries of 429, 5xx and dropped connections are the `openai` client's, with
OPENAI_MAX_RETRIES attempts and its backoff (which honours Retry-After).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ValidationError

from server.config import Settings
from server.engines.llm_types import JsonChat, LlmError, LlmErrorKind

log = logging.getLogger(__name__)

AnswerT = TypeVar("AnswerT", bound=BaseModel)

# Beyond the client's own per-request timeout and retries: a hard ceiling, so a
# server that trickles bytes cannot hold a call for ever.
_DEADLINE_SLACK_SECONDS = 5.0


async def complete_validated(
    chat: JsonChat,
    system: str,
    user: str,
    schema_name: str,
    schema: dict[str, Any],
    answer_type: type[AnswerT],
    *,
    max_output_tokens: int | None = None,
) -> AnswerT:
    """The model's answer validated against `answer_type`; LlmError on any failure.

    The JSON schema makes the model answer in shape, but a model (or a compatible
    server) can still break it, so the answer is checked again on our side: an
    answer that does not fit is a "bad_answer" naming the first field that broke it.
    """
    answer = await chat.complete_json(
        system, user, schema_name, schema, max_output_tokens=max_output_tokens
    )
    try:
        return answer_type.model_validate(answer)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise LlmError("bad_answer", f"{where}: {first['msg']}") from None


class OpenAIJsonChat:
    """JsonChat over the chat completions API with a strict `json_schema` response format."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_seconds: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        self._model = model
        self._deadline = timeout_seconds * (max_retries + 1) + _DEADLINE_SLACK_SECONDS
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_seconds,
            max_retries=max_retries,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIJsonChat | None:
        if not settings.openai_enabled or settings.openai_api_key is None:
            return None
        return cls(
            api_key=settings.openai_api_key.get_secret_value(),
            model=settings.openai_model,
            base_url=settings.openai_base_url,
            timeout_seconds=settings.openai_timeout_seconds,
            max_retries=settings.openai_max_retries,
        )

    @property
    def model(self) -> str:
        return self._model

    async def complete_json(
        self,
        system: str,
        user: str,
        schema_name: str,
        schema: dict[str, Any],
        *,
        max_output_tokens: int | None = None,
    ) -> dict[str, Any]:
        """The model's answer as a JSON object; LlmError on any failure."""
        try:
            async with asyncio.timeout(self._deadline):
                completion = await self._client.chat.completions.create(
                    model=self._model,
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": user},
                    ],
                    response_format={
                        "type": "json_schema",
                        "json_schema": {"name": schema_name, "schema": schema, "strict": True},
                    },
                    max_completion_tokens=max_output_tokens or openai.omit,
                )
        except TimeoutError:
            raise LlmError("timeout", f"no answer within {self._deadline:.0f} s") from None
        except openai.OpenAIError as error:
            raise _classified(error) from error
        return _json_object(completion)

    async def close(self) -> None:
        await self._client.close()


def _classified(error: openai.OpenAIError) -> LlmError:
    if isinstance(error, openai.APITimeoutError):
        return LlmError("timeout", "the request timed out")
    if isinstance(error, openai.APIConnectionError):
        return LlmError("connection", "could not reach the server")
    if isinstance(error, openai.RateLimitError):
        return LlmError("rate_limited", "HTTP 429")
    if isinstance(error, openai.APIStatusError):
        kind: LlmErrorKind = "server_error" if error.status_code >= 500 else "client_error"
        return LlmError(kind, f"HTTP {error.status_code}")
    if isinstance(error, openai.APIResponseValidationError):
        return LlmError("bad_json", "the response was not a chat completion")
    return LlmError("bad_json", type(error).__name__)


def _json_object(completion: Any) -> dict[str, Any]:
    try:
        choice = completion.choices[0]
        message = choice.message
    except (AttributeError, IndexError, TypeError):
        raise LlmError("bad_json", "the response has no choices") from None
    if getattr(message, "refusal", None):
        raise LlmError("refused", "the model declined to answer")
    if choice.finish_reason == "length":
        raise LlmError("truncated", "the answer was cut off at the token limit")
    content = message.content
    if not isinstance(content, str):
        raise LlmError("bad_json", "the answer has no text")
    try:
        answer = json.loads(content)
    except json.JSONDecodeError:
        raise LlmError("bad_json", "the answer is not JSON") from None
    if not isinstance(answer, dict):
        raise LlmError("bad_json", "the answer is not a JSON object")
    return answer

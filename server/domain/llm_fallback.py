""" "OpenAI, else offline": the one way features use a language model.

Questions, content analysis and skill extraction each ask the model first and,
on any `LlmError`, answer with their offline rules instead. Clients see who
answered in a label (`generator`, `analyzer`, `extractor` in the API):

- "openai:<model>": the model answered;
- "offline (openai failed: <kind>)": it failed and the offline rules answered;
  kind is one of `server.engines.llm_types.LlmErrorKind` ("timeout", "bad_answer" ...).

Features without a model configured label their answers plain "offline".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from server.engines.llm_types import JsonChat, LlmError

log = logging.getLogger(__name__)

OFFLINE = "offline"

T = TypeVar("T")


def model_label(chat: JsonChat) -> str:
    return f"openai:{chat.model}"


def fallback_label(error: LlmError) -> str:
    return f"{OFFLINE} (openai failed: {error.kind})"


async def openai_else_offline(
    chat: JsonChat,
    ask_model: Callable[[], Awaitable[T]],
    offline: Callable[[], Awaitable[T]],
    *,
    task: str,
    substitute: str,
) -> tuple[T, str]:
    """(the answer, who gave it): the model's, else the offline one's.

    `task` and `substitute` name the feature in the log: "openai <task> failed;
    using the offline <substitute>". Only LlmError falls back: anything else is
    a bug, and hiding it behind the offline answer would keep it unseen.
    """
    try:
        return await ask_model(), model_label(chat)
    except LlmError as error:
        log.warning(
            "openai %s failed; using the offline %s",
            task,
            substitute,
            extra={"kind": error.kind, "detail": error.message},
        )
        return await offline(), fallback_label(error)

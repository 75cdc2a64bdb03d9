"""What features see of a language model: the JsonChat protocol and its one error.

No heavy imports (no `openai`): offline code and its fallbacks can name these
without loading a client. The OpenAI implementation is `server/engines/llm.py`.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

LlmErrorKind = Literal[
    "timeout",
    "rate_limited",
    "server_error",
    "client_error",
    "connection",
    "refused",
    "truncated",
    "bad_json",
    "bad_answer",
]


class LlmError(Exception):
    """A chat completion did not produce a usable answer."""

    def __init__(self, kind: LlmErrorKind, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind: LlmErrorKind = kind
        self.message = message


class JsonChat(Protocol):
    """What features need from a language model: one JSON object per question."""

    @property
    def model(self) -> str: ...

    async def complete_json(
        self,
        system: str,
        user: str,
        schema_name: str,
        schema: dict[str, Any],
        *,
        max_output_tokens: int | None = None,
    ) -> dict[str, Any]: ...

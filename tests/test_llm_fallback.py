"""The shared "OpenAI, else offline" path: validated completions and the fallback label.

The three features (questions, content analysis, skill extraction) are tested end to
end against the fake OpenAI server in their own files; these pin the helpers they share.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from server.domain.llm_fallback import openai_else_offline
from server.engines.llm import complete_validated
from server.engines.llm_types import LlmError


class ScriptedChat:
    """A JsonChat that answers with one scripted JSON object (or raises)."""

    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self._answer = answer
        self.calls = 0

    @property
    def model(self) -> str:
        return "scripted-model"

    async def complete_json(
        self,
        system: str,
        user: str,
        schema_name: str,
        schema: dict[str, Any],
        *,
        max_output_tokens: int | None = None,
    ) -> dict[str, Any]:
        self.calls += 1
        if isinstance(self._answer, Exception):
            raise self._answer
        return self._answer


class Skills(BaseModel):
    skills: list[str]


async def _validated(chat: ScriptedChat) -> Skills:
    return await complete_validated(chat, "system", "user", "skills", {}, Skills)


async def test_an_answer_that_fits_comes_back_as_the_model() -> None:
    answer = await _validated(ScriptedChat({"skills": ["Go", "Rust"]}))
    assert answer == Skills(skills=["Go", "Rust"])


async def test_an_answer_that_does_not_fit_is_a_bad_answer_naming_the_field() -> None:
    with pytest.raises(LlmError) as caught:
        await _validated(ScriptedChat({"skills": ["Go", 7]}))
    assert caught.value.kind == "bad_answer"
    assert caught.value.message.startswith("skills.1:")


async def test_the_model_answers_under_its_own_label() -> None:
    chat = ScriptedChat({"skills": ["Go"]})
    offline_calls: list[str] = []

    async def offline() -> list[str]:
        offline_calls.append("called")
        return ["Python"]

    async def ask() -> list[str]:
        return (await _validated(chat)).skills

    skills, label = await openai_else_offline(
        chat, ask, offline, task="skill extraction", substitute="extractor"
    )
    assert (skills, label) == (["Go"], "openai:scripted-model")
    assert not offline_calls


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (LlmError("timeout", "no answer within 35 s"), "timeout"),
        ({"skills": "Go"}, "bad_answer"),
    ],
    ids=["timeout", "bad-answer"],
)
async def test_an_llm_failure_falls_back_and_says_why(
    answer: dict[str, Any] | Exception, kind: str
) -> None:
    chat = ScriptedChat(answer)

    async def offline() -> list[str]:
        return ["Python"]

    async def ask() -> list[str]:
        return (await _validated(chat)).skills

    skills, label = await openai_else_offline(
        chat, ask, offline, task="skill extraction", substitute="extractor"
    )
    assert (skills, label) == (["Python"], f"offline (openai failed: {kind})")
    assert chat.calls == 1


async def test_a_bug_is_not_hidden_behind_the_offline_answer() -> None:
    chat = ScriptedChat(RuntimeError("a bug in the feature"))

    async def offline() -> list[str]:
        raise AssertionError("the offline path must not run for a bug")

    async def ask() -> list[str]:
        return (await _validated(chat)).skills

    with pytest.raises(RuntimeError, match="a bug in the feature"):
        await openai_else_offline(chat, ask, offline, task="skill extraction", substitute="x")

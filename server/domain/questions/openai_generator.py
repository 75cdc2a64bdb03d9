"""Questions from a language model, checked; the offline bank answers on any failure.

The model's answer must fit `ModelAnswer` (else "bad_answer"), and the set must be
usable: as many questions as asked, none empty, over 300 characters or repeated.
`Generated.generator` says who wrote them (`server/domain/llm_fallback.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from server.domain.llm_fallback import openai_else_offline
from server.domain.questions.mix import category_mix
from server.domain.questions.offline import OfflineQuestionGenerator
from server.domain.questions.types import (
    MAX_QUESTION_CHARS,
    Category,
    Generated,
    GeneratedQuestion,
    GenerationRequest,
)
from server.engines.llm import complete_validated
from server.engines.llm_types import JsonChat, LlmError

_SYSTEM_PROMPT = (
    "You are a senior interviewer at a strong technology company. Write interview questions "
    "a candidate answers aloud in one to three minutes. Each question is specific, open-ended "
    "(never yes/no), at most 300 characters, and different from the others. For each give a "
    "short topic, a category, and 3 to 8 lower-case concepts a strong answer would cover."
)
_QUESTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "questions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "topic": {"type": "string"},
                    "category": {"type": "string", "enum": [c.value for c in Category]},
                    "concepts": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["text", "topic", "category", "concepts"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["questions"],
    "additionalProperties": False,
}


class ModelQuestion(BaseModel):
    # Numbers where a string belongs are taken as written, as str() always did here.
    model_config = ConfigDict(coerce_numbers_to_str=True)
    text: str
    topic: str = ""
    category: Category
    concepts: list[str] = []


class ModelAnswer(BaseModel):
    questions: list[ModelQuestion]


class OpenAIQuestionGenerator:
    """Questions from a language model, checked; the offline bank answers on any failure."""

    def __init__(self, chat: JsonChat, fallback: OfflineQuestionGenerator) -> None:
        self._chat = chat
        self._fallback = fallback

    async def generate(self, request: GenerationRequest) -> Generated:
        questions, generator = await openai_else_offline(
            self._chat,
            lambda: self._ask_model(request),
            lambda: self._from_bank(request),
            task="question generation",
            substitute="bank",
        )
        return Generated(questions, generator)

    async def _ask_model(self, request: GenerationRequest) -> list[GeneratedQuestion]:
        answer = await complete_validated(
            self._chat,
            _SYSTEM_PROMPT,
            _user_prompt(request),
            "interview_questions",
            _QUESTION_SCHEMA,
            ModelAnswer,
        )
        return questions_from_answer(answer, request)

    async def _from_bank(self, request: GenerationRequest) -> list[GeneratedQuestion]:
        return self._fallback.generate_now(request)


def _user_prompt(request: GenerationRequest) -> str:
    mix = category_mix(
        request.count, request.difficulty, request.profile, request.track == "behavioral"
    )
    lines = [
        f"Track: {request.track.replace('_', ' ')}.",
        f"Difficulty: {request.difficulty.value}.",
        f"Write exactly {request.count} questions: "
        + ", ".join(f"{n} {c.value.replace('_', ' ')}" for c, n in mix.items())
        + ".",
    ]
    profile = request.profile
    if profile is not None:
        if profile.skills:
            lines.append("The candidate's resume lists: " + ", ".join(profile.skills[:15]) + ".")
            lines.append(
                "Applied questions ask what the candidate did with one of those skills and "
                "name it, e.g. 'Your resume lists Kafka: how did you handle consumer rebalancing?'"
            )
        if profile.years_experience is not None:
            lines.append(f"Years of experience: {profile.years_experience:g}.")
        if profile.target_role:
            lines.append(f"The candidate is preparing for this role: {profile.target_role}.")
        if profile.graduation_year is not None:
            lines.append(f"They graduate(d) in {profile.graduation_year}.")
    return "\n".join(lines)


def questions_from_answer(
    answer: ModelAnswer, request: GenerationRequest
) -> list[GeneratedQuestion]:
    """The model's questions, tidied; LlmError("bad_answer") when the set is unusable."""
    questions = [
        GeneratedQuestion(
            text=" ".join(question.text.split()),
            topic=question.topic[:128] or request.track,
            category=question.category,
            difficulty=request.difficulty,
            concepts=[c.strip().lower() for c in question.concepts if c.strip()][:8],
        )
        for question in answer.questions[: request.count]
    ]
    problems = check_generated(questions, request.count)
    if problems:
        raise LlmError("bad_answer", "; ".join(problems))
    return questions


def check_generated(questions: Sequence[GeneratedQuestion], count: int) -> list[str]:
    """Problems with a generated set: too few, empty, duplicate or over-long questions."""
    problems: list[str] = []
    if len(questions) < count:
        problems.append(f"{len(questions)} questions instead of {count}")
    seen: set[str] = set()
    for question in questions:
        text = question.text.strip()
        key = " ".join(text.casefold().split())
        if not text:
            problems.append("an empty question")
        elif len(text) > MAX_QUESTION_CHARS:
            problems.append(f"a question of {len(text)} characters")
        elif key in seen:
            problems.append("a duplicate question")
        seen.add(key)
    return problems

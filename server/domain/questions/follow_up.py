"""Follow-up questions: one question that probes what an answer left open or claimed.

Offline (the rules, and the fallback of the model):

1. the answer missed some of its question's concepts: ask about the first one or two
   of them, in the question's own topic;
2. it covered them all but named a technology (found with the skills taxonomy, so
   "k8s" is Kubernetes): ask what that technology cost them and what they weighed it
   against;
3. neither: ask for one concrete case from their own work, with a number.

With OpenAI the model writes the follow-up from the transcript; a failure or an
unusable answer falls back to the rules (`server/domain/llm_fallback.py`). Either
way the follow-up keeps the question's category and difficulty, and brings the
concepts a good answer to it covers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from server.domain.analysis.content.measures import concept_covered, prepare
from server.domain.llm_fallback import OFFLINE, openai_else_offline
from server.domain.questions.types import (
    MAX_QUESTION_CHARS,
    Category,
    Difficulty,
    GeneratedQuestion,
)
from server.domain.resume.taxonomy import Taxonomy, default_taxonomy
from server.engines.llm import complete_validated
from server.engines.llm_types import JsonChat, LlmError

# The transcript the model sees is cut here: a follow-up needs the gist, not every word.
MAX_TRANSCRIPT_CHARS = 6000


@dataclass(frozen=True)
class FollowUpRequest:
    """The question answered and what the answer said."""

    track: str
    text: str
    topic: str
    category: Category
    difficulty: Difficulty
    concepts: list[str]
    transcript: str


@dataclass(frozen=True)
class FollowUp:
    question: GeneratedQuestion
    generator: str


class FollowUpWriter(Protocol):
    async def write(self, request: FollowUpRequest) -> FollowUp: ...


class OfflineFollowUpWriter:
    """The rules in the module docstring; deterministic, no network."""

    def __init__(self, taxonomy: Taxonomy | None = None) -> None:
        self._taxonomy = taxonomy or default_taxonomy()

    async def write(self, request: FollowUpRequest) -> FollowUp:
        # Concept matching and the taxonomy scan grow with the transcript: off the loop.
        question = await asyncio.to_thread(self.write_now, request)
        return FollowUp(question, OFFLINE)

    def write_now(self, request: FollowUpRequest) -> GeneratedQuestion:
        answer = prepare(request.transcript)
        missing = [c for c in request.concepts if not concept_covered(c, answer.content)]
        topic = request.topic or request.track.replace("_", " ")
        if missing:
            named = " and ".join(f"'{c}'" for c in missing[:2])
            text = (
                f"Your answer on {topic} did not get to {named}. How does it come into "
                "this problem, and how would it change what you said?"
            )
            concepts = [*missing[:2], "trade-offs", "example"]
            return _question(text, topic, request, concepts)
        mentions = self._taxonomy.mentions(request.transcript)
        if mentions:
            skill = mentions[0].skill
            text = (
                f"You mentioned {skill}. What did it cost you in that work, what did you "
                "weigh it against, and when would you not use it?"
            )
            concepts = ["limitations", "alternatives", "trade-offs", "experience"]
            return _question(text, skill, request, concepts)
        text = (
            f"Take one concrete case from your own work on {topic}: what exactly did you "
            "do, and which number shows how it turned out?"
        )
        return _question(text, topic, request, ["project context", "action", "outcome"])


def _question(
    text: str, topic: str, request: FollowUpRequest, concepts: list[str]
) -> GeneratedQuestion:
    return GeneratedQuestion(
        text=text[:MAX_QUESTION_CHARS],
        topic=topic[:128],
        category=request.category,
        difficulty=request.difficulty,
        concepts=concepts,
    )


_SYSTEM_PROMPT = (
    "You are a senior interviewer. The candidate has just answered a question aloud. Write "
    "one follow-up question that probes what the answer left open, or tests a claim it made. "
    "It is specific to this answer, open-ended, at most 300 characters. Give a short topic "
    "and 3 to 6 lower-case concepts a strong answer to the follow-up covers."
)
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string"},
        "topic": {"type": "string"},
        "concepts": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["text", "topic", "concepts"],
    "additionalProperties": False,
}


class ModelFollowUp(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)
    text: str
    topic: str = ""
    concepts: list[str] = []


class OpenAIFollowUpWriter:
    """The model writes the follow-up; the offline rules answer on any failure."""

    def __init__(self, chat: JsonChat, fallback: OfflineFollowUpWriter) -> None:
        self._chat = chat
        self._fallback = fallback

    async def write(self, request: FollowUpRequest) -> FollowUp:
        question, generator = await openai_else_offline(
            self._chat,
            lambda: self._ask_model(request),
            lambda: asyncio.to_thread(self._fallback.write_now, request),
            task="follow-up question",
            substitute="rules",
        )
        return FollowUp(question, generator)

    async def _ask_model(self, request: FollowUpRequest) -> GeneratedQuestion:
        answer = await complete_validated(
            self._chat, _SYSTEM_PROMPT, user_prompt(request), "follow_up", _SCHEMA, ModelFollowUp
        )
        text = " ".join(answer.text.split())
        if not text or len(text) > MAX_QUESTION_CHARS:
            raise LlmError("bad_answer", f"a follow-up of {len(text)} characters")
        concepts = [c.strip().lower() for c in answer.concepts if c.strip()][:8]
        return _question(text, answer.topic.strip() or request.topic, request, concepts)


def user_prompt(request: FollowUpRequest) -> str:
    return "\n".join(
        [
            f"Track: {request.track.replace('_', ' ')}. Difficulty: {request.difficulty.value}.",
            f"Question: {request.text}",
            "Concepts a strong answer covers: " + ", ".join(request.concepts) + ".",
            "The candidate's answer (transcribed speech):",
            request.transcript[:MAX_TRANSCRIPT_CHARS],
        ]
    )


def create_follow_up_writer(chat: JsonChat | None) -> FollowUpWriter:
    offline = OfflineFollowUpWriter()
    return OpenAIFollowUpWriter(chat, offline) if chat is not None else offline

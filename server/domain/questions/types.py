"""What a question generator is asked for and what it gives back. Plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from server.domain.candidate import CandidateProfile

MAX_QUESTION_CHARS = 300


class Difficulty(StrEnum):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"
    EXPERT = "expert"


class Category(StrEnum):
    TECHNICAL = "technical"
    APPLIED = "applied"
    SYSTEM_DESIGN = "system_design"
    BEHAVIORAL = "behavioral"


@dataclass(frozen=True)
class GeneratedQuestion:
    text: str
    topic: str
    category: Category
    difficulty: Difficulty
    concepts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GenerationRequest:
    track: str
    difficulty: Difficulty
    count: int
    profile: CandidateProfile | None
    seed: int


@dataclass(frozen=True)
class Generated:
    questions: list[GeneratedQuestion]
    generator: str


class QuestionGenerator(Protocol):
    async def generate(self, request: GenerationRequest) -> Generated: ...

"""Question generation: a curated offline bank, tailored to the resume, or OpenAI.

The offline generator is deterministic for a given seed (the interview id), so
a retry after a crash produces the same set, while two interviews on one track
draw different questions.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from server.domain.candidate import CandidateProfile
from server.domain.tracks import slugify
from server.engines.llm import JsonChat, LlmError

log = logging.getLogger(__name__)

BANK_PATH = Path(__file__).resolve().parent.parent / "data" / "question_bank.json"
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


# --- the curated bank -----------------------------------------------------------


@dataclass(frozen=True)
class BankQuestion:
    text: str
    topic: str
    category: Category
    difficulties: frozenset[Difficulty]
    concepts: tuple[str, ...] = ()
    years_min: float = 0.0

    def suits(self, difficulty: Difficulty, years: float | None) -> bool:
        return difficulty in self.difficulties and (years or 0.0) >= self.years_min


@dataclass(frozen=True)
class QuestionBank:
    track_questions: dict[str, list[BankQuestion]]
    track_aliases: dict[str, str]
    behavioral: list[BankQuestion]
    generic: list[BankQuestion]
    skill_questions: dict[str, list[BankQuestion]]
    skill_templates: list[BankQuestion]

    def questions_for_track(self, track: str) -> list[BankQuestion]:
        return self.track_questions.get(track) or self.generic

    def for_skill(self, skill: str) -> list[BankQuestion]:
        return self.skill_questions.get(skill.casefold(), [])


def _bank_question(raw: dict[str, Any], default_topic: str = "") -> BankQuestion:
    return BankQuestion(
        text=raw["text"],
        topic=raw.get("topic", default_topic),
        category=Category(raw["category"]),
        difficulties=frozenset(Difficulty(d) for d in raw["difficulties"]),
        concepts=tuple(raw.get("concepts", ())),
        years_min=float(raw.get("years_min", 0)),
    )


@cache
def load_bank(path: Path = BANK_PATH) -> QuestionBank:
    data = json.loads(path.read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}
    track_questions: dict[str, list[BankQuestion]] = {}
    for slug, track in data["tracks"].items():
        track_questions[slug] = [_bank_question(q) for q in track["questions"]]
        for name in [slug, track.get("title", ""), *track.get("aliases", [])]:
            if name:
                aliases[slugify(name)] = slug
    return QuestionBank(
        track_questions=track_questions,
        track_aliases=aliases,
        behavioral=[_bank_question(q) for q in data["behavioral"]],
        generic=[_bank_question(q) for q in data["generic"]],
        skill_questions={
            skill.casefold(): [_bank_question(q, skill) for q in questions]
            for skill, questions in data["skill_questions"].items()
        },
        skill_templates=[_bank_question(q) for q in data["skill_templates"]],
    )


# --- how many of each kind ------------------------------------------------------

_BASE_MIX: dict[Difficulty, dict[Category, float]] = {
    Difficulty.EASY: {
        Category.TECHNICAL: 0.6,
        Category.SYSTEM_DESIGN: 0.1,
        Category.BEHAVIORAL: 0.3,
    },
    Difficulty.MEDIUM: {
        Category.TECHNICAL: 0.5,
        Category.SYSTEM_DESIGN: 0.25,
        Category.BEHAVIORAL: 0.25,
    },
    Difficulty.HARD: {
        Category.TECHNICAL: 0.4,
        Category.SYSTEM_DESIGN: 0.35,
        Category.BEHAVIORAL: 0.25,
    },
    Difficulty.EXPERT: {
        Category.TECHNICAL: 0.3,
        Category.SYSTEM_DESIGN: 0.45,
        Category.BEHAVIORAL: 0.25,
    },
}
# Share of the technical questions that ask about the candidate's own skills instead.
RESUME_SHARE = 0.6


def design_weight_for_years(years: float | None) -> float:
    """Freshers get far fewer system design questions; seniors more."""
    if years is None:
        return 1.0
    if years < 2:
        return 0.25
    if years < 5:
        return 1.0
    if years < 10:
        return 1.3
    return 1.6


def category_mix(
    count: int, difficulty: Difficulty, profile: CandidateProfile | None, behavioral_track: bool
) -> dict[Category, int]:
    """How many questions of each category, by largest remainder."""
    has_skills = profile is not None and bool(profile.skills)
    if behavioral_track:
        weights = {Category.BEHAVIORAL: 0.8 if has_skills else 1.0}
        if has_skills:
            weights[Category.APPLIED] = 0.2
    else:
        weights = dict(_BASE_MIX[difficulty])
        weights[Category.SYSTEM_DESIGN] *= design_weight_for_years(
            profile.years_experience if profile else None
        )
        if has_skills:
            # Questions about the candidate's own skills replace generic technical
            # ones; design questions stay, so experience alone decides their share.
            moved = weights[Category.TECHNICAL] * RESUME_SHARE
            weights[Category.TECHNICAL] -= moved
            weights[Category.APPLIED] = moved
    total = sum(weights.values())
    exact = {category: count * weight / total for category, weight in weights.items()}
    mix = {category: int(share) for category, share in exact.items()}
    by_remainder = sorted(exact, key=lambda c: exact[c] - mix[c], reverse=True)
    for category in by_remainder[: count - sum(mix.values())]:
        mix[category] += 1
    # A tailored interview must visibly use the resume, however the rounding fell.
    floor = 2 if count >= 4 else 1 if count >= 2 else 0
    while has_skills and mix.get(Category.APPLIED, 0) < floor:
        donor = max((c for c in mix if c is not Category.APPLIED), key=lambda c: mix[c])
        mix[donor] -= 1
        mix[Category.APPLIED] = mix.get(Category.APPLIED, 0) + 1
    return {category: n for category, n in mix.items() if n > 0}


# --- the offline generator --------------------------------------------------------

_ORDER = [Category.APPLIED, Category.TECHNICAL, Category.SYSTEM_DESIGN, Category.BEHAVIORAL]
_NEIGHBOURS: dict[Difficulty, list[Difficulty]] = {
    Difficulty.EASY: [Difficulty.MEDIUM],
    Difficulty.MEDIUM: [Difficulty.EASY, Difficulty.HARD],
    Difficulty.HARD: [Difficulty.MEDIUM, Difficulty.EXPERT],
    Difficulty.EXPERT: [Difficulty.HARD],
}


class OfflineQuestionGenerator:
    name = "offline"

    def __init__(self, bank: QuestionBank | None = None) -> None:
        self._bank = bank or load_bank()

    async def generate(self, request: GenerationRequest) -> Generated:
        return Generated(self.generate_now(request), self.name)

    def generate_now(self, request: GenerationRequest) -> list[GeneratedQuestion]:
        rng = random.Random(request.seed)
        behavioral_track = request.track == "behavioral"
        mix = category_mix(request.count, request.difficulty, request.profile, behavioral_track)
        chosen: list[GeneratedQuestion] = []
        used: set[str] = set()
        for category in _ORDER:
            wanted = mix.get(category, 0)
            picks = (
                self._applied(request, rng, wanted, used)
                if category is Category.APPLIED
                else self._from_bank(request, rng, category, wanted, used)
            )
            chosen += picks
        # Top up from any category when a pool ran short (small custom banks).
        if len(chosen) < request.count:
            for category in (Category.TECHNICAL, Category.BEHAVIORAL, Category.SYSTEM_DESIGN):
                chosen += self._from_bank(request, rng, category, request.count - len(chosen), used)
        return chosen[: request.count]

    def _pool(self, track: str, category: Category) -> list[BankQuestion]:
        if category is Category.BEHAVIORAL:
            return self._bank.behavioral
        return [q for q in self._bank.questions_for_track(track) if q.category is category]

    def _from_bank(
        self,
        request: GenerationRequest,
        rng: random.Random,
        category: Category,
        wanted: int,
        used: set[str],
    ) -> list[GeneratedQuestion]:
        pool = self._pool(request.track, category)
        years = request.profile.years_experience if request.profile else None
        picks: list[GeneratedQuestion] = []
        for level in [request.difficulty, *_NEIGHBOURS[request.difficulty]]:
            candidates = [q for q in pool if q.suits(level, years) and q.text not in used]
            rng.shuffle(candidates)
            for question in candidates[: wanted - len(picks)]:
                used.add(question.text)
                picks.append(_generated(question, question.text, request.difficulty))
            if len(picks) >= wanted:
                break
        return picks

    def _applied(
        self, request: GenerationRequest, rng: random.Random, wanted: int, used: set[str]
    ) -> list[GeneratedQuestion]:
        if wanted == 0 or request.profile is None:
            return []
        years = request.profile.years_experience
        # The strongest skills come first on a resume; vary among the top ones.
        skills = list(request.profile.skills[: max(wanted * 2, 6)])
        rng.shuffle(skills)
        picks: list[GeneratedQuestion] = []
        for skill in skills:
            if len(picks) == wanted:
                break
            options = [q for q in self._bank.for_skill(skill) if q.suits(request.difficulty, years)]
            options = options or [
                q for q in self._bank.for_skill(skill) if (years or 0) >= q.years_min
            ]
            if options:
                question = rng.choice(options)
                text = question.text
            else:
                templates = [
                    t for t in self._bank.skill_templates if t.suits(request.difficulty, years)
                ]
                if not templates:
                    continue
                question = rng.choice(templates)
                text = question.text.replace("{skill}", skill)
            if text in used:
                continue
            used.add(text)
            picks.append(_generated(question, text, request.difficulty, topic=skill))
        return picks


def _generated(
    question: BankQuestion, text: str, difficulty: Difficulty, topic: str | None = None
) -> GeneratedQuestion:
    return GeneratedQuestion(
        text=text,
        topic=topic or question.topic,
        category=question.category,
        difficulty=difficulty,
        concepts=list(question.concepts),
    )


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


# --- OpenAI -------------------------------------------------------------------------

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


class OpenAIQuestionGenerator:
    """Questions from a language model, checked; the offline bank answers on any failure."""

    def __init__(self, chat: JsonChat, fallback: OfflineQuestionGenerator) -> None:
        self._chat = chat
        self._fallback = fallback

    async def generate(self, request: GenerationRequest) -> Generated:
        try:
            answer = await self._chat.complete_json(
                _SYSTEM_PROMPT, _user_prompt(request), "interview_questions", _QUESTION_SCHEMA
            )
            questions = _parse_questions(answer, request)
        except LlmError as error:
            log.warning(
                "openai question generation failed; using the offline bank",
                extra={"kind": error.kind},
            )
            return Generated(
                self._fallback.generate_now(request), f"offline (openai failed: {error.kind})"
            )
        return Generated(questions, f"openai:{self._chat.model}")


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
    return "\n".join(lines)


def _parse_questions(answer: dict[str, Any], request: GenerationRequest) -> list[GeneratedQuestion]:
    raw = answer.get("questions")
    if not isinstance(raw, list):
        raise LlmError("bad_answer", "no list of questions")
    questions: list[GeneratedQuestion] = []
    for item in raw[: request.count]:
        try:
            questions.append(
                GeneratedQuestion(
                    text=" ".join(str(item["text"]).split()),
                    topic=str(item.get("topic", ""))[:128] or request.track,
                    category=Category(item["category"]),
                    difficulty=request.difficulty,
                    concepts=[
                        str(c).strip().lower() for c in item.get("concepts", []) if str(c).strip()
                    ][:8],
                )
            )
        except (KeyError, TypeError, ValueError):
            raise LlmError("bad_answer", "a question is malformed") from None
    problems = check_generated(questions, request.count)
    if problems:
        raise LlmError("bad_answer", "; ".join(problems))
    return questions

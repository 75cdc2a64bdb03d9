"""The curated question bank: questions by track, by skill, and for any track.

Loaded once from `server/data/question_bank.json` (shipped in the wheel).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from server.domain.questions.types import Category, Difficulty
from server.domain.tracks import slugify

BANK_PATH = Path(__file__).resolve().parents[2] / "data" / "question_bank.json"


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
    # Every question that reads as written (not the {skill} templates), by its exact text.
    by_text: dict[str, BankQuestion]

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
    behavioral = [_bank_question(q) for q in data["behavioral"]]
    generic = [_bank_question(q) for q in data["generic"]]
    skill_questions = {
        skill.casefold(): [_bank_question(q, skill) for q in questions]
        for skill, questions in data["skill_questions"].items()
    }
    by_text: dict[str, BankQuestion] = {}
    for pool in [*track_questions.values(), behavioral, generic, *skill_questions.values()]:
        for question in pool:
            by_text.setdefault(question.text, question)
    return QuestionBank(
        track_questions=track_questions,
        track_aliases=aliases,
        behavioral=behavioral,
        generic=generic,
        skill_questions=skill_questions,
        skill_templates=[_bank_question(q) for q in data["skill_templates"]],
        by_text=by_text,
    )

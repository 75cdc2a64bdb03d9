"""Questions drawn from the curated bank, tailored to the resume.

Deterministic for a given seed (the interview id), so a retry after a crash
produces the same set, while two interviews on one track draw different questions.
"""

from __future__ import annotations

import random

from server.domain.llm_fallback import OFFLINE
from server.domain.questions.bank import BankQuestion, QuestionBank, load_bank
from server.domain.questions.mix import category_mix
from server.domain.questions.types import (
    Category,
    Difficulty,
    Generated,
    GeneratedQuestion,
    GenerationRequest,
)

_ORDER = [Category.APPLIED, Category.TECHNICAL, Category.SYSTEM_DESIGN, Category.BEHAVIORAL]
_NEIGHBOURS: dict[Difficulty, list[Difficulty]] = {
    Difficulty.EASY: [Difficulty.MEDIUM],
    Difficulty.MEDIUM: [Difficulty.EASY, Difficulty.HARD],
    Difficulty.HARD: [Difficulty.MEDIUM, Difficulty.EXPERT],
    Difficulty.EXPERT: [Difficulty.HARD],
}


class OfflineQuestionGenerator:
    name = OFFLINE

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
            if skill in request.profile.role_skills:  # from the target role, not the resume
                text = text.replace("Your resume lists", "The role you are preparing for uses", 1)
            if text in used:
                continue
            used.add(text)
            picks.append(_generated(question, text, request.difficulty, topic=skill))
        return picks


def as_asked(question: BankQuestion, difficulty: Difficulty) -> GeneratedQuestion:
    """A bank question asked as written, in an interview of `difficulty`."""
    return _generated(question, question.text, difficulty)


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

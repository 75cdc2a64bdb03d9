"""How many questions of each category an interview gets.

The base mix depends on the difficulty; experience scales the share of system
design, and a resume turns part of the technical questions into questions about
the candidate's own skills ("applied").
"""

from __future__ import annotations

from server.domain.candidate import CandidateProfile
from server.domain.questions.types import Category, Difficulty

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

"""Scores: the content score from its sub-scores, and the overall score of an answer.

Content (the sub-scores are measured in `content/measures.py`, or by the model):

    score = weighted mean, rounded: coverage 0.35, relevance 0.30, depth 0.25, skills 0.10;
    behavioral: coverage 0.20, relevance 0.20, depth 0.20, skills 0.05, STAR 0.35.

When relevance is under 40, depth, skills and STAR count only in proportion
(relevance / 40): a long, well-structured answer about something else is not a
good answer. Skills: 0 resume skills named -> 0, 1 -> 60, 2 -> 85, 3 or more ->
100; a candidate without skills gets 50 (neutral: halfway between naming none
and naming several). STAR: situation 20 + task 20 + action 30 + result 30.

Overall: round(0.6 x content + 0.4 x delivery), as the API promises (60/40).

Findings: content first, then delivery, at most 4 strengths and 4 improvements,
each list keeping its own order (most important first). When both have more
than fit, delivery keeps up to 2 of the 4 places, so a serious delivery problem
is never crowded out by content findings (and the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.analysis.types import (
    ContentFeedback,
    DeliveryMetrics,
    Finding,
    StarAssessment,
)

# --- content ----------------------------------------------------------------------------

BEHAVIORAL = "behavioral"


@dataclass(frozen=True)
class Weights:
    coverage: float
    relevance: float
    depth: float
    skills: float
    star: float = 0.0


WEIGHTS = Weights(coverage=0.35, relevance=0.30, depth=0.25, skills=0.10)
BEHAVIORAL_WEIGHTS = Weights(coverage=0.20, relevance=0.20, depth=0.20, skills=0.05, star=0.35)
RELEVANCE_GATE = 40
NEUTRAL_SKILLS_SCORE = 50
SKILLS_SCORES = (0, 60, 85, 100)  # by number of resume skills mentioned (3+: the last)
STAR_POINTS = {"situation": 20, "task": 20, "action": 30, "result": 30}


def weights_for(category: str) -> Weights:
    return BEHAVIORAL_WEIGHTS if category == BEHAVIORAL else WEIGHTS


def content_score(
    category: str,
    *,
    coverage: int,
    relevance: int,
    depth: int,
    skills: int,
    star: int | None,
) -> int:
    """The overall content score from sub-scores (see the module docstring).

    `star` is ignored except for behavioral questions, where None counts as 0.
    """
    w = weights_for(category)
    gate = min(1.0, relevance / RELEVANCE_GATE)
    parts: list[tuple[float, float]] = [
        (w.coverage, coverage),
        (w.relevance, relevance),
        (w.depth, depth * gate),
        (w.skills, skills * gate),
    ]
    if category == BEHAVIORAL:
        parts.append((w.star, (star or 0) * gate))
    total_weight = sum(weight for weight, _ in parts)
    return clamp_score(sum(weight * value for weight, value in parts) / total_weight)


def skills_score(mentioned: int) -> int:
    return SKILLS_SCORES[min(mentioned, len(SKILLS_SCORES) - 1)]


def star_assessment(situation: bool, task: bool, action: bool, result: bool) -> StarAssessment:
    score = (
        STAR_POINTS["situation"] * situation
        + STAR_POINTS["task"] * task
        + STAR_POINTS["action"] * action
        + STAR_POINTS["result"] * result
    )
    return StarAssessment(situation, task, action, result, score)


def coverage_score(covered: int, total: int) -> int:
    return clamp_score(100 * covered / total) if total else 0


def clamp_score(value: float) -> int:
    return max(0, min(100, round(value)))


# --- overall ----------------------------------------------------------------------------

CONTENT_WEIGHT = 0.6
DELIVERY_WEIGHT = 0.4
MAX_FINDINGS = 4
DELIVERY_SHARE = 2


def overall_score(delivery: int, content: int) -> int:
    return max(0, min(100, round(CONTENT_WEIGHT * content + DELIVERY_WEIGHT * delivery)))


def merge_findings(content: list[Finding], delivery: list[Finding]) -> list[Finding]:
    """Content first; delivery keeps up to DELIVERY_SHARE places when both overflow."""
    from_delivery = min(len(delivery), DELIVERY_SHARE)
    from_content = min(len(content), MAX_FINDINGS - from_delivery)
    from_delivery = min(len(delivery), MAX_FINDINGS - from_content)
    return content[:from_content] + delivery[:from_delivery]


def combine(
    delivery: DeliveryMetrics, content: ContentFeedback
) -> tuple[int, list[Finding], list[Finding]]:
    """(overall score, strengths, improvements) of one answer."""
    return (
        overall_score(delivery.score, content.score),
        merge_findings(content.strengths, delivery.strengths),
        merge_findings(content.improvements, delivery.improvements),
    )

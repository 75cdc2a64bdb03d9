"""Retries compared: the latest answer to a question against the one before it and the first.

Only answered attempts count (an attempt opened but not answered is skipped), so
"previous" is the answer before the latest. Every metric of `metrics.py` gets its
three values, its changes and a plain sentence; concepts are compared as sets
(covered now and not in the previous answer, or the other way round). The summary
puts the concepts first, then the metrics that moved, the overall score first.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.analysis.metrics import (
    Direction,
    Metric,
    direction,
    number,
    sentence,
    value_of,
)
from server.domain.analysis.types import AnswerAnalysis


@dataclass(frozen=True)
class MetricChange:
    metric: Metric
    latest: float
    previous: float
    first: float
    direction: Direction  # latest against previous
    summary: str

    @property
    def change_from_previous(self) -> float:
        return self.latest - self.previous

    @property
    def change_from_first(self) -> float:
        return self.latest - self.first


@dataclass(frozen=True)
class Comparison:
    question_id: int
    question_text: str
    answered_attempts: int
    latest_attempt_id: int
    previous_attempt_id: int
    first_attempt_id: int
    changes: list[MetricChange]
    concepts_gained: list[str]
    concepts_dropped: list[str]
    summary: str


def compare(
    question_id: int, question_text: str, answered: list[tuple[int, AnswerAnalysis]]
) -> Comparison:
    """`answered`: (attempt id, its analysis) in the order the attempts were opened; two or
    more."""
    if len(answered) < 2:
        raise ValueError("a comparison needs two answered attempts")
    (first_id, first), (previous_id, previous), (latest_id, latest) = (
        answered[0],
        answered[-2],
        answered[-1],
    )
    changes = [_change(metric, first, previous, latest) for metric in Metric]
    covered_before = previous.content.covered_concepts
    covered_now = latest.content.covered_concepts
    gained = [c for c in covered_now if c not in covered_before]
    dropped = [c for c in covered_before if c not in covered_now]
    return Comparison(
        question_id=question_id,
        question_text=question_text,
        answered_attempts=len(answered),
        latest_attempt_id=latest_id,
        previous_attempt_id=previous_id,
        first_attempt_id=first_id,
        changes=changes,
        concepts_gained=gained,
        concepts_dropped=dropped,
        summary=_summary(changes, gained, dropped),
    )


def _change(
    metric: Metric, first: AnswerAnalysis, previous: AnswerAnalysis, latest: AnswerAnalysis
) -> MetricChange:
    values = [value_of(metric, analysis) for analysis in (first, previous, latest)]
    then, before, now = values
    text = sentence(metric, before, now)
    if then != before and metric in (Metric.OVERALL_SCORE, Metric.FILLERS_PER_MINUTE):
        unit = " a minute" if metric is Metric.FILLERS_PER_MINUTE else ""
        text += f" ({number(then)}{unit} on your first try)"
    return MetricChange(metric, now, before, then, direction(metric, before, now), text)


def _quoted(concepts: list[str]) -> str:
    named = [f"'{c}'" for c in concepts[:3]]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def _summary(changes: list[MetricChange], gained: list[str], dropped: list[str]) -> str:
    parts: list[str] = []
    if gained:
        parts.append(f"you covered {_quoted(gained)} this time")
    if dropped:
        parts.append(f"you left out {_quoted(dropped)}, which you covered last time")
    moved = [c.summary for c in changes if c.direction is not Direction.UNCHANGED]
    parts += moved
    if not moved:
        overall = next(c for c in changes if c.metric is Metric.OVERALL_SCORE)
        parts.append(f"about the same as last time, overall {number(overall.latest)}")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."

"""The measures that retries are compared on and progress is tracked by, and which way is
better for each. Plain data and arithmetic: no gRPC, no SQL.

Scores are better higher, fillers a minute and long pauses better lower, and words a
minute better closer to the good band (110 to 170): 100 and 180 are equally far off.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.domain.analysis.delivery_timing import FAST_ABOVE, SLOW_BELOW
from server.domain.analysis.types import AnswerAnalysis


class Metric(StrEnum):
    OVERALL_SCORE = "overall_score"
    CONTENT_SCORE = "content_score"
    DELIVERY_SCORE = "delivery_score"
    WORDS_PER_MINUTE = "words_per_minute"
    FILLERS_PER_MINUTE = "fillers_per_minute"
    LONG_PAUSES = "long_pauses"


class Direction(StrEnum):
    IMPROVED = "improved"
    WORSENED = "worsened"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class _Rule:
    label: str
    # A change in "goodness" smaller than this is no change (noise, rounding).
    threshold: float


RULES = {
    Metric.OVERALL_SCORE: _Rule("overall score", 1.0),
    Metric.CONTENT_SCORE: _Rule("content score", 1.0),
    Metric.DELIVERY_SCORE: _Rule("delivery score", 1.0),
    Metric.WORDS_PER_MINUTE: _Rule("pace", 5.0),
    Metric.FILLERS_PER_MINUTE: _Rule("fillers", 0.5),
    Metric.LONG_PAUSES: _Rule("long pauses", 1.0),
}
GOOD_PACE = f"{SLOW_BELOW:g}-{FAST_ABOVE:g} words a minute"


def value_of(metric: Metric, analysis: AnswerAnalysis) -> float:
    delivery = analysis.delivery
    values = {
        Metric.OVERALL_SCORE: float(analysis.overall_score),
        Metric.CONTENT_SCORE: float(analysis.content.score),
        Metric.DELIVERY_SCORE: float(delivery.score),
        Metric.WORDS_PER_MINUTE: delivery.words_per_minute,
        Metric.FILLERS_PER_MINUTE: delivery.fillers_per_minute,
        Metric.LONG_PAUSES: float(len(delivery.long_pauses)),
    }
    return values[metric]


def goodness(metric: Metric, value: float) -> float:
    """Higher is better, in the metric's own units."""
    if metric is Metric.WORDS_PER_MINUTE:
        return -max(SLOW_BELOW - value, value - FAST_ABOVE, 0.0)
    if metric in (Metric.FILLERS_PER_MINUTE, Metric.LONG_PAUSES):
        return -value
    return value


def direction(metric: Metric, before: float, after: float) -> Direction:
    change = goodness(metric, after) - goodness(metric, before)
    if abs(change) < RULES[metric].threshold:
        return Direction.UNCHANGED
    return Direction.IMPROVED if change > 0 else Direction.WORSENED


def number(value: float) -> str:
    """9 for 9.0, 3.4 for 3.41: how a person says a measure."""
    rounded = round(value, 1)
    return f"{rounded:g}" if rounded != int(rounded) else str(int(rounded))


def sentence(metric: Metric, before: float, after: float) -> str:
    """What changed, in words: "fillers fell from 9 to 3 a minute"."""
    way = direction(metric, before, after)
    a, b = number(before), number(after)
    if metric is Metric.WORDS_PER_MINUTE:
        if way is Direction.UNCHANGED:
            return f"pace stayed near {b} words a minute"
        closer = "closer to" if way is Direction.IMPROVED else "further from"
        return f"pace went from {a} to {b} words a minute, {closer} {GOOD_PACE}"
    label = RULES[metric].label
    unit = " a minute" if metric is Metric.FILLERS_PER_MINUTE else ""
    if way is Direction.UNCHANGED and round(before, 1) == round(after, 1):
        return f"{label} held at {b}{unit}"
    verb = "rose" if after > before else "fell"
    if way is Direction.UNCHANGED:
        return f"{label} barely moved ({a} to {b}{unit})"
    return f"{label} {verb} from {a} to {b}{unit}"

"""Progress over weeks: one point per completed interview, the trend, what keeps being
missed, and the practice streak. Plain arithmetic: no gRPC, no SQL.

- A point is a completed interview with at least one answer: its report's mean scores,
  and the mean words a minute, fillers a minute and long pauses of its answers.
- The trend needs `MIN_POINTS_FOR_TREND` points; with fewer, it says so instead of
  drawing a line through two. With enough, it is the least-squares slope of the
  metric's "goodness" (metrics.py: higher scores, fewer fillers, a pace nearer
  110-170) over the points in order, times the span: a change of less than twice the
  metric's noise threshold over the whole span is steady.
- Missed concepts: how many interviews left each concept out (in their answers'
  latest attempts), most often first.
- Streak: days (UTC) with at least one answer transcribed. The current streak counts
  back from today, or from yesterday when today has no answer yet (it is not broken
  until a whole day passes); across every track.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise

from server.domain.analysis.metrics import RULES, Metric, goodness, number, value_of
from server.domain.analysis.report import InterviewReport

MIN_POINTS_FOR_TREND = 3
MAX_MISSED_CONCEPTS = 5


class Trend(StrEnum):
    NOT_ENOUGH_DATA = "not_enough_data"
    IMPROVING = "improving"
    WORSENING = "worsening"
    STEADY = "steady"


@dataclass(frozen=True)
class CompletedInterview:
    interview_id: int
    track: str
    completed_at: datetime
    report: InterviewReport


@dataclass(frozen=True)
class Point:
    interview_id: int
    track: str
    completed_at: datetime
    value: float


@dataclass(frozen=True)
class MetricProgress:
    metric: Metric
    points: list[Point]
    trend: Trend
    summary: str


@dataclass(frozen=True)
class Streak:
    current_days: int
    longest_days: int
    practice_days: int
    last_practice: datetime | None


@dataclass(frozen=True)
class Progress:
    track: str
    completed_interviews: int
    metrics: list[MetricProgress]
    missed_concepts: list[tuple[str, int]]
    streak: Streak
    summary: str


def build_progress(
    track: str,
    interviews: Sequence[CompletedInterview],
    practice_times: Sequence[datetime],
    today: date,
) -> Progress:
    """`interviews` in the order they were completed. CPU grows with the reports: run it
    off the event loop."""
    answered = [i for i in interviews if i.report.answered_count > 0]
    metrics = [_metric_progress(metric, answered) for metric in Metric]
    missed = Counter(
        concept
        for interview in answered
        for concept in {
            c
            for q in interview.report.questions
            if q.analysis is not None
            for c in q.analysis.content.missing_concepts
        }
    )
    return Progress(
        track=track,
        completed_interviews=len(answered),
        metrics=metrics,
        missed_concepts=sorted(missed.items(), key=lambda kv: (-kv[1], kv[0]))[
            :MAX_MISSED_CONCEPTS
        ],
        streak=streak(practice_times, today),
        summary=_summary(len(answered), metrics),
    )


def _value(metric: Metric, report: InterviewReport) -> float:
    if metric is Metric.OVERALL_SCORE:
        return float(report.overall_score)
    if metric is Metric.CONTENT_SCORE:
        return float(report.content_score)
    if metric is Metric.DELIVERY_SCORE:
        return float(report.delivery_score)
    values = [value_of(metric, q.analysis) for q in report.questions if q.analysis is not None]
    return round(sum(values) / len(values), 1)


def _metric_progress(metric: Metric, interviews: Sequence[CompletedInterview]) -> MetricProgress:
    points = [
        Point(i.interview_id, i.track, i.completed_at, _value(metric, i.report)) for i in interviews
    ]
    label = RULES[metric].label
    if len(points) < MIN_POINTS_FOR_TREND:
        have = f"{len(points)} completed interview{'' if len(points) == 1 else 's'}"
        return MetricProgress(
            metric,
            points,
            Trend.NOT_ENOUGH_DATA,
            f"{label}: a trend needs {MIN_POINTS_FOR_TREND} completed interviews; you have {have}",
        )
    change = _slope([goodness(metric, p.value) for p in points]) * (len(points) - 1)
    first, latest = number(points[0].value), number(points[-1].value)
    span = f"from {first} to {latest} over {len(points)} interviews"
    if abs(change) < 2 * RULES[metric].threshold:
        return MetricProgress(metric, points, Trend.STEADY, f"{label}: steady, {span}")
    trend = Trend.IMPROVING if change > 0 else Trend.WORSENING
    return MetricProgress(metric, points, trend, f"{label}: {trend.value}, {span}")


def _slope(values: Sequence[float]) -> float:
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    den = sum((x - mean_x) ** 2 for x in range(n))
    return num / den


def streak(practice_times: Sequence[datetime], today: date) -> Streak:
    days = sorted({t.date() for t in practice_times})
    if not days:
        return Streak(0, 0, 0, None)
    longest = run = 1
    for before, after in pairwise(days):
        run = run + 1 if after - before == timedelta(days=1) else 1
        longest = max(longest, run)
    current = 0
    if days[-1] >= today - timedelta(days=1):
        current, cursor = 1, days[-1]
        for day in reversed(days[:-1]):
            if cursor - day != timedelta(days=1):
                break
            current, cursor = current + 1, day
    return Streak(current, longest, len(days), max(practice_times))


def _summary(count: int, metrics: list[MetricProgress]) -> str:
    if count < MIN_POINTS_FOR_TREND:
        return (
            f"{count} completed interview{'' if count == 1 else 's'} with answers so far; "
            f"complete {MIN_POINTS_FOR_TREND - count} more to see a trend."
        )
    moving = [m.summary for m in metrics if m.trend in (Trend.IMPROVING, Trend.WORSENING)]
    if not moving:
        return f"Steady across {count} interviews: no metric moved beyond its noise."
    return "; ".join(moving)[0].upper() + "; ".join(moving)[1:] + "."

"""Translation between the domain's practice values (comparisons, progress) and protobuf."""

from __future__ import annotations

from typing import Any

from generated.samvaad.v1 import practice_pb2
from server.api.converters import named_value, timestamp
from server.domain.analysis.compare import Comparison
from server.domain.analysis.metrics import Metric
from server.domain.analysis.progress import Progress


def metric(value: Metric) -> Any:
    return named_value(practice_pb2.Metric, "METRIC", value.value)


def comparison(result: Comparison) -> practice_pb2.CompareAttemptsResponse:
    return practice_pb2.CompareAttemptsResponse(
        question_id=result.question_id,
        question_text=result.question_text,
        answered_attempt_count=result.answered_attempts,
        latest_question_attempt_id=result.latest_attempt_id,
        previous_question_attempt_id=result.previous_attempt_id,
        first_question_attempt_id=result.first_attempt_id,
        changes=[
            practice_pb2.MetricChange(
                metric=metric(c.metric),
                latest=c.latest,
                previous=c.previous,
                first=c.first,
                change_from_previous=c.change_from_previous,
                change_from_first=c.change_from_first,
                direction=named_value(
                    practice_pb2.ChangeDirection, "CHANGE_DIRECTION", c.direction.value
                ),
                summary=c.summary,
            )
            for c in result.changes
        ],
        concepts_gained=result.concepts_gained,
        concepts_dropped=result.concepts_dropped,
        summary=result.summary,
    )


def progress(result: Progress) -> practice_pb2.GetProgressResponse:
    streak = result.streak
    return practice_pb2.GetProgressResponse(
        track=result.track,
        completed_interview_count=result.completed_interviews,
        metrics=[
            practice_pb2.MetricProgress(
                metric=metric(m.metric),
                points=[
                    practice_pb2.ProgressPoint(
                        interview_id=p.interview_id,
                        track=p.track,
                        complete_time=timestamp(p.completed_at),
                        value=p.value,
                    )
                    for p in m.points
                ],
                trend=named_value(practice_pb2.Trend, "TREND", m.trend.value),
                summary=m.summary,
            )
            for m in result.metrics
        ],
        missed_concepts=[
            practice_pb2.MissedConcept(concept=concept, interview_count=count)
            for concept, count in result.missed_concepts
        ],
        streak=practice_pb2.PracticeStreak(
            current_days=streak.current_days,
            longest_days=streak.longest_days,
            practice_days=streak.practice_days,
            last_practice_time=timestamp(streak.last_practice),
        ),
        summary=result.summary,
    )

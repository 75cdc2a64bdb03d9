"""GetProgress: metrics over completed interviews, honest with little data; the streak."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from generated.samvaad.v1 import analysis_pb2 as apb
from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import practice_pb2 as ppb
from server.domain.analysis.metrics import Metric
from server.domain.analysis.progress import Trend, _metric_progress, streak
from tests.fake_openai import FakeOpenAI
from tests.helpers import RunningServer, register
from tests.test_analysis_service import (
    _concepts,
    lay_out,
    offline_content,
    on_topic,
    start_flow,
    upload,
    via_fake,
)

__all__ = ["via_fake"]

TODAY = date(2026, 12, 8)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days_ago", "current", "longest"),
    [
        ([], 0, 0),
        ([0], 1, 1),
        ([1], 1, 1),  # yesterday's practice still counts until today is over
        ([2], 0, 1),
        ([0, 1, 2, 4, 5], 3, 3),
        ([1, 2, 3, 4, 10, 11], 4, 4),
        ([3, 4, 5, 6, 7, 0], 1, 5),
    ],
)
def test_the_streak_counts_days_in_a_row(days_ago: list[int], current: int, longest: int) -> None:
    times = [at(TODAY - timedelta(days=d), hour) for d in days_ago for hour in (9, 18)]
    found = streak(times, TODAY)
    assert (found.current_days, found.longest_days) == (current, longest)
    assert found.practice_days == len(set(days_ago))
    assert found.last_practice == (max(times) if times else None)


async def test_progress_is_honest_with_one_interview_and_filters_by_track(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=2)
    md = flow.account.metadata

    empty = await flow.analysis.GetProgress(ppb.GetProgressRequest(), metadata=md)
    assert empty.completed_interview_count == 0
    assert [m.metric for m in empty.metrics] == list(range(1, 7))
    assert all(m.trend == ppb.TREND_NOT_ENOUGH_DATA and not m.points for m in empty.metrics)
    assert "complete 3 more to see a trend" in empty.summary
    assert empty.streak.current_days == 0 and not empty.streak.HasField("last_practice_time")

    concepts = await _concepts(flow, 0)
    await upload(
        flow, fake_openai, flow.attempts[0], lay_out(on_topic(flow.questions[0], concepts[:1]), 140)
    )
    await via_fake.stubs.interview.CompleteInterview(
        ipb.CompleteInterviewRequest(interview_id=flow.interview_id), metadata=md
    )
    progress = await flow.analysis.GetProgress(
        ppb.GetProgressRequest(track="Data Science"), metadata=md
    )
    report = (
        await flow.analysis.GetInterviewReport(
            apb.GetInterviewReportRequest(interview_id=flow.interview_id), metadata=md
        )
    ).report
    assert progress.track == "data_science"
    assert progress.completed_interview_count == 1
    overall = progress.metrics[0]
    assert overall.metric == ppb.METRIC_OVERALL_SCORE
    assert [(p.interview_id, p.value) for p in overall.points] == [
        (flow.interview_id, report.overall_score)
    ]
    assert overall.trend == ppb.TREND_NOT_ENOUGH_DATA
    assert "a trend needs 3 completed interviews; you have 1 completed interview" in (
        overall.summary
    )
    assert "complete 2 more" in progress.summary
    missed = {m.concept: m.interview_count for m in progress.missed_concepts}
    assert set(missed) <= set(concepts[1:]) and set(missed.values()) == {1}
    assert progress.streak.current_days == 1
    assert progress.streak.practice_days == 1

    other_track = await flow.analysis.GetProgress(
        ppb.GetProgressRequest(track="backend"), metadata=md
    )
    assert other_track.completed_interview_count == 0
    assert other_track.streak.current_days == 1  # practice is practice, on any track
    stranger = await register(via_fake.stubs)
    theirs = await flow.analysis.GetProgress(ppb.GetProgressRequest(), metadata=stranger.metadata)
    assert theirs.completed_interview_count == 0
    assert theirs.streak.practice_days == 0


def test_a_trend_needs_three_points_and_moves_beyond_noise() -> None:
    from server.domain.analysis.progress import CompletedInterview
    from server.domain.analysis.report import InterviewReport

    def interview(n: int, overall: int) -> CompletedInterview:
        report = InterviewReport(n, 1, 1, overall, overall, overall, [], [], [], [])
        return CompletedInterview(n, "backend", at(TODAY), report)

    two = _metric_progress(Metric.OVERALL_SCORE, [interview(1, 50), interview(2, 90)])
    assert two.trend is Trend.NOT_ENOUGH_DATA
    rising = [interview(1, 50), interview(2, 58), interview(3, 71)]
    assert _metric_progress(Metric.OVERALL_SCORE, rising).trend is Trend.IMPROVING
    assert "improving, from 50 to 71 over 3 interviews" in (
        _metric_progress(Metric.OVERALL_SCORE, rising).summary
    )
    flat = [interview(1, 70), interview(2, 71), interview(3, 70)]
    assert _metric_progress(Metric.OVERALL_SCORE, flat).trend is Trend.STEADY
    falling = [interview(1, 80), interview(2, 60), interview(3, 65)]
    assert _metric_progress(Metric.OVERALL_SCORE, falling).trend is Trend.WORSENING

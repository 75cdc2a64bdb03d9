"""A candidate practises three interviews with retries; what comparisons and progress say
must be what the numbers say.

Answers are "spoken" by the fake OpenAI transcription engine, so each carries exactly
the words and timings laid out here; content is judged offline against the questions
the server really asked. The candidate gets better from one interview to the next
(fewer fillers, fewer long pauses, a steadier pace, more of each question's concepts),
and retries the first question of each interview with a better answer.
"""

from __future__ import annotations

import pytest

from generated.samvaad.v1 import analysis_pb2 as apb
from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import practice_pb2 as ppb
from server.domain.analysis.metrics import RULES, Metric, number
from tests.fake_openai import FakeOpenAI
from tests.helpers import RunningServer
from tests.test_analysis_service import (
    Flow,
    _concepts,
    analyse,
    filler_heavy,
    lay_out,
    offline_content,
    on_topic,
    start_flow,
    upload,
)
from tests.test_analysis_service import via_fake as via_fake
from tests.test_compare_attempts import compare, retry

__all__ = ["via_fake"]

METRICS = {
    ppb.METRIC_OVERALL_SCORE: "overall_score",
    ppb.METRIC_FILLERS_PER_MINUTE: "fillers_per_minute",
    ppb.METRIC_LONG_PAUSES: "long_pauses",
}


def answer(
    level: int, question: ipb.Question, concepts: list[str]
) -> list[tuple[str, float, float]]:
    """Level 0 halting and thin, 1 better, 2 fluent and complete; 3 is a retry's best."""
    if level == 0:
        pauses = {4: 3.5, 12: 3.0, 20: 2.8, 28: 3.2, 36: 2.6}
        return lay_out(filler_heavy(question, concepts[:1]), 85, pauses=pauses)
    if level == 1:
        return lay_out(on_topic(question, concepts[:2]), 120, pauses={9: 2.6})
    return lay_out(on_topic(question, concepts), 145)


def value(metric: int, analysis: apb.AnswerAnalysis) -> float:
    if metric == ppb.METRIC_OVERALL_SCORE:
        return analysis.overall_score
    if metric == ppb.METRIC_FILLERS_PER_MINUTE:
        return analysis.delivery.fillers_per_minute
    return len(analysis.delivery.long_pauses)


def check_comparison(
    reply: ppb.CompareAttemptsResponse, before: apb.AnswerAnalysis, after: apb.AnswerAnalysis
) -> None:
    """Each number and sentence of a comparison against the two analyses."""
    changes = {c.metric: c for c in reply.changes}
    for metric in METRICS:
        change = changes[metric]
        was, now = value(metric, before), value(metric, after)
        assert change.previous == pytest.approx(was)
        assert change.latest == pytest.approx(now)
        better = now > was if metric == ppb.METRIC_OVERALL_SCORE else now < was
        worse = now < was if metric == ppb.METRIC_OVERALL_SCORE else now > was
        if change.direction == ppb.CHANGE_DIRECTION_IMPROVED:
            assert better, change
        elif change.direction == ppb.CHANGE_DIRECTION_WORSENED:
            assert worse, change
        if change.direction != ppb.CHANGE_DIRECTION_UNCHANGED:
            verb = "rose" if now > was else "fell"
            assert f"{verb} from {number(was)} to {number(now)}" in change.summary
            assert change.summary in reply.summary
    gained = [c for c in after.content.covered_concepts if c not in before.content.covered_concepts]
    dropped = [
        c for c in before.content.covered_concepts if c not in after.content.covered_concepts
    ]
    assert (list(reply.concepts_gained), list(reply.concepts_dropped)) == (gained, dropped)
    if gained:
        assert reply.summary.startswith(f"You covered '{gained[0]}'")


async def play_interview(
    server: RunningServer, fake: FakeOpenAI, flow: Flow | None, level: int
) -> tuple[Flow, apb.InterviewReport]:
    if flow is None:
        flow = await start_flow(server, count=2)
    else:  # the same candidate, a new interview
        stubs = server.stubs
        created = await stubs.interview.CreateInterview(
            ipb.CreateInterviewRequest(track="data_science", difficulty=ipb.DIFFICULTY_MEDIUM),
            metadata=flow.account.metadata,
        )
        generated = await stubs.interview.GenerateQuestions(
            ipb.GenerateQuestionsRequest(interview_id=created.interview.id, count=2),
            metadata=flow.account.metadata,
        )
        flow = Flow(
            server,
            flow.account,
            created.interview.id,
            list(generated.questions),
            [a.id for a in generated.question_attempts],
        )
    for index, attempt_id in enumerate(flow.attempts):
        concepts = await _concepts(flow, index)
        await upload(flow, fake, attempt_id, answer(level, flow.questions[index], concepts))
    if level == 1:  # a follow-up on the second answer, answered, counts like any question
        written = await server.stubs.interview.CreateFollowUpQuestion(
            ipb.CreateFollowUpQuestionRequest(question_attempt_id=flow.attempts[1]),
            metadata=flow.account.metadata,
        )
        follow_up = written.question
        await upload(
            flow,
            fake,
            written.question_attempt.id,
            answer(level, follow_up, list(await _concepts_of(flow, follow_up.id))),
        )
        # Retry the first question with the best answer, and compare.
    first_question = flow.questions[0]
    concepts = await _concepts(flow, 0)
    again = await retry(flow, first_question.id)
    await upload(flow, fake, again, answer(2, first_question, concepts))
    reply = await compare(flow, first_question.id)
    before, after = await analyse(flow, flow.attempts[0]), await analyse(flow, again)
    assert reply.answered_attempt_count == 2
    check_comparison(reply, before, after)
    if level < 2:
        assert after.overall_score > before.overall_score
        assert reply.summary.count(";") >= 1

    report = (
        await flow.analysis.GetInterviewReport(
            apb.GetInterviewReportRequest(interview_id=flow.interview_id),
            metadata=flow.account.metadata,
        )
    ).report
    assert (report.question_count, report.answered_count) == ((3, 3) if level == 1 else (2, 2))
    await server.stubs.interview.CompleteInterview(
        ipb.CompleteInterviewRequest(interview_id=flow.interview_id),
        metadata=flow.account.metadata,
    )
    return flow, report


async def _concepts_of(flow: Flow, question_id: int) -> list[str]:
    from server.db.models import Question

    async with flow.server.app.database.transaction() as uow:
        question = await uow.session.get(Question, question_id)
        assert question is not None
        return list(question.concepts)


def slope(values: list[float]) -> float:
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    top = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    return top / sum((x - mean_x) ** 2 for x in range(n))


async def test_three_interviews_with_retries_progress_and_comparisons_tell_the_truth(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    reports: list[apb.InterviewReport] = []
    flow: Flow | None = None
    for level in range(3):
        flow, report = await play_interview(via_fake, fake_openai, flow, level)
        reports.append(report)
        progress = await flow.analysis.GetProgress(
            ppb.GetProgressRequest(), metadata=flow.account.metadata
        )
        assert progress.completed_interview_count == level + 1
        if level < 2:  # honest with little data: no trend from one or two points
            assert all(m.trend == ppb.TREND_NOT_ENOUGH_DATA for m in progress.metrics)
            assert f"complete {2 - level} more to see a trend" in progress.summary
    assert flow is not None

    overall = [r.overall_score for r in reports]
    assert overall[0] < overall[1] < overall[2], overall
    metrics = {m.metric: m for m in progress.metrics}
    points = metrics[ppb.METRIC_OVERALL_SCORE].points
    assert [p.interview_id for p in points] == [r.interview_id for r in reports]
    assert [p.value for p in points] == overall
    assert [p.complete_time.ToDatetime() for p in points] == sorted(
        p.complete_time.ToDatetime() for p in points
    )
    assert metrics[ppb.METRIC_CONTENT_SCORE].points[-1].value == reports[-1].content_score
    assert metrics[ppb.METRIC_DELIVERY_SCORE].points[0].value == reports[0].delivery_score
    for metric, higher_is_better in [
        (ppb.METRIC_OVERALL_SCORE, True),
        (ppb.METRIC_DELIVERY_SCORE, True),
        (ppb.METRIC_FILLERS_PER_MINUTE, False),
        (ppb.METRIC_LONG_PAUSES, False),
    ]:
        series = metrics[metric]
        values = [p.value for p in series.points]
        # What the numbers say: the line's rise over the span against twice the noise.
        noise = RULES[Metric(ppb.Metric.Name(metric).removeprefix("METRIC_").lower())].threshold
        rise = slope(values) * (len(values) - 1) * (1 if higher_is_better else -1)
        said = (
            ppb.TREND_STEADY
            if abs(rise) < 2 * noise
            else ppb.TREND_IMPROVING
            if rise > 0
            else ppb.TREND_WORSENING
        )
        assert series.trend == said, (metric, values, series.summary)
        # The report's questions' latest answers, averaged: what each point must be.
        if metric == ppb.METRIC_FILLERS_PER_MINUTE:
            expected = [
                round(
                    sum(q.analysis.delivery.fillers_per_minute for q in r.questions if q.answered)
                    / r.answered_count,
                    1,
                )
                for r in reports
            ]
            assert values == expected
        gain = slope(values) * (len(values) - 1) * (1 if higher_is_better else -1)
        assert gain > 0, (metric, values)
        assert series.trend == ppb.TREND_IMPROVING, (metric, values, series.summary)
        assert f"from {number(values[0])} to {number(values[-1])} over 3 interviews" in (
            series.summary
        )
    assert progress.summary.startswith(
        f"Overall score: improving, from {overall[0]} to {overall[2]}"
    )

    # Missed concepts: how many interviews' latest answers left each out.
    counted: dict[str, int] = {}
    for report in reports:
        missing = {
            c for q in report.questions if q.answered for c in q.analysis.content.missing_concepts
        }
        for concept in missing:
            counted[concept] = counted.get(concept, 0) + 1
    top = sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [(m.concept, m.interview_count) for m in progress.missed_concepts] == top
    assert progress.streak.current_days == 1
    assert progress.streak.practice_days == 1

    # The history lists the three, newest first, with the scores of their reports.
    history = await via_fake.stubs.interview.ListInterviews(
        ipb.ListInterviewsRequest(status=ipb.INTERVIEW_STATUS_COMPLETED),
        metadata=flow.account.metadata,
    )
    assert [(i.id, i.overall_score) for i in history.interviews] == [
        (r.interview_id, r.overall_score) for r in reversed(reports)
    ]

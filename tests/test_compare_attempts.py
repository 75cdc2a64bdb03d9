"""CompareAttempts end to end: retries of one question, compared metric by metric."""

from __future__ import annotations

import grpc
import pytest

from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import practice_pb2 as ppb
from server.domain.analysis.metrics import Direction, Metric, direction, sentence
from tests.fake_openai import FakeOpenAI
from tests.helpers import RunningServer, expect_status, reason, register, violated_fields
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
    via_fake,
)

__all__ = ["via_fake"]


async def retry(flow: Flow, question_id: int) -> int:
    reply = await flow.server.stubs.interview.CreateQuestionAttempt(
        ipb.CreateQuestionAttemptRequest(question_id=question_id), metadata=flow.account.metadata
    )
    return reply.question_attempt.id


async def compare(flow: Flow, question_id: int) -> ppb.CompareAttemptsResponse:
    return await flow.analysis.CompareAttempts(
        ppb.CompareAttemptsRequest(question_id=question_id), metadata=flow.account.metadata
    )


def by_metric(reply: ppb.CompareAttemptsResponse) -> dict[int, ppb.MetricChange]:
    return {change.metric: change for change in reply.changes}


async def test_a_better_retry_says_what_changed_in_numbers_and_words(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=1)
    question = flow.questions[0]
    concepts = await _concepts(flow, 0)
    first_words = lay_out(filler_heavy(question, concepts[:1]), wpm=150)
    await upload(flow, fake_openai, flow.attempts[0], first_words)
    error = await expect_status(compare(flow, question.id), grpc.StatusCode.FAILED_PRECONDITION)
    assert reason(error) == "NOT_ENOUGH_ATTEMPTS"

    second = await retry(flow, question.id)
    await upload(flow, fake_openai, second, lay_out(on_topic(question, concepts), wpm=145))
    await retry(flow, question.id)  # opened, never answered: skipped
    reply = await compare(flow, question.id)
    before, after = await analyse(flow, flow.attempts[0]), await analyse(flow, second)

    assert reply.answered_attempt_count == 2
    assert (reply.first_question_attempt_id, reply.previous_question_attempt_id) == (
        flow.attempts[0],
        flow.attempts[0],
    )
    assert reply.latest_question_attempt_id == second
    changes = by_metric(reply)
    assert len(changes) == 6
    overall = changes[ppb.METRIC_OVERALL_SCORE]
    assert (overall.previous, overall.latest) == (before.overall_score, after.overall_score)
    assert overall.change_from_previous == after.overall_score - before.overall_score > 0
    assert overall.direction == ppb.CHANGE_DIRECTION_IMPROVED
    fillers = changes[ppb.METRIC_FILLERS_PER_MINUTE]
    assert fillers.previous == pytest.approx(before.delivery.fillers_per_minute)
    assert fillers.latest == pytest.approx(after.delivery.fillers_per_minute)
    assert fillers.direction == ppb.CHANGE_DIRECTION_IMPROVED
    assert fillers.summary.startswith("fillers fell from")
    assert changes[ppb.METRIC_CONTENT_SCORE].latest == after.content.score
    assert changes[ppb.METRIC_DELIVERY_SCORE].latest == after.delivery.score

    gained = [c for c in after.content.covered_concepts if c not in before.content.covered_concepts]
    assert gained and list(reply.concepts_gained) == gained
    assert list(reply.concepts_dropped) == []
    assert reply.summary.startswith(f"You covered '{gained[0]}'")
    assert "fillers fell from" in reply.summary
    assert "overall score rose from" in reply.summary

    # A third answer, worse again: compared with the second, and with the first too.
    third = await retry(flow, question.id)
    await upload(flow, fake_openai, third, lay_out(filler_heavy(question, []), wpm=150))
    again = await compare(flow, question.id)
    assert again.answered_attempt_count == 3
    assert again.previous_question_attempt_id == second
    assert again.first_question_attempt_id == flow.attempts[0]
    overall = by_metric(again)[ppb.METRIC_OVERALL_SCORE]
    latest = await analyse(flow, third)
    assert overall.previous == after.overall_score
    assert overall.first == before.overall_score
    assert overall.change_from_first == latest.overall_score - before.overall_score
    assert overall.direction == ppb.CHANGE_DIRECTION_WORSENED
    assert set(again.concepts_dropped) >= set(gained)
    assert "which you covered last time" in again.summary


async def test_compare_attempts_is_guarded(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=1)
    error = await expect_status(compare(flow, 0), grpc.StatusCode.INVALID_ARGUMENT)
    assert violated_fields(error) == {"question_id"}
    error = await expect_status(
        compare(flow, flow.questions[0].id), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert "0 answered attempts" in error.details()
    intruder = await register(via_fake.stubs)
    await expect_status(
        flow.analysis.CompareAttempts(
            ppb.CompareAttemptsRequest(question_id=flow.questions[0].id),
            metadata=intruder.metadata,
        ),
        grpc.StatusCode.NOT_FOUND,
    )


@pytest.mark.parametrize(
    ("metric", "before", "after", "expected", "words"),
    [
        (Metric.FILLERS_PER_MINUTE, 9.0, 3.0, Direction.IMPROVED, "fell from 9 to 3 a minute"),
        (Metric.WORDS_PER_MINUTE, 85, 140, Direction.IMPROVED, "closer to 110-170"),
        (Metric.WORDS_PER_MINUTE, 100, 180, Direction.UNCHANGED, "pace stayed near 180"),
        (Metric.WORDS_PER_MINUTE, 150, 200, Direction.WORSENED, "further from 110-170"),
        (Metric.LONG_PAUSES, 0, 2, Direction.WORSENED, "long pauses rose from 0 to 2"),
        (Metric.OVERALL_SCORE, 70, 70, Direction.UNCHANGED, "overall score held at 70"),
    ],
)  # fmt: skip
def test_which_way_is_better_for_each_metric(
    metric: Metric, before: float, after: float, expected: Direction, words: str
) -> None:
    assert direction(metric, before, after) is expected
    assert words in sentence(metric, before, after)

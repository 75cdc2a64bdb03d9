"""The completed report: rubric, time spent, and the one practice to do next."""

from __future__ import annotations

import pytest

from generated.samvaad.v1 import analysis_pb2 as apb
from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import transcription_pb2 as tpb
from server.domain.analysis.rubric import next_practice
from tests.fake_openai import FakeOpenAI
from tests.helpers import RunningServer
from tests.test_analysis_service import (
    _concepts,
    filler_heavy,
    lay_out,
    offline_content,
    on_topic,
    start_flow,
    upload,
    via_fake,
)

__all__ = ["via_fake"]

CRITERIA = [
    apb.RUBRIC_CRITERION_CORRECTNESS,
    apb.RUBRIC_CRITERION_DEPTH,
    apb.RUBRIC_CRITERION_RELEVANCE,
    apb.RUBRIC_CRITERION_EXAMPLES,
    apb.RUBRIC_CRITERION_TERMINOLOGY,
    apb.RUBRIC_CRITERION_PACE,
    apb.RUBRIC_CRITERION_PAUSES,
    apb.RUBRIC_CRITERION_FILLERS,
    apb.RUBRIC_CRITERION_CLARITY,
]


async def test_the_report_breaks_scores_down_times_answers_and_recommends_a_practice(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=3)
    md = flow.account.metadata
    q = flow.questions
    good = lay_out(on_topic(q[0], await _concepts(flow, 0)), wpm=145)
    halting = lay_out(filler_heavy(q[1], []), wpm=80, pauses={5: 4.0, 15: 3.5})
    await upload(flow, fake_openai, flow.attempts[0], good)
    # The second question is answered twice: the first try counts in the recorded time.
    await upload(flow, fake_openai, flow.attempts[1], halting)
    retry = await via_fake.stubs.interview.CreateQuestionAttempt(
        ipb.CreateQuestionAttemptRequest(question_id=q[1].id), metadata=md
    )
    await upload(flow, fake_openai, retry.question_attempt.id, halting)

    report = (
        await flow.analysis.GetInterviewReport(
            apb.GetInterviewReportRequest(interview_id=flow.interview_id), metadata=md
        )
    ).report
    rubric = {r.criterion: r for r in report.rubric}
    assert [r.criterion for r in report.rubric] == CRITERIA
    assert {r.area for r in report.rubric[:5]} == {apb.RUBRIC_AREA_CONTENT}
    assert {r.area for r in report.rubric[5:]} == {apb.RUBRIC_AREA_DELIVERY}
    first, second = report.questions[0].analysis, report.questions[1].analysis
    assert rubric[apb.RUBRIC_CRITERION_CORRECTNESS].score == round(
        (first.content.coverage_score + second.content.coverage_score) / 2
    )

    def pace(wpm: float) -> float:  # 0.75 points a word a minute outside 110-170, at most 30
        return 100 * (1 - min(30.0, 0.75 * max(110 - wpm, wpm - 170, 0)) / 30)

    paces = [pace(a.delivery.words_per_minute) for a in (first, second)]
    assert paces[0] == 100 > paces[1]
    assert rubric[apb.RUBRIC_CRITERION_PACE].score == round(sum(round(p) for p in paces) / 2)
    assert rubric[apb.RUBRIC_CRITERION_FILLERS].score < 100
    assert rubric[apb.RUBRIC_CRITERION_PAUSES].score < 100
    probabilities, durations = [], []
    for attempt_id in (flow.attempts[0], retry.question_attempt.id):
        stored = await via_fake.stubs.transcription.GetTranscription(
            tpb.GetTranscriptionRequest(question_attempt_id=attempt_id), metadata=md
        )
        words = stored.transcription.words
        probabilities.append(100 * sum(w.probability for w in words) / len(words))
        # The recording's own length (the same file is sent each time; the fake engine
        # only decides the words).
        durations.append(stored.transcription.duration.ToTimedelta().total_seconds())
    assert rubric[apb.RUBRIC_CRITERION_CLARITY].score == round(sum(probabilities) / 2)

    answered = [r.answer_duration.ToTimedelta().total_seconds() for r in report.questions[:2]]
    assert answered == pytest.approx(durations, abs=0.01)
    assert not report.questions[2].HasField("answer_duration")
    total = report.total_answer_duration.ToTimedelta().total_seconds()
    assert total == pytest.approx(sum(durations), abs=0.01)
    recorded = report.total_recorded_duration.ToTimedelta().total_seconds()
    assert recorded == pytest.approx(sum(durations) + durations[1], abs=0.01)

    practice = report.next_practice
    assert practice.track == "data_science"
    assert second.overall_score < 70
    assert q[1].id in practice.question_ids
    assert 2 in practice.question_positions
    assert practice.difficulty in (ipb.DIFFICULTY_EASY, ipb.DIFFICULTY_MEDIUM)
    assert "retry question" in practice.reason


@pytest.mark.parametrize(
    ("difficulty", "scores", "level", "retry"),
    [
        ("medium", [(1, 1, 85), (2, 2, 90)], "hard", []),
        ("expert", [(1, 1, 85), (2, 2, 90)], "expert", []),
        ("medium", [(1, 1, 85), (2, 2, None)], "medium", []),  # not all answered: no level up
        ("medium", [(1, 1, 40), (2, 2, 45), (3, 3, 60)], "easy", [1, 2, 3]),
        ("easy", [(1, 1, 30)], "easy", [1]),
        ("hard", [(1, 1, 90), (2, 2, 65), (3, 3, 20), (4, 4, 69), (5, 5, 50)], "hard", [2, 3, 5]),
    ],
)
def test_the_next_practice_follows_the_scores(
    difficulty: str, scores: list[tuple[int, int, int | None]], level: str, retry: list[int]
) -> None:
    practice = next_practice("backend", difficulty, scores)
    assert practice is not None
    assert (practice.difficulty, practice.question_positions) == (level, retry)
    assert practice.track == "backend"


def test_no_practice_without_answers() -> None:
    assert next_practice("backend", "medium", [(1, 1, None)]) is None

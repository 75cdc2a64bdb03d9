"""AnalysisService end to end: answers of known shape through a real server.

The answers are "spoken" by a local OpenAI-compatible server playing the
transcription engine, so each arrives with exactly the word timings the test
lays out; content is judged against the question the server really asked.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from generated.samvaad.v1 import analysis_pb2 as apb
from generated.samvaad.v1 import analysis_pb2_grpc
from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import transcription_pb2 as tpb
from server.engines.stt import LocalWhisperEngine
from tests.audio_assets import AUDIO, SAMPLES
from tests.fake_openai import (
    CHAT,
    TRANSCRIPTIONS,
    FakeOpenAI,
    Reply,
    chat_completion,
    error_body,
    transcription_verbose,
)
from tests.helpers import (
    Account,
    RunningServer,
    expect_status,
    make_settings,
    openai_settings,
    reason,
    register,
    start_server,
    stop_server,
)

AUDIO_FILE = AUDIO / "answer-opus.ogg"  # any real recording: the fake engine decides the words


@dataclass
class Flow:
    server: RunningServer
    account: Account
    interview_id: int
    questions: list[ipb.Question]
    attempts: list[int]

    @property
    def analysis(self) -> analysis_pb2_grpc.AnalysisServiceStub:
        return analysis_pb2_grpc.AnalysisServiceStub(self.server.stubs.channel)


async def start_flow(server: RunningServer, track: str = "data_science", count: int = 4) -> Flow:
    stubs = server.stubs
    account = await register(stubs)
    interview = await stubs.interview.CreateInterview(
        ipb.CreateInterviewRequest(track=track, difficulty=ipb.DIFFICULTY_MEDIUM),
        metadata=account.metadata,
    )
    generated = await stubs.interview.GenerateQuestions(
        ipb.GenerateQuestionsRequest(interview_id=interview.interview.id, count=count),
        metadata=account.metadata,
    )
    attempts = await stubs.interview.ListQuestionAttempts(
        ipb.ListQuestionAttemptsRequest(interview_id=interview.interview.id),
        metadata=account.metadata,
    )
    return Flow(
        server,
        account,
        interview.interview.id,
        list(generated.questions),
        [a.id for a in attempts.question_attempts],
    )


# --- answers of known shape -------------------------------------------------------


def lay_out(
    text: str, wpm: float, pauses: dict[int, float] | None = None
) -> list[tuple[str, float, float]]:
    """Words of `text` at `wpm`, with a silence of pauses[i] seconds before word i."""
    seconds_per_word = 60.0 / wpm
    words, clock = [], 0.5
    for index, word in enumerate(text.split()):
        clock += (pauses or {}).get(index, 0.0)
        words.append((word, round(clock, 3), round(clock + seconds_per_word * 0.85, 3)))
        clock += seconds_per_word
    return words


def on_topic(question: ipb.Question, concepts: list[str]) -> str:
    named = ", ".join(concepts) if concepts else question.topic
    first = concepts[0] if concepts else question.topic
    return (
        f"For {question.topic} I would start from the basics of {named}. "
        f"In my last project we measured {named} carefully because the trade-off mattered, "
        f"for example we improved the result by 20 percent after checking {first}. "
        "I would explain the reasoning step by step, compare two approaches, and say why "
        f"I chose one of them over the other given the constraints of {question.topic}."
    )


OFF_TOPIC = (
    "My favourite recipe is a slow cooked lentil soup with cumin, garlic and fresh "
    "coriander. I usually soak the lentils overnight, fry the onions until golden, add "
    "tomatoes and simmer everything for an hour, then serve it with warm bread and lemon. "
    "On weekends I also bake bread and grow tomatoes on the balcony in summer."
)


def filler_heavy(question: ipb.Question, concepts: list[str]) -> str:
    base = on_topic(question, concepts).split()
    fillers = ["um,", "uh,", "like,", "you know,", "um,", "basically"]
    out: list[str] = []
    for index, word in enumerate(base):
        if index % 4 == 0:
            out.append(fillers[(index // 4) % len(fillers)])
        out.append(word)
    return " ".join(out)


async def _concepts(flow: Flow, position: int) -> list[str]:
    # Concepts are internal (they steer analysis); read them the way the server stores them.
    from server.db.models import Question

    async with flow.server.app.database.transaction() as uow:
        question = await uow.session.get(Question, flow.questions[position].id)
        assert question is not None
        return list(question.concepts)


async def upload(
    flow: Flow, fake: FakeOpenAI, attempt_id: int, words: list[tuple[str, float, float]]
) -> tpb.TranscribeAnswerResponse:
    duration = (words[-1][2] + 1.0) if words else 5.0
    fake.queue(TRANSCRIPTIONS, Reply(200, transcription_verbose(words, duration=duration)))

    async def stream() -> AsyncIterator[tpb.TranscribeAnswerRequest]:
        yield tpb.TranscribeAnswerRequest(config=tpb.AudioConfig(question_attempt_id=attempt_id))
        data = AUDIO_FILE.read_bytes()
        for start in range(0, len(data), 16384):
            yield tpb.TranscribeAnswerRequest(audio_content=data[start : start + 16384])

    return await flow.server.stubs.transcription.TranscribeAnswer(
        stream(), metadata=flow.account.metadata
    )


async def analyse(flow: Flow, attempt_id: int) -> apb.AnswerAnalysis:
    reply = await flow.analysis.AnalyzeAnswer(
        apb.AnalyzeAnswerRequest(question_attempt_id=attempt_id), metadata=flow.account.metadata
    )
    return reply.analysis


@pytest.fixture
async def via_fake(
    database_url: str, fake_openai: FakeOpenAI, request: pytest.FixtureRequest
) -> AsyncIterator[RunningServer]:
    """A server whose transcription engine (and, when asked, content analyser) is the fake."""
    overrides: dict[str, Any] = {"TRANSCRIPTION_ENGINE": "openai", "OPENAI_MAX_RETRIES": 0}
    server = await start_server(
        make_settings(database_url, **openai_settings(fake_openai, **overrides))
    )
    yield server
    await stop_server(server)


def offline_content(fake: FakeOpenAI) -> None:
    """Chat completions fail, so content analysis is the offline analyser's."""
    fake.on(CHAT, lambda _: Reply(500, error_body("chat is down in this test")))


async def test_answers_of_known_shape_come_out_where_they_belong(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=4)
    concepts = [await _concepts(flow, i) for i in range(4)]
    q = flow.questions
    shapes = {
        "fluent": lay_out(on_topic(q[0], concepts[0]), wpm=145),
        "slow": lay_out(on_topic(q[1], concepts[1]), wpm=85, pauses={6: 4.2, 20: 3.1, 33: 2.6}),
        "fillers": lay_out(filler_heavy(q[2], concepts[2]), wpm=150),
        "off_topic": lay_out(OFF_TOPIC, wpm=145),
    }
    results: dict[str, apb.AnswerAnalysis] = {}
    for attempt_id, (name, words) in zip(flow.attempts, shapes.items(), strict=True):
        reply = await upload(flow, fake_openai, attempt_id, words)
        assert reply.delivery.word_count == len(words)  # delivery comes with the transcript
        results[name] = await analyse(flow, attempt_id)

    fluent, slow, fillers, off = (results[k] for k in ("fluent", "slow", "fillers", "off_topic"))
    assert fluent.delivery.pace == apb.PACE_GOOD
    assert fluent.content.analyzer.startswith("offline")
    assert fluent.overall_score > max(slow.overall_score, fillers.overall_score, off.overall_score)

    assert slow.delivery.pace == apb.PACE_TOO_SLOW
    assert len(slow.delivery.long_pauses) == 3
    longest = slow.delivery.longest_pause.ToTimedelta().total_seconds()
    assert longest == pytest.approx(4.2 + 60 / 85 * 0.15, abs=0.05)
    assert slow.delivery.score < fluent.delivery.score
    pause_messages = [f.message for f in slow.improvements if f.aspect == "pauses"]
    assert pause_messages and re.search(r"\d+\.\d s pause at \d+:\d\d", pause_messages[0])

    assert fillers.delivery.filler_count >= 15
    assert fillers.delivery.fillers_per_minute > 5
    assert {f.filler for f in fillers.delivery.fillers} >= {"um", "uh", "like", "you know"}
    assert fillers.delivery.score < fluent.delivery.score

    assert off.delivery.pace == apb.PACE_GOOD
    assert off.content.relevance_score < 40 <= fluent.content.relevance_score
    assert off.content.score < fluent.content.score - 25
    assert off.content.coverage_score < fluent.content.coverage_score


async def test_analysis_is_stored_and_guarded(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=2)
    error = await expect_status(
        flow.analysis.AnalyzeAnswer(
            apb.AnalyzeAnswerRequest(question_attempt_id=flow.attempts[0]),
            metadata=flow.account.metadata,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert reason(error) == "NOT_TRANSCRIBED"
    await upload(
        flow, fake_openai, flow.attempts[0], lay_out("a short answer about data " * 6, 140)
    )
    first = await analyse(flow, flow.attempts[0])
    again = await analyse(flow, flow.attempts[0])
    assert again == first
    intruder = await register(via_fake.stubs)
    await expect_status(
        flow.analysis.AnalyzeAnswer(
            apb.AnalyzeAnswerRequest(question_attempt_id=flow.attempts[0]),
            metadata=intruder.metadata,
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await expect_status(
        flow.analysis.GetInterviewReport(
            apb.GetInterviewReportRequest(interview_id=flow.interview_id),
            metadata=intruder.metadata,
        ),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_the_report_follows_the_answers_and_stays_up_to_date(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=3)
    concepts = [await _concepts(flow, i) for i in range(3)]
    await upload(
        flow, fake_openai, flow.attempts[0], lay_out(on_topic(flow.questions[0], concepts[0]), 145)
    )
    await upload(flow, fake_openai, flow.attempts[1], lay_out(OFF_TOPIC, 190))

    async def report() -> apb.InterviewReport:
        reply = await flow.analysis.GetInterviewReport(
            apb.GetInterviewReportRequest(interview_id=flow.interview_id),
            metadata=flow.account.metadata,
        )
        return reply.report

    first = await report()
    assert (first.question_count, first.answered_count) == (3, 2)
    answered = [q for q in first.questions if q.answered]
    assert [q.position for q in first.questions] == [1, 2, 3]
    assert not first.questions[2].answered
    assert not first.questions[2].HasField("analysis")
    scores = [q.analysis.overall_score for q in answered]
    assert first.overall_score == round(sum(scores) / 2)
    assert first.delivery_score == round(sum(q.analysis.delivery.score for q in answered) / 2)
    assert any("remaining questions (3)" in step for step in first.next_steps)
    assert any("Slow down" in step for step in first.next_steps) or first.improvements
    assert first.improvements

    # Served from storage while nothing changes.
    assert (await report()).update_time == first.update_time

    # Redo question 2 well: a new attempt counts, and the report catches up.
    retry = await via_fake.stubs.interview.CreateQuestionAttempt(
        ipb.CreateQuestionAttemptRequest(question_id=flow.questions[1].id),
        metadata=flow.account.metadata,
    )
    pending = await report()
    assert pending.answered_count == 1  # the retry has no answer yet
    await upload(
        flow,
        fake_openai,
        retry.question_attempt.id,
        lay_out(on_topic(flow.questions[1], concepts[1]), 150),
    )
    redone = await report()
    assert redone.answered_count == 2
    assert redone.questions[1].attempt_count == 2
    assert redone.questions[1].question_attempt_id == retry.question_attempt.id
    assert redone.overall_score > first.overall_score


# --- content through OpenAI -----------------------------------------------------------


def _openai_content(**changes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "coverage_score": 80,
        "relevance_score": 90,
        "depth_score": 70,
        "skills_score": 60,
        "covered_concepts": ["precision"],
        "missing_concepts": ["recall"],
        "skills_mentioned": [],
        "star": {"situation": False, "task": False, "action": False, "result": False},
        "strengths": [{"aspect": "relevance", "message": "stays on the question throughout"}],
        "improvements": [{"aspect": "coverage", "message": "recall is never mentioned"}],
    }
    answer.update(changes)
    return answer


async def test_content_comes_from_openai_when_it_answers(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.on(CHAT, lambda _: Reply(body=chat_completion(_openai_content())))
    flow = await start_flow(via_fake, count=2)
    fake_openai.requests.clear()
    await upload(flow, fake_openai, flow.attempts[0], lay_out(on_topic(flow.questions[0], []), 140))
    analysis = await analyse(flow, flow.attempts[0])
    assert analysis.content.analyzer == "openai:gpt-4o-mini"
    assert analysis.content.relevance_score == 90
    sent = fake_openai.requests_to(CHAT)[-1].json()
    assert flow.questions[0].text in sent["messages"][1]["content"]


async def test_content_falls_back_offline_when_openai_fails(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.on(
        CHAT, lambda _: Reply(body=chat_completion(_openai_content(relevance_score=300)))
    )
    flow = await start_flow(via_fake, count=2)
    await upload(flow, fake_openai, flow.attempts[0], lay_out(on_topic(flow.questions[0], []), 140))
    analysis = await analyse(flow, flow.attempts[0])
    assert analysis.content.analyzer == "offline (openai failed: bad_answer)"


# --- fully offline, with the real model --------------------------------------------------


async def test_a_spoken_answer_with_fillers_is_analysed_offline(
    database_url: str, whisper_engine: LocalWhisperEngine
) -> None:
    server = await start_server(make_settings(database_url), stt_engine=whisper_engine)
    try:
        flow = await start_flow(server, track="behavioral", count=2)
        sample = SAMPLES["filler-reason"]

        async def stream() -> AsyncIterator[tpb.TranscribeAnswerRequest]:
            yield tpb.TranscribeAnswerRequest(
                config=tpb.AudioConfig(question_attempt_id=flow.attempts[0])
            )
            yield tpb.TranscribeAnswerRequest(audio_content=sample.path.read_bytes())

        reply = await server.stubs.transcription.TranscribeAnswer(
            stream(), metadata=flow.account.metadata
        )
        assert reply.delivery.filler_count >= 1, reply.transcription.text
        analysis = await analyse(flow, flow.attempts[0])
        assert analysis.content.analyzer == "offline"
        assert analysis.content.HasField("star")
        report = (
            await flow.analysis.GetInterviewReport(
                apb.GetInterviewReportRequest(interview_id=flow.interview_id),
                metadata=flow.account.metadata,
            )
        ).report
        assert report.answered_count == 1
        assert report.next_steps
    finally:
        await stop_server(server)


async def test_concurrent_analysis_stores_one(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=2)
    await upload(flow, fake_openai, flow.attempts[0], lay_out("data and models " * 10, 140))
    results = await asyncio.gather(*(analyse(flow, flow.attempts[0]) for _ in range(4)))
    assert all(r == results[0] for r in results)

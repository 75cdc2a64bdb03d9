"""CreateFollowUpQuestion end to end: written from the answer, one per base question.

Answers are "spoken" by the fake OpenAI transcription engine (tests/fake_openai.py),
so the test decides each transcript; follow-ups are written by the offline rules
(chat fails) or by the fake model.
"""

from __future__ import annotations

import asyncio
import json

import grpc

from generated.samvaad.v1 import analysis_pb2 as apb
from generated.samvaad.v1 import interview_pb2 as ipb
from tests.fake_openai import CHAT, FakeOpenAI, RecordedRequest, Reply, chat_completion, error_body
from tests.helpers import RunningServer, expect_status, reason, register
from tests.test_analysis_service import (
    Flow,
    _concepts,
    lay_out,
    offline_content,
    on_topic,
    start_flow,
    upload,
    via_fake,
)

__all__ = ["via_fake"]


async def follow_up(flow: Flow, attempt_id: int) -> ipb.CreateFollowUpQuestionResponse:
    return await flow.server.stubs.interview.CreateFollowUpQuestion(
        ipb.CreateFollowUpQuestionRequest(question_attempt_id=attempt_id),
        metadata=flow.account.metadata,
    )


async def questions(flow: Flow) -> list[ipb.Question]:
    reply = await flow.server.stubs.interview.ListQuestions(
        ipb.ListQuestionsRequest(interview_id=flow.interview_id), metadata=flow.account.metadata
    )
    return list(reply.questions)


async def test_a_follow_up_probes_what_the_answer_left_out_and_comes_right_after_it(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=3)
    base = list(flow.questions)
    concepts = await _concepts(flow, 0)
    error = await expect_status(
        follow_up(flow, flow.attempts[0]), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert reason(error) == "NOT_TRANSCRIBED"

    # The answer covers only the first concept: the follow-up asks about the next one.
    await upload(flow, fake_openai, flow.attempts[0], lay_out(on_topic(base[0], concepts[:1]), 140))
    first = await follow_up(flow, flow.attempts[0])
    assert not first.cached
    assert first.question.parent_question_id == base[0].id
    assert first.question.position == 2
    assert concepts[1] in first.question.text
    assert first.question_attempt.question_id == first.question.id
    assert not first.question_attempt.has_transcription

    again = await follow_up(flow, flow.attempts[0])
    assert again.cached
    assert again.question == first.question
    assert again.question_attempt.id == first.question_attempt.id

    listed = await questions(flow)
    assert [q.id for q in listed] == [base[0].id, first.question.id, base[1].id, base[2].id]
    assert [q.position for q in listed] == [1, 2, 3, 4]
    assert [q.parent_question_id for q in listed] == [0, base[0].id, 0, 0]

    # Races: concurrent calls for one question store one follow-up, and all return it.
    await upload(flow, fake_openai, flow.attempts[1], lay_out(on_topic(base[1], []), 140))
    replies = await asyncio.gather(*(follow_up(flow, flow.attempts[1]) for _ in range(4)))
    assert len({r.question.id for r in replies}) == 1
    assert sum(not r.cached for r in replies) <= 1
    listed = await questions(flow)
    assert len(listed) == 5
    assert [q.parent_question_id for q in listed] == [0, base[0].id, 0, base[1].id, 0]

    # A follow-up is answered, analysed and reported like any question.
    await upload(
        flow,
        fake_openai,
        first.question_attempt.id,
        lay_out(on_topic(first.question, list(concepts[1:3])), 140),
    )
    error = await expect_status(
        follow_up(flow, first.question_attempt.id), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert reason(error) == "FOLLOW_UP_OF_FOLLOW_UP"
    report = await flow.analysis.GetInterviewReport(
        apb.GetInterviewReportRequest(interview_id=flow.interview_id),
        metadata=flow.account.metadata,
    )
    assert report.report.question_count == 5
    assert report.report.answered_count == 3
    assert report.report.questions[1].question_id == first.question.id
    assert report.report.questions[1].answered


async def test_follow_ups_are_guarded(via_fake: RunningServer, fake_openai: FakeOpenAI) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=2)
    for attempt_id in flow.attempts:
        await upload(flow, fake_openai, attempt_id, lay_out("I would use Kafka here " * 5, 140))
    error = await expect_status(follow_up(flow, 0), grpc.StatusCode.INVALID_ARGUMENT)
    assert reason(error) == "INVALID_ARGUMENT"
    intruder = await register(via_fake.stubs)
    await expect_status(
        via_fake.stubs.interview.CreateFollowUpQuestion(
            ipb.CreateFollowUpQuestionRequest(question_attempt_id=flow.attempts[0]),
            metadata=intruder.metadata,
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    written = await follow_up(flow, flow.attempts[0])
    await via_fake.stubs.interview.CompleteInterview(
        ipb.CompleteInterviewRequest(interview_id=flow.interview_id),
        metadata=flow.account.metadata,
    )
    # Once completed: the one written is still returned, no new one is written.
    assert (await follow_up(flow, flow.attempts[0])).question.id == written.question.id
    error = await expect_status(
        follow_up(flow, flow.attempts[1]), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert reason(error) == "INTERVIEW_COMPLETED"


def _follow_up_model(request: RecordedRequest) -> Reply:
    body = request.json()
    if "follow_up" not in json.dumps(body.get("response_format", {})):
        return Reply(500, error_body("only follow-ups in this test"))
    return Reply(
        body=chat_completion(
            {
                "text": "You said you cached the features in Redis: how did you invalidate them?",
                "topic": "Redis caching",
                "concepts": ["Cache Invalidation", "ttl", "consistency"],
            }
        )
    )


async def test_openai_writes_the_follow_up_from_the_transcript(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.on(CHAT, _follow_up_model)
    flow = await start_flow(via_fake, count=1)
    transcript = "We cached the features in Redis so the model served in ten milliseconds " * 2
    await upload(flow, fake_openai, flow.attempts[0], lay_out(transcript, 140))
    reply = await follow_up(flow, flow.attempts[0])
    assert reply.question.text.startswith("You said you cached the features in Redis")
    assert reply.question.topic == "Redis caching"
    assert reply.question.parent_question_id == flow.questions[0].id
    asked = [r for r in fake_openai.requests_to(CHAT) if "follow_up" in r.body.decode()]
    assert len(asked) == 1
    assert "cached the features in Redis" in asked[0].body.decode()


async def test_a_model_failure_falls_back_to_the_rules(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=1)
    await upload(
        flow, fake_openai, flow.attempts[0], lay_out("We used Kubernetes for it " * 5, 140)
    )
    reply = await follow_up(flow, flow.attempts[0])
    assert reply.question.parent_question_id == flow.questions[0].id
    assert reply.question.text

"""Question generation: the offline bank's mix and tailoring, and the OpenAI path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from generated.samvaad.v1 import interview_pb2 as pb
from server.domain.candidate import CandidateProfile
from server.domain.questions.mix import category_mix
from server.domain.questions.offline import OfflineQuestionGenerator
from server.domain.questions.openai_generator import ModelAnswer, questions_from_answer
from server.domain.questions.types import Category, Difficulty, GenerationRequest
from tests.fake_openai import CHAT, FakeOpenAI, Reply, chat_completion, error_body
from tests.helpers import (
    RunningServer,
    make_settings,
    openai_settings,
    register,
    start_server,
    stop_server,
)

FRESHER = CandidateProfile(["Python", "pandas", "scikit-learn"], 0.5)
SENIOR = CandidateProfile(["Kafka", "PostgreSQL", "Kubernetes", "Go"], 12.0)


def _request(**changes: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "track": "backend",
        "difficulty": Difficulty.MEDIUM,
        "count": 10,
        "profile": None,
        "seed": 1,
    }
    values.update(changes)
    return GenerationRequest(**values)


def test_mix_adds_up_to_the_count() -> None:
    for count in (1, 2, 5, 7, 20):
        for difficulty in Difficulty:
            for profile in (None, FRESHER, SENIOR):
                mix = category_mix(count, difficulty, profile, behavioral_track=False)
                assert sum(mix.values()) == count


def test_freshers_get_fewer_system_design_questions_than_seniors() -> None:
    fresher = category_mix(10, Difficulty.MEDIUM, FRESHER, behavioral_track=False)
    senior = category_mix(10, Difficulty.MEDIUM, SENIOR, behavioral_track=False)
    assert fresher.get(Category.SYSTEM_DESIGN, 0) < senior[Category.SYSTEM_DESIGN]


def test_harder_interviews_have_more_design() -> None:
    easy = category_mix(10, Difficulty.EASY, None, behavioral_track=False)
    expert = category_mix(10, Difficulty.EXPERT, None, behavioral_track=False)
    assert easy.get(Category.SYSTEM_DESIGN, 0) < expert[Category.SYSTEM_DESIGN]


def test_behavioral_track_is_behavioral() -> None:
    questions = OfflineQuestionGenerator().generate_now(_request(track="behavioral", count=6))
    assert {q.category for q in questions} == {Category.BEHAVIORAL}


def test_resume_questions_name_the_candidates_skills() -> None:
    questions = OfflineQuestionGenerator().generate_now(_request(profile=SENIOR, count=8))
    applied = [q for q in questions if q.category is Category.APPLIED or "resume" in q.text]
    assert len(applied) >= 2
    for question in applied:
        assert question.topic in SENIOR.skills
        assert question.topic.lower() in question.text.lower()


def test_generation_is_deterministic_per_seed_and_varies_across_seeds() -> None:
    generator = OfflineQuestionGenerator()
    first = [q.text for q in generator.generate_now(_request(seed=7))]
    assert first == [q.text for q in generator.generate_now(_request(seed=7))]
    assert first != [q.text for q in generator.generate_now(_request(seed=8))]


@pytest.mark.parametrize("track", ["data_science", "mobile", "quantum_computing"])
@pytest.mark.parametrize("difficulty", list(Difficulty))
def test_every_track_and_level_fills_twenty_distinct_questions(
    track: str, difficulty: Difficulty
) -> None:
    questions = OfflineQuestionGenerator().generate_now(
        _request(track=track, difficulty=difficulty, count=20, profile=FRESHER)
    )
    assert len(questions) == 20
    assert len({q.text for q in questions}) == 20


# --- OpenAI, through a real local server ---------------------------------------------


def _openai_questions(count: int, **overrides: Any) -> dict[str, Any]:
    return {
        "questions": [
            {
                "text": overrides.get("text", f"How would you shard table number {i}?"),
                "topic": "sharding",
                "category": "system_design",
                "concepts": ["Shard Key", "rebalancing"],
            }
            for i in range(count)
        ]
    }


async def _generate_with(fake: FakeOpenAI, database_url: str, count: int = 3) -> Any:
    running: RunningServer = await start_server(
        make_settings(database_url, **openai_settings(fake))
    )
    try:
        account = await register(running.stubs)
        interview = await running.stubs.interview.CreateInterview(
            pb.CreateInterviewRequest(track="backend"), metadata=account.metadata
        )
        return await running.stubs.interview.GenerateQuestions(
            pb.GenerateQuestionsRequest(interview_id=interview.interview.id, count=count),
            metadata=account.metadata,
        )
    finally:
        await stop_server(running)


async def test_openai_questions_are_used_when_valid(
    fake_openai: FakeOpenAI, database_url: str
) -> None:
    fake_openai.on(CHAT, lambda _request: Reply(body=chat_completion(_openai_questions(3))))
    reply = await _generate_with(fake_openai, database_url)
    assert reply.generator == "openai:gpt-4o-mini"
    assert [q.text for q in reply.questions] == [
        f"How would you shard table number {i}?" for i in range(3)
    ]
    assert reply.questions[0].category == "system_design"
    sent = fake_openai.requests_to(CHAT)[0].json()
    assert sent["response_format"]["type"] == "json_schema"
    assert "backend" in sent["messages"][1]["content"]
    assert "exactly 3 questions" in sent["messages"][1]["content"]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply(500, error_body("boom")), "server_error"),
        (Reply(429, error_body("slow down", "rate_limit_exceeded")), "rate_limited"),
        (Reply(body=chat_completion("this is not json")), "bad_json"),
        (Reply(body=chat_completion(_openai_questions(2))), "bad_answer"),
        (Reply(body=chat_completion(_openai_questions(3, text="Same question?"))), "bad_answer"),
        (Reply(body=chat_completion(_openai_questions(3, text="  "))), "bad_answer"),
        (Reply(body=chat_completion(_openai_questions(3, text="x" * 301))), "bad_answer"),
        (Reply(body=chat_completion({"questions": [{"text": "Why?"}] * 3})), "bad_answer"),
        (Reply(body=chat_completion({"questions": "three questions"})), "bad_answer"),
        (Reply(delay=3, body=chat_completion(_openai_questions(3))), "timeout"),
    ],
    ids=[
        "500",
        "429",
        "not-json",
        "too-few",
        "duplicates",
        "empty",
        "too-long",
        "no-category",
        "not-a-list",
        "timeout",
    ],
)
async def test_any_openai_failure_falls_back_to_the_bank(
    fake_openai: FakeOpenAI, database_url: str, reply: Reply, kind: str
) -> None:
    fake_openai.on(CHAT, lambda _request: reply)
    result = await _generate_with(fake_openai, database_url)
    assert result.generator == f"offline (openai failed: {kind})"
    assert len(result.questions) == 3
    assert all("shard table" not in q.text for q in result.questions)


async def test_a_transient_openai_error_is_retried(
    fake_openai: FakeOpenAI, database_url: str
) -> None:
    fake_openai.queue(CHAT, Reply(503, error_body("overloaded")))
    fake_openai.on(CHAT, lambda _request: Reply(body=chat_completion(_openai_questions(3))))
    reply = await _generate_with(fake_openai, database_url)
    assert reply.generator.startswith("openai:")
    assert len(fake_openai.requests_to(CHAT)) == 2


def test_openai_concepts_are_normalised() -> None:
    # Checked through the same parsing the server uses, on a recorded answer.
    answer = ModelAnswer.model_validate(json.loads(json.dumps(_openai_questions(1))))
    parsed = questions_from_answer(answer, _request(count=1))
    assert parsed[0].concepts == ["shard key", "rebalancing"]

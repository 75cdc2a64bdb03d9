"""The OpenAI skill extractor and its fallback, against the local OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from generated.samvaad.v1 import resume_pb2
from server.engines.llm import OpenAIJsonChat
from server.engines.llm_types import LlmError
from tests.conftest import _empty_all_tables
from tests.fake_openai import CHAT, FakeOpenAI, RecordedRequest, Reply, chat_completion, error_body
from tests.helpers import (
    Account,
    Stubs,
    expect_status,
    make_settings,
    openai_settings,
    register,
    start_server,
    stop_server,
)
from tests.make_resume_fixtures import PLAIN, SINGLE_COLUMN, FixtureResume, expected_years, read

# The model's answer, as a model might spell things; what the taxonomy makes of it.
MODEL_SKILLS = ["k8s", "Postgres", "sklearn", "Golang", "Underwater basket weaving", "python 3.11"]
NORMALISED = ["Kubernetes", "PostgreSQL", "scikit-learn", "Go", "Python"]
# Fast retries: the client honours Retry-After, so tests do not wait for backoff.
RETRY_NOW = {"retry-after-ms": "10"}


@pytest.fixture
async def database_url(migrated_databases: dict[str, str]) -> AsyncIterator[str]:
    """SQLite only: what the model answers does not depend on the database, and every
    test here pays for stopping the fake server; the other resume tests run on both."""
    url = migrated_databases["sqlite"]
    yield url
    await _empty_all_tables(url)


@pytest.fixture
def settings_overrides(fake_openai: FakeOpenAI) -> dict[str, Any]:
    return openai_settings(fake_openai, OPENAI_TIMEOUT_SECONDS=0.5, OPENAI_MAX_RETRIES=1)


async def upload(stubs: Stubs, account: Account, fixture: FixtureResume) -> resume_pb2.Resume:
    reply = await stubs.resume.UploadResume(
        resume_pb2.UploadResumeRequest(
            filename=fixture.filename,
            content_type=fixture.content_type,
            content=read(fixture.filename),
        ),
        metadata=account.metadata,
    )
    resume: resume_pb2.Resume = reply.resume
    return resume


async def knowledge_set(stubs: Stubs, account: Account) -> resume_pb2.GetKnowledgeSetResponse:
    reply: resume_pb2.GetKnowledgeSetResponse = await stubs.resume.GetKnowledgeSet(
        resume_pb2.GetKnowledgeSetRequest(), metadata=account.metadata
    )
    return reply


def answer_with(skills: Any) -> Reply:
    return Reply(body=chat_completion({"skills": skills}))


async def test_the_model_answers_and_the_taxonomy_normalises(
    stubs: Stubs, account: Account, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(CHAT, answer_with(MODEL_SKILLS))
    resume = await upload(stubs, account, PLAIN)
    assert resume.extractor == "openai:gpt-4o-mini"
    assert list(resume.skills) == NORMALISED
    # Years do not depend on the extractor.
    assert resume.years_experience == expected_years(PLAIN, datetime.now(UTC).date())

    [request] = fake_openai.requests_to(CHAT)
    assert request.headers["authorization"] == "Bearer sk-test"
    body = request.json()
    assert body["model"] == "gpt-4o-mini"
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["required"] == ["skills"]
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "skills" in system["content"]
    assert user["role"] == "user"
    assert "Mercadito" in user["content"]
    assert "José Álvarez" in user["content"]


async def test_the_configured_model_is_used_and_named(
    database_url: str, fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(database_url, **openai_settings(fake_openai, OPENAI_MODEL="gpt-x"))
    running = await start_server(settings)
    try:
        account = await register(running.stubs)
        fake_openai.queue(CHAT, answer_with(["Python"]))
        resume = await upload(running.stubs, account, PLAIN)
    finally:
        await stop_server(running)
    assert resume.extractor == "openai:gpt-x"
    assert fake_openai.requests_to(CHAT)[0].json()["model"] == "gpt-x"


def _failures() -> list[Any]:
    refusal = chat_completion("")
    refusal["choices"][0]["message"].update(content=None, refusal="I can't help with that.")
    cut_off = chat_completion('{"skills": ["Pyth')
    cut_off["choices"][0]["finish_reason"] = "length"
    return [
        pytest.param(
            [Reply(500, error_body("boom"), headers=RETRY_NOW)] * 2, "server_error", 2, id="500"
        ),
        pytest.param(
            [Reply(503, error_body("busy"), headers=RETRY_NOW)] * 2, "server_error", 2, id="503"
        ),
        pytest.param(
            [Reply(429, error_body("slow down", "rate_limit_error"), headers=RETRY_NOW)] * 2,
            "rate_limited",
            2,
            id="429",
        ),
        pytest.param([Reply(delay=1.5)] * 2, "timeout", 2, id="timeout"),
        pytest.param(
            [Reply(401, error_body("bad key", "invalid_request_error"))],
            "client_error",
            1,
            id="401",
        ),
        pytest.param([Reply(body=chat_completion("not json {"))], "bad_json", 1, id="not-json"),
        pytest.param([Reply(body=chat_completion("[1, 2]"))], "bad_json", 1, id="json-not-object"),
        pytest.param([Reply(body="<html>gateway</html>")], "bad_json", 1, id="html-body"),
        pytest.param([answer_with("Python")], "bad_answer", 1, id="wrong-shape"),
        pytest.param(
            [answer_with(["Underwater basket weaving"])], "bad_answer", 1, id="no-known-skill"
        ),
        pytest.param([Reply(body=refusal)], "refused", 1, id="refusal"),
        pytest.param([Reply(body=cut_off)], "truncated", 1, id="cut-off"),
    ]


@pytest.mark.parametrize(("replies", "kind", "attempts"), _failures())
async def test_any_failure_falls_back_to_the_offline_extractor(
    stubs: Stubs,
    account: Account,
    fake_openai: FakeOpenAI,
    replies: list[Reply],
    kind: str,
    attempts: int,
) -> None:
    fake_openai.queue(CHAT, *replies)
    resume = await upload(stubs, account, SINGLE_COLUMN)
    assert resume.extractor == f"offline (openai failed: {kind})"
    assert SINGLE_COLUMN.must_find <= set(resume.skills)
    assert not SINGLE_COLUMN.must_not_find & set(resume.skills)
    assert len(fake_openai.requests_to(CHAT)) == attempts


async def test_a_retry_that_succeeds_uses_the_model(
    stubs: Stubs, account: Account, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(CHAT, Reply(500, error_body("blip"), headers=RETRY_NOW))
    fake_openai.queue(CHAT, answer_with(["Kubernetes"]))
    resume = await upload(stubs, account, SINGLE_COLUMN)
    assert resume.extractor == "openai:gpt-4o-mini"
    assert list(resume.skills) == ["Kubernetes"]
    assert len(fake_openai.requests_to(CHAT)) == 2


async def test_the_knowledge_set_asks_the_model_once_per_resume(
    stubs: Stubs, account: Account, fake_openai: FakeOpenAI
) -> None:
    asked: list[RecordedRequest] = []

    def answer(request: RecordedRequest) -> Reply:
        asked.append(request)
        return answer_with(["Django", "k8s"])

    fake_openai.on(CHAT, answer)
    await upload(stubs, account, SINGLE_COLUMN)
    first = await knowledge_set(stubs, account)
    second = await knowledge_set(stubs, account)
    assert not first.cached and second.cached
    # The model's skills, then what they imply, from the taxonomy.
    assert list(first.items) == ["Django", "Kubernetes", "Python"]
    assert list(second.items) == list(first.items)
    assert len(asked) == 2  # the upload, then the first knowledge set; not the second


async def test_a_model_that_is_down_still_gets_a_knowledge_set(
    stubs: Stubs, account: Account, fake_openai: FakeOpenAI
) -> None:
    fake_openai.on(CHAT, lambda request: Reply(500, error_body("down"), headers=RETRY_NOW))
    await upload(stubs, account, SINGLE_COLUMN)
    reply = await knowledge_set(stubs, account)
    assert SINGLE_COLUMN.must_find <= set(reply.items)


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "SKILL_EXTRACTOR": "offline",
        }
    ],
)
async def test_the_offline_extractor_can_be_forced_with_a_key_set(
    stubs: Stubs, account: Account
) -> None:
    resume = await upload(stubs, account, SINGLE_COLUMN)
    assert resume.extractor == "offline"


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "OPENAI_MAX_RETRIES": 0,
        }
    ],
)
async def test_an_unreachable_server_is_a_connection_failure(
    stubs: Stubs, account: Account
) -> None:
    resume = await upload(stubs, account, SINGLE_COLUMN)
    assert resume.extractor == "offline (openai failed: connection)"


async def test_bad_uploads_never_reach_the_model(
    stubs: Stubs, account: Account, fake_openai: FakeOpenAI
) -> None:
    await expect_status(
        stubs.resume.UploadResume(
            resume_pb2.UploadResumeRequest(content=read("image_only.pdf")),
            metadata=account.metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert fake_openai.requests_to(CHAT) == []


# --- the engine itself, as other features use it ------------------------------------


async def test_complete_json_is_a_plain_json_object_call(fake_openai: FakeOpenAI) -> None:
    chat = OpenAIJsonChat.from_settings(make_settings(**openai_settings(fake_openai)))
    assert chat is not None
    fake_openai.queue(CHAT, Reply(body=chat_completion({"answer": 42})))
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    try:
        answer = await chat.complete_json("system says", "user says", "the_answer", schema)
    finally:
        await chat.close()
    assert answer == {"answer": 42}
    body = fake_openai.requests_to(CHAT)[0].json()
    assert body["response_format"]["json_schema"]["name"] == "the_answer"
    assert body["response_format"]["json_schema"]["schema"] == schema
    assert [m["content"] for m in body["messages"]] == ["system says", "user says"]
    assert "max_completion_tokens" not in body


async def test_every_engine_failure_is_one_exception_type(fake_openai: FakeOpenAI) -> None:
    chat = OpenAIJsonChat.from_settings(
        make_settings(**openai_settings(fake_openai, OPENAI_MAX_RETRIES=0))
    )
    assert chat is not None
    fake_openai.queue(CHAT, Reply(502, error_body("bad gateway")))
    try:
        with pytest.raises(LlmError) as caught:
            await chat.complete_json("s", "u", "x", {"type": "object"}, max_output_tokens=5)
    finally:
        await chat.close()
    assert caught.value.kind == "server_error"
    assert fake_openai.requests_to(CHAT)[0].json()["max_completion_tokens"] == 5


def test_no_key_no_engine() -> None:
    assert OpenAIJsonChat.from_settings(make_settings()) is None
    assert OpenAIJsonChat.from_settings(make_settings(OPENAI_API_KEY="")) is None

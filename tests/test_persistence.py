"""The persistence layer's contract with the domain: records out, Conflict for clashes.

The repositories hand the domain frozen records (never ORM rows it could change
and expect stored), and a write the database refuses for clashing with a stored
row is a `Conflict` (a domain error), never the driver's IntegrityError.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import AsyncIterator

import grpc
import pytest

from server.api.status import status_code_of
from server.db.engine import create_engine
from server.db.models import Base
from server.domain.questions.types import Category, Difficulty, GeneratedQuestion
from server.domain.records import (
    AttemptRecord,
    InterviewRecord,
    QuestionRecord,
    RefreshTokenRecord,
    ResumeRecord,
    UserRecord,
)
from server.domain.resume.types import ResumeFields
from server.errors import Conflict, DomainError
from server.repositories.unit_of_work import Database


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(create_engine(database_url))
    yield db
    await db.dispose()


async def _user(database: Database, email: str = "asha@example.com") -> UserRecord:
    async with database.transaction() as uow:
        return await uow.users.add(email, "Asha", "hash")


def _questions(*texts: str) -> list[GeneratedQuestion]:
    return [
        GeneratedQuestion(text, "topic", Category.TECHNICAL, Difficulty.MEDIUM, ["a"])
        for text in texts
    ]


def _assert_frozen_record(value: object) -> None:
    assert dataclasses.is_dataclass(value)
    assert not isinstance(value, Base), "an ORM row reached the domain"
    field = dataclasses.fields(value)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, getattr(value, field))


def test_a_conflict_is_a_domain_error_answered_already_exists() -> None:
    error = Conflict("taken")
    assert isinstance(error, DomainError)
    assert error.reason == "CONFLICT"
    assert status_code_of(error) == grpc.StatusCode.ALREADY_EXISTS


async def test_a_taken_email_is_a_conflict_and_nothing_is_written(database: Database) -> None:
    first = await _user(database)
    with pytest.raises(Conflict):
        async with database.transaction() as uow:
            await uow.users.add("asha@example.com", "Someone else", "other hash")
    async with database.transaction() as uow:
        stored = await uow.users.get_by_email("asha@example.com")
    assert stored == first


async def test_a_refresh_token_hash_stored_twice_is_a_conflict(database: Database) -> None:
    user = await _user(database)
    async with database.transaction() as uow:
        first = await uow.refresh_tokens.add(user.id, "family", "2" * 64, user.created_at)
    with pytest.raises(Conflict):
        async with database.transaction() as uow:
            await uow.refresh_tokens.add(user.id, "other family", "2" * 64, user.created_at)
    async with database.transaction() as uow:
        assert await uow.refresh_tokens.live_in_family("family") == [first]
        assert await uow.refresh_tokens.live_in_family("other family") == []


async def test_a_second_active_interview_on_a_track_is_a_conflict(database: Database) -> None:
    user = await _user(database)
    async with database.transaction() as uow:
        first = await uow.interviews.add(user.id, "backend", "medium")
    with pytest.raises(Conflict):
        async with database.transaction() as uow:
            await uow.interviews.add(user.id, "backend", "hard")
    async with database.transaction() as uow:
        assert await uow.interviews.active_on_track(user.id, "backend") == first
        # Another track, or the same one once the first is completed, is no clash.
        await uow.interviews.add(user.id, "frontend", "medium")
        await uow.interviews.complete(first.id, first.created_at)
        await uow.interviews.add(user.id, "backend", "hard")


async def test_a_second_question_set_is_a_conflict_and_the_first_stays(
    database: Database,
) -> None:
    user = await _user(database)
    async with database.transaction() as uow:
        interview = await uow.interviews.add(user.id, "backend", "medium")
        first = await uow.questions.add_set(interview.id, _questions("one", "two"))
    with pytest.raises(Conflict):
        async with database.transaction() as uow:
            await uow.questions.add_set(interview.id, _questions("three"))
    async with database.transaction() as uow:
        assert await uow.questions.of_interview(interview.id) == first
        attempts = await uow.attempts.page(interview.id, None, 10)
    assert [question.text for _, question in attempts] == ["one", "two"]


async def test_the_repositories_hand_out_frozen_records(database: Database) -> None:
    user = await _user(database)
    fields = ResumeFields("cv.txt", "text/plain", 3, "cv", "0" * 64, ["Python"], 2.0, "offline")
    async with database.transaction() as uow:
        token = await uow.refresh_tokens.add(user.id, "family", "1" * 64, user.created_at)
        resume = await uow.resumes.replace(user.id, fields)
        interview = await uow.interviews.add(user.id, "backend", "medium")
        (question,) = await uow.questions.add_set(interview.id, _questions("one"))
        attempt = await uow.attempts.add(question)
        owned = await uow.attempts.get_owned(user.id, attempt.id, lock=True)
        read_back = [
            await uow.users.get(user.id),
            await uow.refresh_tokens.get_by_hash_for_update("1" * 64),
            await uow.resumes.get(user.id),
            await uow.interviews.get_owned(user.id, interview.id),
            *(await uow.interviews.page(user.id, None, 10)),
            *(await uow.questions.page(interview.id, None, 10)),
            *(await uow.analyses.attempts_of_interview(interview.id)),
        ]
    assert owned is not None
    assert (type(user), type(token), type(resume)) == (UserRecord, RefreshTokenRecord, ResumeRecord)
    assert (type(interview), type(question)) == (InterviewRecord, QuestionRecord)
    assert [type(item) for item in owned] == [AttemptRecord, QuestionRecord, InterviewRecord]
    assert resume.skills == ("Python",)
    assert question.concepts == ("a",)
    for record in [user, token, resume, interview, question, attempt, *owned, *read_back]:
        _assert_frozen_record(record)


@pytest.mark.slow
def test_loading_the_persistence_layer_loads_no_domain_logic() -> None:
    """The repositories import only the domain's type modules (and no question generator)."""
    probe = (
        "import sys, server.repositories.unit_of_work\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith(('server.', 'openai')))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    domain = {name for name in loaded if name.startswith("server.domain")}
    assert domain <= {
        "server.domain",
        "server.domain.records",
        "server.domain.resume",
        "server.domain.resume.types",
        "server.domain.questions",  # the package's __init__ is a docstring
        "server.domain.questions.types",
        "server.domain.candidate",  # CandidateProfile, a frozen dataclass the types name
    }, domain
    assert not [name for name in loaded if name.startswith(("openai", "server.api"))]
    assert "server.repositories.users" in loaded

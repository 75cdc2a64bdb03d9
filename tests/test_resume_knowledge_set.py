"""GetKnowledgeSet: derived from the stored text, cached in the database for every worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
from sqlalchemy import select

from generated.samvaad.v1 import resume_pb2
from server.db.models import KnowledgeSet, Resume
from tests.helpers import (
    Account,
    RunningServer,
    Stubs,
    expect_status,
    reason,
    start_server,
    stop_server,
)
from tests.make_resume_fixtures import PLAIN, SINGLE_COLUMN, FixtureResume, expected_years, read


async def upload(stubs: Stubs, account: Account, fixture: FixtureResume) -> resume_pb2.Resume:
    reply = await stubs.resume.UploadResume(
        resume_pb2.UploadResumeRequest(filename=fixture.filename, content=read(fixture.filename)),
        metadata=account.metadata,
    )
    resume: resume_pb2.Resume = reply.resume
    return resume


async def knowledge_set(stubs: Stubs, account: Account) -> resume_pb2.GetKnowledgeSetResponse:
    reply: resume_pb2.GetKnowledgeSetResponse = await stubs.resume.GetKnowledgeSet(
        resume_pb2.GetKnowledgeSetRequest(), metadata=account.metadata
    )
    return reply


async def cached_rows(running: RunningServer, account: Account) -> list[KnowledgeSet]:
    async with running.app.database.transaction() as uow:
        rows = await uow.session.scalars(
            select(KnowledgeSet).where(KnowledgeSet.user_id == account.user.id)
        )
        return list(rows.all())


async def test_not_found_before_any_upload(stubs: Stubs, account: Account) -> None:
    error = await expect_status(knowledge_set(stubs, account), grpc.StatusCode.NOT_FOUND)
    assert reason(error) == "RESUME_NOT_FOUND"


async def test_the_second_call_is_served_from_the_cache(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    await upload(stubs, account, SINGLE_COLUMN)
    assert await cached_rows(running, account) == []
    first = await knowledge_set(stubs, account)
    second = await knowledge_set(stubs, account)
    assert (first.cached, second.cached) == (False, True)
    assert list(second.items) == list(first.items)
    [row] = await cached_rows(running, account)
    assert row.items == list(first.items)
    assert row.extractor == "offline"


async def test_items_are_the_resume_skills_then_what_they_imply(
    stubs: Stubs, account: Account
) -> None:
    resume = await upload(stubs, account, SINGLE_COLUMN)
    items = list((await knowledge_set(stubs, account)).items)
    skills = list(resume.skills)
    assert items[: len(skills)] == skills
    # PostgreSQL implies SQL, which the resume never names: it comes after the skills found.
    assert "SQL" not in skills
    assert items.index("SQL") >= len(skills)
    assert len(items) == len(set(items))


async def test_the_cache_is_shared_by_workers_and_survives_restarts(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    await upload(stubs, account, PLAIN)
    computed = await knowledge_set(stubs, account)
    assert not computed.cached
    # Another server process on the same database: a second worker, or a restart.
    other = await start_server(running.app.settings)
    try:
        served = await knowledge_set(other.stubs, account)
    finally:
        await stop_server(other)
    assert served.cached
    assert list(served.items) == list(computed.items)


async def test_a_new_resume_invalidates_the_cache(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    await upload(stubs, account, SINGLE_COLUMN)
    old = await knowledge_set(stubs, account)
    await knowledge_set(stubs, account)
    await upload(stubs, account, PLAIN)
    assert await cached_rows(running, account) == []
    new = await knowledge_set(stubs, account)
    assert not new.cached
    assert "React" in new.items and "React" not in old.items
    assert (await knowledge_set(stubs, account)).cached
    assert len(await cached_rows(running, account)) == 1


async def test_even_the_same_file_again_starts_a_fresh_cache(
    stubs: Stubs, account: Account
) -> None:
    await upload(stubs, account, SINGLE_COLUMN)
    await knowledge_set(stubs, account)
    await upload(stubs, account, SINGLE_COLUMN)
    assert not (await knowledge_set(stubs, account)).cached


async def test_concurrent_first_calls_agree_and_cache_once(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    await upload(stubs, account, SINGLE_COLUMN)
    replies = await asyncio.gather(*(knowledge_set(stubs, account) for _ in range(4)))
    assert len({tuple(reply.items) for reply in replies}) == 1
    assert len(await cached_rows(running, account)) == 1


async def test_caches_are_per_user(stubs: Stubs, account: Account) -> None:
    from tests.helpers import register

    other = await register(stubs)
    await upload(stubs, account, SINGLE_COLUMN)
    await upload(stubs, other, SINGLE_COLUMN)
    await knowledge_set(stubs, account)
    assert not (await knowledge_set(stubs, other)).cached


async def test_the_candidate_profile_is_the_current_resume(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    assert await running.app.resumes.candidate_profile(account.user.id) is None
    resume = await upload(stubs, account, PLAIN)
    profile = await running.app.resumes.candidate_profile(account.user.id)
    assert profile is not None
    assert profile.skills == list(resume.skills)
    years = expected_years(PLAIN, datetime.now(UTC).date())
    assert profile.years_experience == resume.years_experience == years


async def test_a_set_cached_for_the_old_text_while_an_upload_waits_is_cleared(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    """The interleaving the upload's trigger exists for: GetKnowledgeSet holds the
    resume row while it caches a set for the old text; the upload waits for that row
    and, once the set is committed, must still clear it (on PostgreSQL its DELETE
    needs a snapshot taken after the row lock, not the upsert's)."""
    old = await upload(stubs, account, PLAIN)
    assert old.skills
    database = running.app.database
    async with database.transaction() as uow:
        [current] = await uow.session.scalars(
            select(Resume.text_sha256).where(Resume.user_id == account.user.id)
        )
        await uow.knowledge_sets.save_if_current(account.user.id, current, ["Python"], "offline")
        uploading = asyncio.ensure_future(upload(stubs, account, SINGLE_COLUMN))
        await asyncio.sleep(0.5)  # the upload now waits for the row (or the write lock)
        if database.dialect != "sqlite":
            assert not uploading.done()
    await uploading
    assert await cached_rows(running, account) == []
    assert not (await knowledge_set(stubs, account)).cached

"""The request path's caches and read-only units of work keep their promises.

- a deleted account is refused by GetMe at once, and by every other call once the
  principal check's TTL has passed (AUTH_PRINCIPAL_TTL_SECONDS; 0 = every call);
- a remembered access token is refused once it expires;
- on SQLite a read-only unit of work does not wait for a writer's lock.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import delete

from generated.samvaad.v1 import auth_pb2
from generated.samvaad.v1 import interview_pb2 as ipb
from server.db.engine import create_engine
from server.db.migrate import upgrade_to_head
from server.db.models import User
from server.domain import tokens as tokens_module
from server.domain.auth import PrincipalCache
from server.domain.tokens import AccessTokenCodec
from server.errors import Unauthenticated
from server.repositories.unit_of_work import Database
from tests.helpers import Account, RunningServer, Stubs, expect_status, reason

UNAUTH = grpc.StatusCode.UNAUTHENTICATED


async def _delete(running: RunningServer, account: Account) -> None:
    async with running.app.database.transaction() as uow:
        await uow.session.execute(delete(User).where(User.id == account.user.id))


class TestPrincipalCheckEveryCall:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"AUTH_PRINCIPAL_TTL_SECONDS": 0}

    async def test_a_deleted_account_is_refused_by_the_next_call(
        self, running: RunningServer, stubs: Stubs, account: Account
    ) -> None:
        listed = ipb.ListInterviewsRequest(page_size=5)
        await stubs.interview.ListInterviews(listed, metadata=account.metadata)
        await _delete(running, account)
        error = await expect_status(
            stubs.interview.ListInterviews(listed, metadata=account.metadata), UNAUTH
        )
        assert reason(error) == "USER_NOT_FOUND"


class TestPrincipalCheckWithinItsBound:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"AUTH_PRINCIPAL_TTL_SECONDS": 60}

    async def test_getme_refuses_at_once_and_other_calls_after_the_ttl(
        self,
        running: RunningServer,
        stubs: Stubs,
        account: Account,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        listed = ipb.ListInterviewsRequest(page_size=5)
        await stubs.interview.ListInterviews(listed, metadata=account.metadata)
        await _delete(running, account)
        # Within the documented bound the other calls may still pass (that is the bound) ...
        await stubs.interview.ListInterviews(listed, metadata=account.metadata)
        # ... but GetMe reads the account and refuses at once.
        error = await expect_status(
            stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata), UNAUTH
        )
        assert reason(error) == "USER_NOT_FOUND"
        # And the process forgot the user: the next call is refused too.
        error = await expect_status(
            stubs.interview.ListInterviews(listed, metadata=account.metadata), UNAUTH
        )
        assert reason(error) == "USER_NOT_FOUND"

    async def test_past_the_ttl_the_database_is_asked_again(
        self,
        running: RunningServer,
        stubs: Stubs,
        account: Account,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        listed = ipb.ListInterviewsRequest(page_size=5)
        await stubs.interview.ListInterviews(listed, metadata=account.metadata)
        await _delete(running, account)
        now = time.monotonic()
        principals = running.app.auth._principals
        monkeypatch.setattr(principals, "_clock", lambda: now + 61)
        error = await expect_status(
            stubs.interview.ListInterviews(listed, metadata=account.metadata), UNAUTH
        )
        assert reason(error) == "USER_NOT_FOUND"


def test_the_principal_cache_is_bounded_and_expires() -> None:
    clock = [1000.0]
    cache = PrincipalCache(5, clock=lambda: clock[0])
    cache.confirm(1)
    assert cache.is_fresh(1)
    clock[0] += 5
    assert not cache.is_fresh(1)
    for user_id in range(2, PrincipalCache.MAX_ENTRIES + 3):
        cache.confirm(user_id)
    assert not cache.is_fresh(2)  # the least recently confirmed went first
    assert cache.is_fresh(PrincipalCache.MAX_ENTRIES + 2)
    off = PrincipalCache(0)
    off.confirm(7)
    assert not off.is_fresh(7)


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = AccessTokenCodec("k" * 32, "HS256", "iss", "aud", timedelta(minutes=15))
    issued = codec.issue(42)
    assert codec.user_id_of(issued.token) == 42
    assert codec.user_id_of(issued.token) == 42  # from the cache
    later = issued.expires_at.timestamp() + tokens_module.LEEWAY_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(Unauthenticated) as caught:
        codec.user_id_of(issued.token)
    assert caught.value.reason == "TOKEN_EXPIRED"


def test_the_token_cache_is_bounded() -> None:
    codec = AccessTokenCodec("k" * 32, "HS256", "iss", "aud", timedelta(minutes=15))
    for user_id in range(1, tokens_module.VERIFIED_CACHE_SIZE + 10):
        codec.user_id_of(codec.issue(user_id).token)
    assert len(codec._verified) == tokens_module.VERIFIED_CACHE_SIZE


async def test_sqlite_reads_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    database = Database(create_engine(url))
    writing = asyncio.Event()
    release = asyncio.Event()
    order: list[str] = []

    async def writer() -> None:
        async with database.transaction() as uow:  # BEGIN IMMEDIATE: the write lock
            await uow.users.add("w@example.com", "W", "hash")
            writing.set()
            await release.wait()
        order.append("writer committed")

    task = asyncio.create_task(writer())
    try:
        await writing.wait()
        # Before: a read began IMMEDIATE too, and waited here for the lock (or failed).
        async with database.transaction(read_only=True) as uow:
            assert await uow.users.get_with_resume_flag(1) is None  # not committed yet
        order.append("read done")
    finally:
        release.set()
        await task
        await database.dispose()
    assert order == ["read done", "writer committed"]

"""Idempotent refresh rotation: a retry within the grace gets the same successor.

A phone that loses the reply to RefreshToken retries with the token it still holds;
that must not sign it out. Presenting a rotated token after the grace is still theft,
and revokes the whole session. The clock is moved by ageing rows, never by sleeping.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select, update

from generated.samvaad.v1 import auth_pb2
from server.db.models import RefreshToken
from tests.helpers import Account, RunningServer, Stubs, expect_status, reason

UNAUTH = grpc.StatusCode.UNAUTHENTICATED
GRACE = 5


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"REFRESH_REUSE_GRACE_SECONDS": GRACE}


def refresh(stubs: Stubs, token: str) -> Any:
    return stubs.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=token), timeout=30)


async def age_rotations(running: RunningServer, seconds: float) -> None:
    async with running.app.database.transaction() as uow:
        await uow.session.execute(
            update(RefreshToken)
            .where(RefreshToken.revoke_reason == "rotated")
            .values(revoked_at=datetime.now(UTC) - timedelta(seconds=seconds))
        )


async def live_tokens(running: RunningServer, user_id: int) -> int:
    async with running.app.database.transaction() as uow:
        count = await uow.session.scalar(
            select(func.count())
            .select_from(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        )
    return int(count or 0)


async def test_twenty_parallel_refreshes_all_get_the_same_working_successor(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    start = asyncio.Event()

    async def racer() -> auth_pb2.RefreshTokenResponse:
        await start.wait()
        reply: auth_pb2.RefreshTokenResponse = await refresh(stubs, account.tokens.refresh_token)
        return reply

    tasks = [asyncio.create_task(racer()) for _ in range(20)]
    await asyncio.sleep(0)
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    replies = [r for r in results if isinstance(r, auth_pb2.RefreshTokenResponse)]
    assert len(replies) == 20, results
    successors = {reply.tokens.refresh_token for reply in replies}
    assert len(successors) == 1
    assert successors != {account.tokens.refresh_token}
    assert await live_tokens(running, account.user.id) == 1
    # Each reply's access token works, and the successor rotates on.
    await stubs.auth.GetMe(
        auth_pb2.GetMeRequest(),
        metadata=(("authorization", f"Bearer {replies[-1].tokens.access_token}"),),
    )
    onward = await refresh(stubs, successors.pop())
    assert onward.tokens.refresh_token not in {r.tokens.refresh_token for r in replies}


async def test_a_retry_within_the_grace_gets_the_same_successor(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    first = await refresh(stubs, account.tokens.refresh_token)
    await age_rotations(running, GRACE - 2)
    retry = await refresh(stubs, account.tokens.refresh_token)
    assert retry.tokens.refresh_token == first.tokens.refresh_token
    assert retry.tokens.refresh_token_expire_time == first.tokens.refresh_token_expire_time


async def test_reuse_after_the_grace_revokes_the_family(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    first = await refresh(stubs, account.tokens.refresh_token)
    await age_rotations(running, GRACE + 1)
    error = await expect_status(refresh(stubs, account.tokens.refresh_token), UNAUTH)
    assert reason(error) == "REFRESH_TOKEN_REVOKED"
    error = await expect_status(refresh(stubs, first.tokens.refresh_token), UNAUTH)
    assert reason(error) == "REFRESH_TOKEN_REVOKED"
    assert await live_tokens(running, account.user.id) == 0


async def test_an_old_token_after_the_session_moved_on_is_theft_even_within_the_grace(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    first = await refresh(stubs, account.tokens.refresh_token)
    second = await refresh(stubs, first.tokens.refresh_token)
    await expect_status(refresh(stubs, account.tokens.refresh_token), UNAUTH)
    await expect_status(refresh(stubs, second.tokens.refresh_token), UNAUTH)


@pytest.mark.parametrize("settings_overrides", [{"REFRESH_REUSE_GRACE_SECONDS": 0}])
async def test_no_grace_means_any_reuse_revokes(stubs: Stubs, account: Account) -> None:
    first = await refresh(stubs, account.tokens.refresh_token)
    await expect_status(refresh(stubs, account.tokens.refresh_token), UNAUTH)
    await expect_status(refresh(stubs, first.tokens.refresh_token), UNAUTH)


async def test_a_retry_after_logout_is_refused(stubs: Stubs, account: Account) -> None:
    first = await refresh(stubs, account.tokens.refresh_token)
    await stubs.auth.Logout(
        auth_pb2.LogoutRequest(refresh_token=first.tokens.refresh_token),
        metadata=(("authorization", f"Bearer {first.tokens.access_token}"),),
    )
    error = await expect_status(refresh(stubs, account.tokens.refresh_token), UNAUTH)
    assert reason(error) == "REFRESH_TOKEN_REVOKED"


@pytest.mark.parametrize(
    "token", ["smv_rt_" + "A" * 42 + "\x00", "smv_rt_" + "é" * 43, "smv_rt_" + "A" * 5000]
)
async def test_malformed_refresh_tokens_are_refused_before_sql(stubs: Stubs, token: str) -> None:
    error = await expect_status(refresh(stubs, token), UNAUTH)
    assert reason(error) == "REFRESH_TOKEN_INVALID"

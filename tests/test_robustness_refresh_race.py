"""One refresh token raced from several separate clients at once.

Each racer has its own channel (its own HTTP/2 connection), connected before the race
starts and released together, over several rounds. Exactly one wins each round, every
other racer is refused, and only one new token was ever issued for the session.
"""

from __future__ import annotations

import asyncio

import grpc
from sqlalchemy import func, select

from generated.samvaad.v1 import auth_pb2, auth_pb2_grpc
from server.db.models import RefreshToken
from tests.conftest import RunningServer, register
from tests.helpers import reason

RACERS = 8
ROUNDS = 4


async def race(address: str, refresh_token: str) -> list[object]:
    channels = [grpc.aio.insecure_channel(address) for _ in range(RACERS)]
    try:
        await asyncio.wait_for(
            asyncio.gather(*(channel.channel_ready() for channel in channels)), 10
        )
        start = asyncio.Event()
        request = auth_pb2.RefreshTokenRequest(refresh_token=refresh_token)

        async def racer(channel: grpc.aio.Channel) -> auth_pb2.RefreshTokenResponse:
            await start.wait()
            return await auth_pb2_grpc.AuthServiceStub(channel).RefreshToken(request, timeout=30)

        racers = [asyncio.create_task(racer(channel)) for channel in channels]
        await asyncio.sleep(0)  # every racer is waiting at the line
        start.set()
        return list(await asyncio.gather(*racers, return_exceptions=True))
    finally:
        await asyncio.gather(*(channel.close() for channel in channels))


async def tokens_of(running: RunningServer, user_id: int) -> int:
    async with running.app.database.transaction() as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(RefreshToken).where(RefreshToken.user_id == user_id)
        )
    return int(count or 0)


async def test_one_refresh_token_raced_from_separate_clients_has_exactly_one_winner(
    running: RunningServer,
) -> None:
    for _ in range(ROUNDS):
        account = await register(running.stubs)
        results = await race(running.address, account.tokens.refresh_token)
        winners = [r for r in results if isinstance(r, auth_pb2.RefreshTokenResponse)]
        losers = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(winners) == 1, results
        assert len(losers) == RACERS - 1, results
        assert {loser.code() for loser in losers} == {grpc.StatusCode.UNAUTHENTICATED}
        assert {reason(loser) for loser in losers} == {"REFRESH_TOKEN_REVOKED"}
        # The registration's token and the winner's: no loser got a token issued.
        assert await tokens_of(running, account.user.id) == 2

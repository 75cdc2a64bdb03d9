"""One refresh token raced from several separate clients at once.

Each racer has its own channel (its own HTTP/2 connection), connected before the race
starts and released together, over several rounds. A rotation is idempotent within the
refresh grace (a phone retrying after a lost reply must not sign itself out): every
racer gets the same successor, which works, and only one new token was ever issued.
"""

from __future__ import annotations

import asyncio

import grpc
from sqlalchemy import func, select

from generated.samvaad.v1 import auth_pb2, auth_pb2_grpc
from server.db.models import RefreshToken
from tests.helpers import RunningServer, register

RACERS = 8
ROUNDS = 4


async def race(address: str, refresh_token: str, racers: int = RACERS) -> list[object]:
    channels = [grpc.aio.insecure_channel(address) for _ in range(racers)]
    try:
        await asyncio.wait_for(
            asyncio.gather(*(channel.channel_ready() for channel in channels)), 10
        )
        start = asyncio.Event()
        request = auth_pb2.RefreshTokenRequest(refresh_token=refresh_token)

        async def racer(channel: grpc.aio.Channel) -> auth_pb2.RefreshTokenResponse:
            await start.wait()
            return await auth_pb2_grpc.AuthServiceStub(channel).RefreshToken(request, timeout=30)

        tasks = [asyncio.create_task(racer(channel)) for channel in channels]
        await asyncio.sleep(0)  # every racer is waiting at the line
        start.set()
        return list(await asyncio.gather(*tasks, return_exceptions=True))
    finally:
        await asyncio.gather(*(channel.close() for channel in channels))


async def tokens_of(running: RunningServer, user_id: int) -> int:
    async with running.app.database.transaction() as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(RefreshToken).where(RefreshToken.user_id == user_id)
        )
    return int(count or 0)


async def test_one_refresh_token_raced_from_separate_clients_gets_one_successor(
    running: RunningServer,
) -> None:
    for _ in range(ROUNDS):
        account = await register(running.stubs)
        results = await race(running.address, account.tokens.refresh_token)
        assert all(isinstance(r, auth_pb2.RefreshTokenResponse) for r in results), results
        replies = [r for r in results if isinstance(r, auth_pb2.RefreshTokenResponse)]
        assert len({reply.tokens.refresh_token for reply in replies}) == 1
        assert len({reply.tokens.refresh_token_expire_time.seconds for reply in replies}) == 1
        # The registration's token and the one successor: nobody else got a token issued.
        assert await tokens_of(running, account.user.id) == 2
        # The successor is live and rotates on.
        onward = await running.stubs.auth.RefreshToken(
            auth_pb2.RefreshTokenRequest(refresh_token=replies[0].tokens.refresh_token)
        )
        assert onward.tokens.refresh_token != replies[0].tokens.refresh_token

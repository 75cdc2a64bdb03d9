"""The sign-in and registration throttles under hostile load, on every database backend.

Password checks are counted with a real PasswordHasher subclass. Races are released
together (an Event), and several services on their own engines stand in for worker
processes sharing one database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from ipaddress import ip_network
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from sqlalchemy import func, select, update

from generated.samvaad.v1 import auth_pb2
from server.api.auth_servicer import client_address, peer_address
from server.db.engine import create_engine
from server.db.models import AuthThrottle
from server.domain.auth import AuthService
from server.domain.passwords import PasswordHasher
from server.domain.throttles import PURGE_BATCH, address_bucket
from server.domain.tokens import AccessTokenCodec
from server.errors import ResourceExhausted, Unauthenticated
from server.repositories.unit_of_work import Database
from tests.helpers import RunningServer, detail, expect_status, make_settings, reason, register

MAX_FAILURES = 5
PASSWORD = "correct horse 1"


class CountingHasher(PasswordHasher):
    """A real argon2 hasher that counts the password checks it runs."""

    def __init__(self) -> None:
        super().__init__("test_only_cheap", concurrency=2)
        self.checks = 0

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.checks += 1
        return await super().verify(password_hash, password)


Factory = Callable[..., tuple[AuthService, CountingHasher]]


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[Factory]:
    """Makes AuthServices on `database_url`, each with its own engine: separate workers."""
    made: list[tuple[Database, PasswordHasher]] = []

    def make(**overrides: Any) -> tuple[AuthService, CountingHasher]:
        settings = make_settings(database_url, **{"LOGIN_MAX_FAILURES": MAX_FAILURES, **overrides})
        database = Database(create_engine(database_url))
        hasher = CountingHasher()
        codec = AccessTokenCodec(
            settings.jwt_secret_key.get_secret_value(),
            settings.jwt_algorithm,
            settings.jwt_issuer,
            settings.jwt_audience,
            timedelta(minutes=15),
        )
        made.append((database, hasher))
        return AuthService.from_settings(settings, database, hasher, codec), hasher

    yield make
    for database, hasher in made:
        hasher.close()
        await database.dispose()


async def released_together(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    start = asyncio.Event()

    async def run(call: Callable[[], Any]) -> Any:
        await start.wait()
        return await call()

    tasks = [asyncio.create_task(run(call)) for call in calls]
    await asyncio.sleep(0)
    start.set()
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def reasons_of(results: list[Any]) -> list[str]:
    return [getattr(r, "reason", "OK") for r in results]


# --- item 1: parallel guesses --------------------------------------------------------


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"LOGIN_MAX_FAILURES": MAX_FAILURES}


async def test_parallel_guesses_get_at_most_max_failures_password_checks(
    running: RunningServer,
) -> None:
    account = await register(running.stubs, password=PASSWORD)
    hasher = CountingHasher()
    running.app.auth._hasher = hasher  # the server's own checks, counted
    try:
        request = auth_pb2.LoginRequest(email=account.user.email, password="wrong guess")
        results = await released_together(
            [lambda: running.stubs.auth.Login(request, timeout=30) for _ in range(50)]
        )
        assert all(isinstance(r, grpc.aio.AioRpcError) for r in results), results
        codes = [r.code() for r in results]
        assert hasher.checks == MAX_FAILURES
        assert codes.count(grpc.StatusCode.UNAUTHENTICATED) == MAX_FAILURES
        throttled = [r for r in results if r.code() == grpc.StatusCode.RESOURCE_EXHAUSTED]
        assert len(throttled) == 50 - MAX_FAILURES
        assert {reason(r) for r in throttled} == {"LOGIN_THROTTLED"}
        # The right password, after the burst, is refused without a check.
        error = await expect_status(
            running.stubs.auth.Login(
                auth_pb2.LoginRequest(email=account.user.email, password=PASSWORD)
            ),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        )
        assert detail(error, error_details_pb2.RetryInfo).retry_delay.seconds > 0
        assert hasher.checks == MAX_FAILURES
    finally:
        hasher.close()


async def test_workers_sharing_a_database_share_the_account_budget(services: Factory) -> None:
    pairs = [services() for _ in range(3)]
    await pairs[0][0].register("shared@example.com", PASSWORD, "Owner", peer="198.51.100.1")
    calls = [
        partial(worker.login, "shared@example.com", "wrong guess", "203.0.113.9")
        for worker, _ in pairs
        for _ in range(17)
    ]
    results = await released_together(calls)
    assert sum(hasher.checks for _, hasher in pairs) == MAX_FAILURES
    assert reasons_of(results).count("BAD_CREDENTIALS") == MAX_FAILURES
    assert reasons_of(results).count("LOGIN_THROTTLED") == len(calls) - MAX_FAILURES


# --- item 9: per-address and overall budgets ------------------------------------------


@pytest.mark.parametrize("settings_overrides", [{"LOGIN_ADDRESS_MAX_FAILURES": 10}])
async def test_failed_logins_from_one_address_over_many_accounts_are_throttled(
    running: RunningServer,
) -> None:
    accounts = [await register(running.stubs) for _ in range(12)]
    results = []
    for account in accounts:
        for _ in range(4):  # below every account's own budget
            request = auth_pb2.LoginRequest(email=account.user.email, password="wrong guess")
            try:
                await running.stubs.auth.Login(request)
            except grpc.aio.AioRpcError as error:
                results.append(error)
    assert [r.code() for r in results[:10]] == [grpc.StatusCode.UNAUTHENTICATED] * 10
    limited = results[10:]
    assert len(limited) == 38
    assert {r.code() for r in limited} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert {reason(r) for r in limited} == {"LOGIN_RATE_LIMITED"}
    assert detail(limited[0], error_details_pb2.RetryInfo).retry_delay.seconds > 0


@pytest.mark.parametrize("settings_overrides", [{"REGISTER_MAX_PER_ADDRESS": 5}])
async def test_registrations_from_one_address_are_throttled(running: RunningServer) -> None:
    requests = [
        auth_pb2.RegisterRequest(email=f"new-{i}@example.com", password=PASSWORD, name="N")
        for i in range(30)
    ]
    results = await released_together(
        [partial(running.stubs.auth.Register, request) for request in requests]
    )
    created = [r for r in results if isinstance(r, auth_pb2.RegisterResponse)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(created) == 5
    assert {r.code() for r in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert {reason(r) for r in refused} == {"REGISTRATION_RATE_LIMITED"}
    delay = detail(refused[0], error_details_pb2.RetryInfo).retry_delay.seconds
    assert 0 < delay <= 3600


async def test_overall_budgets_hold_across_addresses(services: Factory) -> None:
    service, _ = services(REGISTER_GLOBAL_MAX_PER_MINUTE=8, LOGIN_GLOBAL_MAX_FAILURES_PER_MINUTE=6)
    results = await released_together(
        [
            partial(service.register, f"g{i}@example.com", PASSWORD, "G", f"192.0.2.{i}")
            for i in range(20)
        ]
    )
    assert sum(1 for r in results if isinstance(r, tuple)) == 8
    assert reasons_of(results).count("REGISTRATION_RATE_LIMITED") == 12
    failures = await released_together(
        [
            partial(service.login, f"g{i}@example.com", "wrong guess", f"198.51.100.{i}")
            for i in range(20)
        ]
    )
    assert reasons_of(failures).count("BAD_CREDENTIALS") == 6
    assert reasons_of(failures).count("LOGIN_RATE_LIMITED") == 14


async def test_successful_logins_do_not_use_up_the_address_budget(services: Factory) -> None:
    service, _ = services(LOGIN_ADDRESS_MAX_FAILURES=2)
    await service.register("often@example.com", PASSWORD, "Often", "192.0.2.1")
    for _ in range(6):
        await service.login("often@example.com", PASSWORD, "192.0.2.1")
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await service.login("often@example.com", "wrong guess", "192.0.2.1")
    with pytest.raises(ResourceExhausted) as caught:
        await service.login("often@example.com", PASSWORD, "192.0.2.1")
    assert caught.value.reason == "LOGIN_RATE_LIMITED"


async def test_a_stranger_cannot_lock_the_owner_out(services: Factory) -> None:
    service, hasher = services()
    owner, stranger, newcomer = "192.0.2.10", "203.0.113.66", "198.51.100.20"
    await service.register("owner@example.com", PASSWORD, "Owner", owner)
    for _ in range(MAX_FAILURES):
        with pytest.raises(Unauthenticated):
            await service.login("owner@example.com", "guess", stranger)
    # The stranger is locked out, and so is any address the account never signed in from...
    for address in (stranger, newcomer):
        with pytest.raises(ResourceExhausted) as caught:
            await service.login("owner@example.com", PASSWORD, address)
        assert caught.value.reason == "LOGIN_THROTTLED"
    # ...but the owner, from where they signed in before, is not.
    await service.login("owner@example.com", PASSWORD, owner)
    # A known address has its own budget, of the same size.
    for _ in range(MAX_FAILURES):
        with pytest.raises(Unauthenticated):
            await service.login("owner@example.com", "guess", owner)
    with pytest.raises(ResourceExhausted):
        await service.login("owner@example.com", PASSWORD, owner)
    assert hasher.checks == 2 * MAX_FAILURES + 1


async def test_throttle_rows_are_fixed_size_and_expire(services: Factory) -> None:
    service, _ = services()
    database = service._db
    for i in range(PURGE_BATCH + 10):
        with pytest.raises(Unauthenticated):
            await service.login(f"nobody-{i}@example.com", "guess", f"192.0.2.{i % 250}")
    async with database.transaction() as uow:
        keys = list(await uow.session.scalars(select(AuthThrottle.key)))
        before = len(keys)
        # Everything is over: move it all past its expiry.
        await uow.session.execute(
            update(AuthThrottle).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert before > PURGE_BATCH
    assert {len(key) for key in keys} == {64}
    assert not any("nobody" in key for key in keys)
    with pytest.raises(Unauthenticated):
        await service.login("last@example.com", "guess", "192.0.2.1")
    async with database.transaction() as uow:
        after = await uow.session.scalar(select(func.count()).select_from(AuthThrottle))
    # One write deleted a bounded batch of expired rows and added its own few.
    assert after is not None and after <= before - PURGE_BATCH + 3


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:203.0.113.5:51234", "203.0.113.5"),
        ("ipv6:[2001:db8::1]:443", "2001:db8::1"),
        ("ipv6:[::ffff:192.0.2.1]:80", "::ffff:192.0.2.1"),
        ("unix:/tmp/samvaad.sock", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_the_servicer_gives_the_domain_the_ip_without_port(peer: str | None, address: str) -> None:
    assert peer_address(peer) == address


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("", "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_ipv6_clients_are_budgeted_per_64(address: str, bucket: str) -> None:
    assert address_bucket(address) == bucket


PROXIES = (ip_network("10.0.0.0/8"), ip_network("2001:db8:ffff::/48"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "address"),
    [
        # A direct client: its own x-forwarded-for is a lie and is ignored.
        ("ipv4:203.0.113.5:1", "192.0.2.1", "203.0.113.5"),
        # Through a trusted proxy: the nearest hop the proxies did not add.
        ("ipv4:10.0.0.2:1", "192.0.2.1", "192.0.2.1"),
        ("ipv4:10.0.0.2:1", "198.51.100.9, 192.0.2.1, 10.1.1.1", "192.0.2.1"),
        ("ipv6:[2001:db8:ffff::2]:1", "2001:db8:1::5", "2001:db8:1::5"),
        # A trusted proxy that forwarded nothing usable.
        ("ipv4:10.0.0.2:1", "", "10.0.0.2"),
        ("ipv4:10.0.0.2:1", "garbage", ""),
    ],
)
def test_x_forwarded_for_counts_only_from_trusted_proxies(
    peer: str, forwarded: str, address: str
) -> None:
    metadata = [("x-forwarded-for", forwarded)] if forwarded else []
    assert client_address(peer, metadata, PROXIES) == address


@pytest.mark.parametrize(
    ("settings_overrides", "separate"),
    [
        ({"REGISTER_MAX_PER_ADDRESS": 2, "TRUSTED_PROXIES": "127.0.0.1"}, True),
        ({"REGISTER_MAX_PER_ADDRESS": 2}, False),
    ],
)
async def test_clients_behind_a_trusted_proxy_get_their_own_budgets(
    running: RunningServer, separate: bool
) -> None:
    async def register_from(client: str, n: int) -> Any:
        return await running.stubs.auth.Register(
            auth_pb2.RegisterRequest(email=f"p{n}@example.com", password=PASSWORD, name="P"),
            metadata=(("x-forwarded-for", client),),
        )

    await register_from("192.0.2.1", 1)
    await register_from("192.0.2.1", 2)
    await expect_status(register_from("192.0.2.1", 3), grpc.StatusCode.RESOURCE_EXHAUSTED)
    if separate:
        await register_from("192.0.2.2", 4)
    else:  # without a trusted proxy the header is the client's word, and ignored
        await expect_status(register_from("192.0.2.2", 4), grpc.StatusCode.RESOURCE_EXHAUSTED)

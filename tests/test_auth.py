"""AuthService end to end through a real server, on every database backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from generated.samvaad.v1 import auth_pb2
from tests.helpers import (
    Account,
    RunningServer,
    Stubs,
    detail,
    expect_status,
    reason,
    register,
    violated_fields,
)

UNAUTH = grpc.StatusCode.UNAUTHENTICATED


async def test_register_returns_user_and_tokens(stubs: Stubs) -> None:
    reply = await stubs.auth.Register(
        auth_pb2.RegisterRequest(email="  Asha@Example.COM ", password="s3cret-pass", name=" Asha ")
    )
    assert reply.user.id > 0
    assert reply.user.email == "asha@example.com"
    assert reply.user.name == "Asha"
    assert not reply.user.has_resume
    now = datetime.now(UTC)
    assert abs(reply.user.create_time.ToDatetime(UTC) - now) < timedelta(minutes=1)
    tokens = reply.tokens
    assert tokens.token_type == "Bearer"
    assert tokens.access_token.count(".") == 2
    access_ttl = tokens.access_token_expire_time.ToDatetime(UTC) - now
    assert timedelta(minutes=14) < access_ttl <= timedelta(minutes=15)
    refresh_ttl = tokens.refresh_token_expire_time.ToDatetime(UTC) - now
    assert timedelta(days=29) < refresh_ttl <= timedelta(days=30)


async def test_taken_email_is_already_exists_whatever_its_case(stubs: Stubs) -> None:
    await register(stubs, "taken@example.com")
    error = await expect_status(
        stubs.auth.Register(
            auth_pb2.RegisterRequest(email="TAKEN@example.com ", password="another-pass", name="B")
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert reason(error) == "EMAIL_TAKEN"


async def test_concurrent_registrations_of_one_email_create_one_account(stubs: Stubs) -> None:
    calls = [
        stubs.auth.Register(
            auth_pb2.RegisterRequest(email="race@example.com", password="pass-word-1", name="R")
        )
        for _ in range(4)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    successes = [r for r in results if isinstance(r, auth_pb2.RegisterResponse)]
    failures = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(successes) == 1
    assert {f.code() for f in failures} == {grpc.StatusCode.ALREADY_EXISTS}


@pytest.mark.parametrize(
    ("email", "password", "name", "bad_fields"),
    [
        ("not-an-email", "long-enough", "A", {"email"}),
        ("", "long-enough", "A", {"email"}),
        ("a@example.com", "short", "A", {"password"}),
        ("a@example.com", "x" * 1025, "A", {"password"}),
        ("a@example.com", "long-enough", "", {"name"}),
        ("a@example.com", "long-enough", "n" * 129, {"name"}),
        ("a@example.com", "long-enough", "bad\x00name", {"name"}),
        ("bad", "short", "   ", {"email", "password", "name"}),
    ],
)
async def test_register_rejects_bad_fields_with_field_violations(
    stubs: Stubs, email: str, password: str, name: str, bad_fields: set[str]
) -> None:
    error = await expect_status(
        stubs.auth.Register(auth_pb2.RegisterRequest(email=email, password=password, name=name)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert violated_fields(error) == bad_fields


async def test_password_limits_are_in_bytes(stubs: Stubs) -> None:
    # 4 characters, 8 bytes of UTF-8: long enough.
    await register(stubs, password="éééé")
    # 1024 bytes exactly is allowed.
    await register(stubs, password="é" * 512)


async def test_login_returns_new_tokens(stubs: Stubs, account: Account) -> None:
    reply = await stubs.auth.Login(
        auth_pb2.LoginRequest(email=account.user.email.upper(), password=account.password)
    )
    assert reply.user.id == account.user.id
    assert reply.tokens.refresh_token != account.tokens.refresh_token
    me = await stubs.auth.GetMe(
        auth_pb2.GetMeRequest(),
        metadata=(("authorization", f"Bearer {reply.tokens.access_token}"),),
    )
    assert me.user.email == account.user.email


async def test_unknown_email_and_wrong_password_get_the_same_answer(
    stubs: Stubs, account: Account
) -> None:
    wrong_password = await expect_status(
        stubs.auth.Login(auth_pb2.LoginRequest(email=account.user.email, password="wrong-pass")),
        UNAUTH,
    )
    unknown_email = await expect_status(
        stubs.auth.Login(auth_pb2.LoginRequest(email="nobody@example.com", password="wrong-pass")),
        UNAUTH,
    )
    assert wrong_password.details() == unknown_email.details()
    assert reason(wrong_password) == reason(unknown_email) == "BAD_CREDENTIALS"


async def test_login_without_fields_is_invalid_argument(stubs: Stubs) -> None:
    error = await expect_status(
        stubs.auth.Login(auth_pb2.LoginRequest()), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert violated_fields(error) == {"email", "password"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"LOGIN_MAX_FAILURES": 3, "LOGIN_LOCKOUT_SECONDS": 120}


async def test_repeated_failures_throttle_the_account_with_retry_info(
    stubs: Stubs, account: Account
) -> None:
    for _ in range(3):
        await expect_status(
            stubs.auth.Login(
                auth_pb2.LoginRequest(email=account.user.email, password="wrong-pass")
            ),
            UNAUTH,
        )
    # Even the right password is refused while the lock lasts.
    error = await expect_status(
        stubs.auth.Login(
            auth_pb2.LoginRequest(email=account.user.email, password=account.password)
        ),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    assert reason(error) == "LOGIN_THROTTLED"
    delay = detail(error, error_details_pb2.RetryInfo).retry_delay
    assert 60 < delay.seconds <= 120
    # Other accounts are unaffected.
    other = await register(stubs)
    await stubs.auth.Login(auth_pb2.LoginRequest(email=other.user.email, password=other.password))


async def test_unknown_emails_are_throttled_too(stubs: Stubs) -> None:
    """Otherwise the throttle itself would reveal which emails have accounts."""
    for _ in range(3):
        await expect_status(
            stubs.auth.Login(
                auth_pb2.LoginRequest(email="ghost@example.com", password="guess-123")
            ),
            UNAUTH,
        )
    await expect_status(
        stubs.auth.Login(auth_pb2.LoginRequest(email="ghost@example.com", password="guess-123")),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )


async def test_failures_below_the_limit_are_forgotten_after_success(
    stubs: Stubs, account: Account
) -> None:
    for _ in range(2):
        await expect_status(
            stubs.auth.Login(
                auth_pb2.LoginRequest(email=account.user.email, password="wrong-pass")
            ),
            UNAUTH,
        )
    await stubs.auth.Login(
        auth_pb2.LoginRequest(email=account.user.email, password=account.password)
    )
    for _ in range(2):
        await expect_status(
            stubs.auth.Login(
                auth_pb2.LoginRequest(email=account.user.email, password="wrong-pass")
            ),
            UNAUTH,
        )
    await stubs.auth.Login(
        auth_pb2.LoginRequest(email=account.user.email, password=account.password)
    )


async def test_refresh_rotates_the_token(stubs: Stubs, account: Account) -> None:
    first = await stubs.auth.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=account.tokens.refresh_token)
    )
    assert first.tokens.refresh_token != account.tokens.refresh_token
    second = await stubs.auth.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=first.tokens.refresh_token)
    )
    await stubs.auth.GetMe(
        auth_pb2.GetMeRequest(),
        metadata=(("authorization", f"Bearer {second.tokens.access_token}"),),
    )


async def age_rotations(running: RunningServer, seconds: float = 3600) -> None:
    """Move every rotation `seconds` into the past: past the refresh grace, without sleeping."""
    from sqlalchemy import update

    from server.db.models import RefreshToken

    async with running.app.database.transaction() as uow:
        await uow.session.execute(
            update(RefreshToken)
            .where(RefreshToken.revoke_reason == "rotated")
            .values(revoked_at=datetime.now(UTC) - timedelta(seconds=seconds))
        )


async def test_reusing_a_rotated_token_revokes_the_whole_family(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    rotated = await stubs.auth.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=account.tokens.refresh_token)
    )
    await age_rotations(running)
    error = await expect_status(
        stubs.auth.RefreshToken(
            auth_pb2.RefreshTokenRequest(refresh_token=account.tokens.refresh_token)
        ),
        UNAUTH,
    )
    assert reason(error) == "REFRESH_TOKEN_REVOKED"
    # The thief's replay also killed the legitimate holder's newer token.
    await expect_status(
        stubs.auth.RefreshToken(
            auth_pb2.RefreshTokenRequest(refresh_token=rotated.tokens.refresh_token)
        ),
        UNAUTH,
    )


async def test_other_sessions_survive_a_family_revocation(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    other_session = await stubs.auth.Login(
        auth_pb2.LoginRequest(email=account.user.email, password=account.password)
    )
    await stubs.auth.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=account.tokens.refresh_token)
    )
    await age_rotations(running)
    await expect_status(
        stubs.auth.RefreshToken(
            auth_pb2.RefreshTokenRequest(refresh_token=account.tokens.refresh_token)
        ),
        UNAUTH,
    )
    await stubs.auth.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=other_session.tokens.refresh_token)
    )


async def test_the_same_refresh_token_raced_gets_one_successor(
    stubs: Stubs, account: Account
) -> None:
    request = auth_pb2.RefreshTokenRequest(refresh_token=account.tokens.refresh_token)
    results = await asyncio.gather(*(stubs.auth.RefreshToken(request) for _ in range(2)))
    assert len({r.tokens.refresh_token for r in results}) == 1


@pytest.mark.parametrize("token", ["", "smv_rt_made-up", "eyJhbGciOiJIUzI1NiJ9.e30.x"])
async def test_refresh_with_bad_tokens(stubs: Stubs, token: str) -> None:
    code = grpc.StatusCode.INVALID_ARGUMENT if not token else UNAUTH
    await expect_status(
        stubs.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=token)), code
    )


async def test_expired_refresh_token_is_refused(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    from sqlalchemy import update

    from server.db.models import RefreshToken

    async with running.app.database.transaction() as uow:
        await uow.session.execute(
            update(RefreshToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    error = await expect_status(
        stubs.auth.RefreshToken(
            auth_pb2.RefreshTokenRequest(refresh_token=account.tokens.refresh_token)
        ),
        UNAUTH,
    )
    assert reason(error) == "REFRESH_TOKEN_EXPIRED"


async def test_logout_revokes_the_refresh_token(stubs: Stubs, account: Account) -> None:
    await stubs.auth.Logout(
        auth_pb2.LogoutRequest(refresh_token=account.tokens.refresh_token),
        metadata=account.metadata,
    )
    await expect_status(
        stubs.auth.RefreshToken(
            auth_pb2.RefreshTokenRequest(refresh_token=account.tokens.refresh_token)
        ),
        UNAUTH,
    )
    # Logging out twice is fine.
    await stubs.auth.Logout(
        auth_pb2.LogoutRequest(refresh_token=account.tokens.refresh_token),
        metadata=account.metadata,
    )


async def test_logout_needs_auth_and_the_callers_own_token(stubs: Stubs, account: Account) -> None:
    await expect_status(
        stubs.auth.Logout(auth_pb2.LogoutRequest(refresh_token=account.tokens.refresh_token)),
        UNAUTH,
    )
    other = await register(stubs)
    await expect_status(
        stubs.auth.Logout(
            auth_pb2.LogoutRequest(refresh_token=account.tokens.refresh_token),
            metadata=other.metadata,
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await stubs.auth.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=account.tokens.refresh_token)
    )


async def test_login_rehashes_passwords_made_with_other_parameters(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    from server.domain.passwords import PasswordHasher

    # A hash from before a parameter change: OWASP's, while this server runs another profile.
    old_hash = await PasswordHasher("owasp").hash(account.password)
    async with running.app.database.transaction() as uow:
        await uow.users.set_password_hash(account.user.id, old_hash)
    await stubs.auth.Login(
        auth_pb2.LoginRequest(email=account.user.email, password=account.password)
    )
    async with running.app.database.transaction() as uow:
        user = await uow.users.get(account.user.id)
        assert user is not None
    assert user.password_hash != old_hash
    assert "m=19456,t=2,p=1" not in user.password_hash
    assert not running.app.hasher.needs_rehash(user.password_hash)
    await stubs.auth.Login(
        auth_pb2.LoginRequest(email=account.user.email, password=account.password)
    )


async def test_passwords_are_stored_as_argon2id_hashes(
    running: RunningServer, account: Account
) -> None:
    async with running.app.database.transaction() as uow:
        user = await uow.users.get(account.user.id)
        assert user is not None
    assert user.password_hash.startswith("$argon2id$")
    assert account.password not in user.password_hash

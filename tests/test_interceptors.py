"""The authentication and error interceptors, through a real server."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import jwt
import pytest

from generated.samvaad.v1 import auth_pb2, transcription_pb2
from server.api.interceptors import CallInterceptor
from server.config import DEFAULT_JWT_SECRET
from server.logs import JsonFormatter
from tests.helpers import Account, RunningServer, Stubs, expect_status, reason

UNAUTH = grpc.StatusCode.UNAUTHENTICATED


def _claims(user_id: int, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": "test",
        "typ": "access",
        "iss": "samvaad",
        "aud": "samvaad-api",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], key: str = DEFAULT_JWT_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _unsigned(claims: dict[str, Any]) -> str:
    def b64(part: dict[str, Any]) -> str:
        raw = json.dumps(part, default=lambda d: int(d.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def test_get_me_with_a_valid_token(stubs: Stubs, account: Account) -> None:
    reply = await stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata)
    assert reply.user.id == account.user.id


def _bad_tokens(account: Account) -> dict[str, tuple[tuple[str, str], ...]]:
    uid = account.user.id
    good = account.tokens.access_token
    head, _body, signature = good.split(".")
    tampered_body = (
        base64.urlsafe_b64encode(
            json.dumps(
                {**jwt.decode(good, options={"verify_signature": False}), "sub": "999"}
            ).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    return {
        "missing": (),
        "empty": (("authorization", ""),),
        "not bearer": (("authorization", f"Basic {good}"),),
        "bearer without token": (("authorization", "Bearer "),),
        "garbage": _bearer("not-a-jwt"),
        "expired": _bearer(_sign(_claims(uid, exp=datetime.now(UTC) - timedelta(minutes=1)))),
        "tampered": _bearer(f"{head}.{tampered_body}.{signature}"),
        "alg none": _bearer(_unsigned(_claims(uid))),
        "wrong key": _bearer(_sign(_claims(uid), key="another-secret-of-reasonable-length-123")),
        "other algorithm": _bearer(_sign(_claims(uid), alg="HS512")),
        "wrong issuer": _bearer(_sign(_claims(uid, iss="someone-else"))),
        "wrong audience": _bearer(_sign(_claims(uid, aud="another-api"))),
        "no jti": _bearer(_sign(_claims(uid, jti=None))),
        "refresh type": _bearer(_sign(_claims(uid, typ="refresh"))),
        "refresh token itself": _bearer(account.tokens.refresh_token),
        "non-numeric subject": _bearer(_sign(_claims(uid, sub="admin"))),
    }


BAD_TOKEN_CASES = [
    "missing", "empty", "not bearer", "bearer without token", "garbage", "expired", "tampered",
    "alg none", "wrong key", "other algorithm", "wrong issuer", "wrong audience", "no jti",
    "refresh type", "refresh token itself", "non-numeric subject",
]  # fmt: skip


# The "other algorithm" token is signed HS512 with a key too short for it, on purpose.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
async def test_bad_credentials_are_unauthenticated(
    stubs: Stubs, account: Account, case: str
) -> None:
    metadata = _bad_tokens(account)[case]
    error = await expect_status(
        stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=metadata), UNAUTH
    )
    assert error.details()
    assert reason(error).startswith("TOKEN_")


async def test_expired_token_says_so(stubs: Stubs, account: Account) -> None:
    token = _sign(_claims(account.user.id, exp=datetime.now(UTC) - timedelta(minutes=1)))
    error = await expect_status(
        stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=_bearer(token)), UNAUTH
    )
    assert reason(error) == "TOKEN_EXPIRED"
    assert "RefreshToken" in error.details()


async def test_a_deleted_users_token_is_refused(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    from sqlalchemy import delete

    from server.db.models import User

    async with running.app.database.transaction() as uow:
        await uow.session.execute(delete(User).where(User.id == account.user.id))
    error = await expect_status(
        stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata), UNAUTH
    )
    assert reason(error) == "USER_NOT_FOUND"


async def test_streaming_methods_are_guarded_too(stubs: Stubs, account: Account) -> None:
    async def requests() -> Any:
        yield transcription_pb2.TranscribeAnswerRequest(
            config=transcription_pb2.AudioConfig(question_attempt_id=1)
        )

    await expect_status(stubs.transcription.TranscribeAnswer(requests()), UNAUTH)
    bad = _bearer(_sign(_claims(account.user.id), key="wrong-key-wrong-key-wrong-key-123"))
    await expect_status(stubs.transcription.TranscribeAnswer(requests(), metadata=bad), UNAUTH)
    # With a good token the call gets past authentication to the service itself.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.transcription.TranscribeAnswer(requests(), metadata=account.metadata)
    assert caught.value.code() != UNAUTH


async def test_public_methods_need_no_token(stubs: Stubs) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    health = health_pb2_grpc.HealthStub(stubs.channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    await expect_status(
        stubs.auth.Login(auth_pb2.LoginRequest(email="a@example.com", password="whatever-1")),
        UNAUTH,
    )


async def test_request_id_is_echoed_and_logged(stubs: Stubs, account: Account) -> None:
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    handler = Capture()
    logging.getLogger("samvaad.rpc").addHandler(handler)
    logging.getLogger("samvaad.rpc").setLevel(logging.INFO)
    try:
        call = stubs.auth.GetMe(
            auth_pb2.GetMeRequest(), metadata=(*account.metadata, ("x-request-id", "req-abc-123"))
        )
        await call
        trailers = dict(await call.trailing_metadata())
    finally:
        logging.getLogger("samvaad.rpc").removeHandler(handler)
    assert trailers["x-request-id"] == "req-abc-123"
    entries = [json.loads(line) for line in lines]
    mine = [e for e in entries if e.get("request_id") == "req-abc-123"]
    assert mine and mine[0]["method"] == "/samvaad.v1.AuthService/GetMe"
    assert mine[0]["code"] == "OK"


async def test_unsafe_request_ids_are_replaced(stubs: Stubs, account: Account) -> None:
    call = stubs.auth.GetMe(
        auth_pb2.GetMeRequest(),
        metadata=(*account.metadata, ("x-request-id", "bad id with spaces!")),
    )
    await call
    request_id = dict(await call.trailing_metadata())["x-request-id"]
    assert request_id != "bad id with spaces!"
    assert len(request_id) == 32


async def _explodes(request: Any, context: Any) -> Any:
    """Stands in for a servicer with a bug."""
    raise ValueError("secret internal detail: password=hunter2")


async def _nobody(access_token: str, *, reads_account: bool = False) -> int:
    raise AssertionError("a public method was authenticated")


async def test_unexpected_errors_become_internal_without_internals() -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    server = grpc.aio.server(interceptors=[CallInterceptor(_nobody)])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "grpc.health.v1.Health",
                {
                    "Check": grpc.unary_unary_rpc_method_handler(
                        _explodes,
                        request_deserializer=health_pb2.HealthCheckRequest.FromString,
                        response_serializer=health_pb2.HealthCheckResponse.SerializeToString,
                    )
                },
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            call = stub.Check(health_pb2.HealthCheckRequest())
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
    finally:
        await server.stop(0)
    error = caught.value
    assert error.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in (error.details() or "")
    request_id = dict(error.trailing_metadata() or ())["x-request-id"]
    assert request_id in (error.details() or "")

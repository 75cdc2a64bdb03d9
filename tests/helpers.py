"""Helpers for tests: settings, a real in-process server, accounts, and assertions on
gRPC errors and their google.rpc details."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from generated.samvaad.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    interview_pb2_grpc,
    resume_pb2_grpc,
    transcription_pb2_grpc,
)
from server.app import App, build_app, create_server, mark_serving, shut_down
from server.config import Settings
from server.engines.stt import TranscriptionEngine

T = TypeVar("T")

DETAILS_KEY = "grpc-status-details-bin"


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    for key, value in error.trailing_metadata() or ():
        if key == DETAILS_KEY:
            status = status_pb2.Status()
            status.ParseFromString(value)
            return status
    raise AssertionError(f"no {DETAILS_KEY} in the trailers of {error.code()}: {error.details()}")


def detail(error: grpc.aio.AioRpcError, kind: type[T]) -> T:
    for packed in rich_status(error).details:
        message = kind()
        if packed.Unpack(message):
            return message
    raise AssertionError(f"no {kind.__name__} detail on {error.code()}: {error.details()}")


def reason(error: grpc.aio.AioRpcError) -> str:
    return str(detail(error, error_details_pb2.ErrorInfo).reason)


def violated_fields(error: grpc.aio.AioRpcError) -> set[str]:
    return {v.field for v in detail(error, error_details_pb2.BadRequest).field_violations}


async def expect_status(call: Awaitable[Any], code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, f"{caught.value.code()}: {caught.value.details()}"
    return caught.value


# --- settings, servers and accounts ------------------------------------------------


def make_settings(database_url: str = "sqlite+aiosqlite:///:memory:", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "BACKEND_SERVER_HOST": "127.0.0.1",
        "BACKEND_SERVER_PORT": 0,
        "ENVIRONMENT": "test",
        "PASSWORD_HASH_PROFILE": "test_only_cheap",
        "SERVER_GRACE_PERIOD_SECONDS": 1,
        "LOG_FORMAT": "console",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class Stubs:
    channel: grpc.aio.Channel
    auth: auth_pb2_grpc.AuthServiceStub
    resume: resume_pb2_grpc.ResumeServiceStub
    interview: interview_pb2_grpc.InterviewServiceStub
    transcription: transcription_pb2_grpc.TranscriptionServiceStub


@dataclass
class RunningServer:
    app: App
    server: grpc.aio.Server
    port: int
    stubs: Stubs

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def stubs_for(channel: grpc.aio.Channel) -> Stubs:
    return Stubs(
        channel=channel,
        auth=auth_pb2_grpc.AuthServiceStub(channel),
        resume=resume_pb2_grpc.ResumeServiceStub(channel),
        interview=interview_pb2_grpc.InterviewServiceStub(channel),
        transcription=transcription_pb2_grpc.TranscriptionServiceStub(channel),
    )


async def start_server(
    settings: Settings, stt_engine: TranscriptionEngine | None = None
) -> RunningServer:
    app = build_app(settings, stt_engine=stt_engine)
    server = create_server(app)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await mark_serving(app)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    return RunningServer(app=app, server=server, port=port, stubs=stubs_for(channel))


async def stop_server(running: RunningServer) -> None:
    await running.stubs.channel.close()
    await shut_down(running.server, running.app)


@dataclass
class Account:
    user: auth_pb2.User
    tokens: auth_pb2.AuthTokens
    password: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.tokens.access_token}"),)


async def register(
    stubs: Stubs, email: str | None = None, password: str = "correct horse 1"
) -> Account:
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    reply = await stubs.auth.Register(
        auth_pb2.RegisterRequest(email=email, password=password, name="Test User")
    )
    return Account(reply.user, reply.tokens, password)


ASSETS = Path(__file__).parent / "assets"


def openai_settings(fake: Any, **overrides: Any) -> dict[str, Any]:
    """Settings overrides that point the server at a FakeOpenAI."""
    return {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_TIMEOUT_SECONDS": 2,
        "OPENAI_MAX_RETRIES": 1,
        **overrides,
    }

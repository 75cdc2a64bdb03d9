"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured)
and a real in-process grpc.aio server on an ephemeral port."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from generated.samvaad.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    interview_pb2_grpc,
    resume_pb2_grpc,
    transcription_pb2_grpc,
)
from server.app import App, build_app, create_server, mark_serving, shut_down
from server.config import Settings
from server.db.engine import create_engine
from server.db.migrate import upgrade_to_head
from server.db.models import Base
from server.engines.stt import LocalWhisperEngine, TranscriptionEngine

POSTGRES_URL = os.environ.get("SAMVAAD_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]

# Variables a developer's shell or .env might set that would change behaviour.
_ISOLATED_ENV = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "DATABASE_URL",
    "POSTGRES_HOST",
    "ENVIRONMENT",
]


@pytest.fixture(autouse=True, scope="session")
def _isolate_environment() -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in _ISOLATED_ENV if name in os.environ}
    yield
    os.environ.update(saved)


def _create_postgres_database(base_url: str) -> str:
    """A private database for this test session, so runs never collide."""
    import asyncpg

    url = make_url(base_url)
    name = f"samvaad_test_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        conn = await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=url.database,
        )
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(base_url: str, test_url: str) -> None:
    import asyncpg

    url = make_url(base_url)
    name = make_url(test_url).database

    async def drop() -> None:
        conn = await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=url.database,
        )
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture(scope="session")
def migrated_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per backend for the whole session."""
    urls = {"sqlite": f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'samvaad.db'}"}
    if POSTGRES_URL:
        urls["postgresql"] = _create_postgres_database(POSTGRES_URL)
    for url in urls.values():
        upgrade_to_head(url)
    yield urls
    if POSTGRES_URL:
        _drop_postgres_database(POSTGRES_URL, urls["postgresql"])


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, migrated_databases: dict[str, str]
) -> AsyncIterator[str]:
    """A migrated, empty database; emptied again after the test."""
    url = migrated_databases[request.param]
    yield url
    await _empty_all_tables(url)


async def _empty_all_tables(url: str) -> None:
    engine = create_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    try:
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    await conn.execute(text(f"DELETE FROM {table}"))
    finally:
        await engine.dispose()


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


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change the server's settings."""
    return {}


@pytest.fixture(scope="session")
def whisper_engine() -> Iterator[LocalWhisperEngine]:
    """The bundled tiny.en model, loaded once for the whole session."""
    engine = LocalWhisperEngine()
    asyncio.run(engine.load())
    yield engine
    asyncio.run(engine.close())


@pytest.fixture
def server_stt_engine() -> TranscriptionEngine | None:
    """The engine the `running` server uses. None: an unloaded one from its settings.

    Modules that transcribe override this to return `whisper_engine`.
    """
    return None


@pytest.fixture
async def running(
    database_url: str,
    settings_overrides: dict[str, Any],
    server_stt_engine: TranscriptionEngine | None,
) -> AsyncIterator[RunningServer]:
    server = await start_server(
        make_settings(database_url, **settings_overrides), stt_engine=server_stt_engine
    )
    yield server
    await stop_server(server)


@pytest.fixture
def stubs(running: RunningServer) -> Stubs:
    return running.stubs


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


@pytest.fixture
async def account(stubs: Stubs) -> Account:
    return await register(stubs)


ASSETS = Path(__file__).parent / "assets"


@pytest.fixture
def fake_openai() -> Iterator[Any]:
    """A started local OpenAI-compatible server; see tests/fake_openai.py."""
    from tests.fake_openai import FakeOpenAI

    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def openai_settings(fake: Any, **overrides: Any) -> dict[str, Any]:
    """Settings overrides that point the server at a FakeOpenAI."""
    return {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_TIMEOUT_SECONDS": 2,
        "OPENAI_MAX_RETRIES": 1,
        **overrides,
    }

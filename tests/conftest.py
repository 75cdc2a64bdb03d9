"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured)
and a real in-process grpc.aio server on an ephemeral port."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.db.engine import create_engine
from server.db.migrate import upgrade_to_head
from server.db.models import Base
from server.engines.stt import LocalWhisperEngine, TranscriptionEngine
from tests.helpers import (
    Account,
    RunningServer,
    Stubs,
    make_settings,
    register,
    start_server,
    stop_server,
)

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


@pytest.fixture
async def account(stubs: Stubs) -> Account:
    return await register(stubs)


@pytest.fixture
def fake_openai() -> Iterator[Any]:
    """A started local OpenAI-compatible server; see tests/fake_openai.py."""
    from tests.fake_openai import FakeOpenAI

    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


# Modules whose tests start server processes, CLIs or other subprocesses.
_SUBPROCESS_MODULES = {
    "test_bench",
    "test_cli",
    "test_deploy",
    "test_docs_commands",
    "test_lifecycle",
    "test_robustness_postgres_restart",
    "test_robustness_shutdown",
    "test_server",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what runs a Whisper model or a subprocess `slow`, so `-m "not slow"` is a
    quick loop while developing; CI and `make test` run everything."""
    for item in items:
        module = getattr(item, "module", None)
        module_name = module.__name__.rsplit(".", 1)[-1] if module is not None else ""
        uses_whisper = "whisper_engine" in getattr(item, "fixturenames", ())
        if uses_whisper or module_name in _SUBPROCESS_MODULES:
            item.add_marker(pytest.mark.slow)

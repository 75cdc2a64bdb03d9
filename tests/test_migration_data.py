"""Migrations keep existing data: rows written at an older revision survive the upgrade,
and columns new in a revision are filled from what was there (on both databases)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from server.db.engine import create_engine
from server.db.migrate import alembic_config
from tests.conftest import (
    BACKENDS,
    POSTGRES_URL,
    _create_postgres_database,
    _drop_postgres_database,
)


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, migrated by the test itself."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'samvaad.db'}"
        return
    assert POSTGRES_URL is not None
    url = _create_postgres_database(POSTGRES_URL)
    yield url
    _drop_postgres_database(POSTGRES_URL, url)


async def _run(url: str, *statements: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            result = None
            for statement in statements:
                result = await connection.execute(text(statement))
            return [tuple(row) for row in result] if result and result.returns_rows else []
    finally:
        await engine.dispose()


async def _upgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def test_0008_to_0010_keep_every_row_and_fill_report_scores(fresh_url: str) -> None:
    await _upgrade(fresh_url, "0007")
    payload = {
        "answered_count": 2,
        "overall_score": 71,
        "content_score": 64,
        "delivery_score": 82,
        "next_steps": ["one", "two", "three", "four"],
    }
    empty = {**payload, "answered_count": 0, "overall_score": 0, "next_steps": []}
    now = "2026-12-01 10:00:00"
    await _run(
        fresh_url,
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at)"
        f" VALUES (1, 'a@example.com', 'A', 'x', '{now}', '{now}')",
        "INSERT INTO interviews (id, user_id, track, difficulty, status, created_at)"
        f" VALUES (1, 1, 'backend', 'medium', 'completed', '{now}'),"
        f" (2, 1, 'backend', 'medium', 'active', '{now}')",
        "INSERT INTO questions (id, interview_id, position, text, topic, category, difficulty,"
        f" concepts, created_at) VALUES (1, 1, 1, 'Q?', 't', 'technical', 'medium', '[]', '{now}')",
        "INSERT INTO question_attempts (id, question_id, interview_id, created_at,"
        f" transcribed_at, transcript_text) VALUES (1, 1, 1, '{now}', '{now}', 'an answer')",
        "INSERT INTO answer_analyses (question_attempt_id, analyzer, overall_score, payload,"
        f" created_at) VALUES (1, 'offline', 71, '{{}}', '{now}')",
        "INSERT INTO interview_reports (interview_id, fingerprint, payload, updated_at)"
        f" VALUES (1, 'f', '{json.dumps(payload)}', '{now}'),"
        f" (2, 'g', '{json.dumps(empty)}', '{now}')",
    )
    await _upgrade(fresh_url, "head")
    questions = await _run(fresh_url, "SELECT id, position, parent_question_id FROM questions")
    assert questions == [(1, 1, None)]
    kept = await _run(
        fresh_url,
        "SELECT a.id, a.transcript_text, n.overall_score, u.email, u.onboarded, u.target_role"
        " FROM question_attempts a JOIN answer_analyses n ON n.question_attempt_id = a.id"
        " JOIN interviews i ON i.id = a.interview_id JOIN users u ON u.id = i.user_id",
    )
    assert [(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in kept] == [
        (1, "an answer", 71, "a@example.com", False, None)
    ]
    reports = await _run(
        fresh_url,
        "SELECT interview_id, overall_score, content_score, delivery_score, top_next_steps"
        " FROM interview_reports ORDER BY interview_id",
    )
    steps = [json.loads(r[4]) if isinstance(r[4], str) else r[4] for r in reports]
    assert [r[:4] for r in reports] == [(1, 71, 64, 82), (2, None, None, None)]
    assert steps == [["one", "two", "three"], []]

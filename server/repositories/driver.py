"""The hot reads, as SQL run on the driver connection in one call.

Through SQLAlchemy, one SELECT on aiosqlite is four hops to its worker thread
(cursor, execute, fetch, close), each a wake-up of the event loop, and on both
databases a pass through statement compilation, cache keys and result processing.
For the statements every screen runs, the repositories hand the SQL to the driver
instead: aiosqlite's `execute_fetchall` (one hop) or asyncpg's `fetchrow`/`fetch`
(one round trip, a statement asyncpg prepares once per connection and caches).

The connection is still the unit of work's: checked out, in its transaction (or
autocommit), and returned by it. A driver error invalidates the connection, as
SQLAlchemy does for its own statements, so a connection that died with its server
is not handed out again; the error then reaches `Database.transaction`, which
maps a lost connection to UNAVAILABLE.

SQL here is written once, with PostgreSQL's `$n` placeholders; SQLite gets `?`.
Parameters are passed as the columns store them: aware datetimes (SQLite gets the
naive UTC text SQLAlchemy writes there) and JSON as text (`json_param`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

_PLACEHOLDER = re.compile(r"\$\d+")


class DriverQuery:
    """One statement, in each dialect's placeholder style.

    `sqlite` is SQLite's own text of it where the two differ (a row lock that only
    PostgreSQL has, say), with the same parameters in the same order."""

    __slots__ = ("postgresql", "sqlite")

    def __init__(self, sql: str, *, sqlite: str | None = None) -> None:
        self.postgresql = sql
        # Parameters are passed in order, so `$n` must appear as $1, $2, ... once each.
        self.sqlite = _PLACEHOLDER.sub("?", sql if sqlite is None else sqlite)


async def fetch_all(session: AsyncSession, query: DriverQuery, *params: Any) -> Sequence[Any]:
    """The rows of `query` (tuples, or asyncpg Records, indexable by position)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    try:
        if connection.dialect.name == "sqlite":
            sqlite_params = tuple(_sqlite_param(param) for param in params)
            return list(await driver.execute_fetchall(query.sqlite, sqlite_params))
        return list(await driver.fetch(query.postgresql, *params))
    except Exception:
        await connection.invalidate()
        raise


async def fetch_one(session: AsyncSession, query: DriverQuery, *params: Any) -> Any | None:
    rows = await fetch_all(session, query, *params)
    return rows[0] if rows else None


def utc(value: Any) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite hands back ISO text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_param(value: Any) -> str:
    """A value for a JSON column: its text (asyncpg's codec, set by SQLAlchemy, takes text)."""
    return json.dumps(value)


def json_value(value: Any) -> Any:
    """A JSON column's value: asyncpg's codec decodes it, SQLite hands back the text."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _sqlite_param(value: Any) -> Any:
    # The storage format of SQLAlchemy's DateTime on SQLite (naive UTC by UtcDateTime).
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value

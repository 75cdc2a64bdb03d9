"""Async engine and session factory for SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# An execution option a read-only or one-statement unit of work sets on its connection
# (see _on_begin): its statements run in autocommit.
AUTOCOMMIT_OPTION = "samvaad_autocommit"


def create_engine(
    url: str, *, pool_size: int = 10, statement_timeout_s: float = 10.0
) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, parsed.database)
    connect_args: dict[str, Any] = {
        "timeout": 10,
        "command_timeout": statement_timeout_s,
        "server_settings": {
            "application_name": "samvaad",
            "statement_timeout": str(int(statement_timeout_s * 1000)),
        },
    }
    # No pool_pre_ping: it cost a round trip on every checkout (a GetMe paid three).
    # A connection that died with the server fails its first statement instead, as a
    # disconnect: SQLAlchemy then invalidates the whole pool, and the unit of work
    # answers UNAVAILABLE (retryable), so a restart costs at most the calls in flight.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=10,
        pool_recycle=1800,
        connect_args=connect_args,
    )


class _RollbackBeforeClose(sqlite3.Connection):
    """A SQLite connection that ends its transaction before it closes.

    A call cancelled mid-query (a client hanging up) makes SQLAlchemy discard the
    connection by closing it. If a cursor of that query is still referenced, as it is
    from the cancellation's traceback, sqlite3_close_v2 leaves a "zombie" connection
    that keeps its transaction, and with it the database's write lock, until the
    garbage collector happens to free the cursor: every other writer then waited the
    whole busy timeout (30 s) and failed. Rolling back first releases the lock at once.
    """

    def close(self) -> None:
        # Closing is what matters: a rollback that fails must not prevent it.
        with contextlib.suppress(sqlite3.Error):
            if self.in_transaction:
                self.rollback()
        super().close()


def _create_sqlite_engine(url: str, database: str | None) -> AsyncEngine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        connect_args={"timeout": 30, "factory": _RollbackBeforeClose},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    _skip_idle_commit_and_rollback(engine)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that
        # reads and then writes can deadlock against another one, and SQLite
        # answers that with "database is locked" instead of waiting. A unit of work
        # that only reads, or runs one statement (Database.transaction(read_only=True)
        # or one_statement=True), begins nothing: each of its statements reads the
        # latest committed state on its own (autocommit), and in WAL mode readers
        # never wait for the writer, so reads no longer queue on the write lock one
        # behind another, nor pay for BEGIN and COMMIT. A lone write statement takes
        # the write lock when it starts, waiting for it under busy_timeout.
        if not conn.get_execution_options().get(AUTOCOMMIT_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _skip_idle_commit_and_rollback(engine: AsyncEngine) -> None:
    """COMMIT and ROLLBACK only when SQLite has a transaction open.

    Each is a hop to aiosqlite's worker thread and back through the event loop; a
    read-only unit of work (which begins nothing) paid two, the commit and the pool's
    rollback on return, for statements that do nothing without a transaction.
    `in_transaction` is SQLite's own answer (sqlite3_get_autocommit), read without a hop.
    """
    dialect = engine.sync_engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def in_transaction(dbapi_connection: Any) -> bool:
        driver = getattr(dbapi_connection, "driver_connection", None)
        return bool(getattr(driver, "in_transaction", True))

    def do_commit(dbapi_connection: Any) -> None:
        if in_transaction(dbapi_connection):
            commit(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        if in_transaction(dbapi_connection):
            rollback(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)

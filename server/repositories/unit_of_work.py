"""The persistence facade: transactions and the repositories that work inside them.

The domain opens a `Database.transaction()` and calls the repositories of the
`UnitOfWork` it yields, and gets records and domain errors back, never a row or a
driver error (`UnitOfWork.session` is there for tests, not for the domain). This
is the one module of `server.repositories` the domain may import (see the
import-linter contracts in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from server.db.engine import AUTOCOMMIT_OPTION, create_session_factory
from server.errors import Unavailable
from server.repositories.analyses import AnalysisRepository, ReportRepository
from server.repositories.interviews import (
    AttemptRepository,
    InterviewRepository,
    QuestionRepository,
    TranscriptRepository,
)
from server.repositories.resumes import KnowledgeSetRepository, ResumeRepository
from server.repositories.users import (
    LoginThrottleRepository,
    RefreshTokenRepository,
    UserRepository,
)

log = logging.getLogger(__name__)


class UnitOfWork:
    """The repositories of one transaction. Commits when the block exits cleanly."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.users = UserRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)
        self.login_throttles = LoginThrottleRepository(session)
        self.resumes = ResumeRepository(session)
        self.knowledge_sets = KnowledgeSetRepository(session)
        self.interviews = InterviewRepository(session)
        self.questions = QuestionRepository(session)
        self.attempts = AttemptRepository(session)
        self.transcripts = TranscriptRepository(session)
        self.analyses = AnalysisRepository(session)
        self.reports = ReportRepository(session)


# SQLSTATEs of a server that is gone or not taking connections: class 08 (connection
# exception), 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now
# ("the database system is starting up / shutting down / in recovery mode").
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
_UNAVAILABLE_DRIVER_ERRORS = {
    "ConnectionDoesNotExistError",
    "CannotConnectNowError",
    "ConnectionRefusedError",
}


def _causes(error: BaseException) -> list[BaseException]:
    """The error, the driver error SQLAlchemy wraps in it, and the errors that caused them."""
    found: dict[int, BaseException] = {}
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is not None and id(current) not in found:
            found[id(current)] = current
            pending += [getattr(current, "orig", None), current.__cause__]
    return list(found.values())


def _driver_says_unavailable(error: BaseException) -> bool:
    for cause in _causes(error):
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        if type(cause).__name__ in _UNAVAILABLE_DRIVER_ERRORS:
            return True
    return False


def is_connectivity_error(error: BaseException) -> bool:
    """True for failures that mean "the database is not reachable right now"."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if _driver_says_unavailable(error):
        return True
    if isinstance(error, sa_exc.TimeoutError | sa_exc.InterfaceError | OSError | TimeoutError):
        return True
    if isinstance(error, sa_exc.OperationalError | sa_exc.DBAPIError):
        text = str(error.orig if error.orig is not None else error).lower()
        markers = ("connection", "connect", "terminat", "shutdown", "database is locked")
        return any(marker in text for marker in markers)
    return False


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = create_session_factory(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(
        self, *, read_only: bool = False, one_statement: bool = False
    ) -> AsyncIterator[UnitOfWork]:
        """One transaction; a lost connection becomes Unavailable (retryable).

        `read_only` promises that the block only reads, one statement or several
        that need not agree with each other; `one_statement` that it runs a single
        statement, which may write: the database makes one statement atomic on its
        own. Either runs in autocommit, so that no BEGIN or COMMIT is sent (a round
        trip each on PostgreSQL, a thread hop each on SQLite) and a read does not take
        SQLite's write lock; each statement sees the latest committed state. Several
        writes in such a block would not be atomic together.
        """
        session = self._sessions()
        try:
            async with session.begin():
                if read_only or one_statement:
                    options: dict[str, Any] = {AUTOCOMMIT_OPTION: True}
                    if self.dialect != "sqlite":  # SQLite: _on_begin sends no BEGIN
                        options["isolation_level"] = "AUTOCOMMIT"
                    await session.connection(execution_options=options)
                yield UnitOfWork(session)
        except Exception as error:
            if is_connectivity_error(error):
                log.warning("database unavailable: %s", type(error).__name__)
                raise Unavailable(
                    "the database is unavailable; retry shortly", reason="DATABASE_UNAVAILABLE"
                ) from error
            raise
        finally:
            # A client hanging up cancels the call, and the cancellation can land while
            # the transaction ends (mid-commit or mid-rollback). Closing is shielded so
            # that it always completes: the connection goes back to the pool, and on
            # SQLite the write lock is released, instead of waiting for the garbage
            # collector while every other writer times out.
            await asyncio.shield(session.close())

    async def dispose(self) -> None:
        await self.engine.dispose()

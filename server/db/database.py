"""Transactions and the repositories that work inside them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from server.db.engine import create_session_factory
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


def is_connectivity_error(error: BaseException) -> bool:
    """True for failures that mean "the database is not reachable right now"."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.TimeoutError | sa_exc.InterfaceError | OSError | TimeoutError):
        return True
    if isinstance(error, sa_exc.OperationalError | sa_exc.DBAPIError):
        text = str(error.orig if error.orig is not None else error).lower()
        markers = ("connection", "connect", "terminat", "shutdown", "database is locked")
        return any(marker in text for marker in markers)
    name = type(error).__name__
    return name in {
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "ConnectionRefusedError",
    }


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = create_session_factory(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """One transaction; a lost connection becomes Unavailable (retryable)."""
        try:
            async with self._sessions.begin() as session:
                yield UnitOfWork(session)
        except Exception as error:
            if is_connectivity_error(error):
                log.warning("database unavailable: %s", type(error).__name__)
                raise Unavailable(
                    "the database is unavailable; retry shortly", reason="DATABASE_UNAVAILABLE"
                ) from error
            raise

    async def dispose(self) -> None:
        await self.engine.dispose()

"""SQL for answer analyses and interview reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AnswerAnalysisRow, InterviewReportRow, QuestionAttempt
from server.db.types import utcnow
from server.db.upsert import insert_for


class AnalysisRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, attempt_id: int) -> AnswerAnalysisRow | None:
        return await self._session.get(AnswerAnalysisRow, attempt_id)

    async def of_attempts(self, attempt_ids: Sequence[int]) -> dict[int, AnswerAnalysisRow]:
        if not attempt_ids:
            return {}
        rows = await self._session.scalars(
            select(AnswerAnalysisRow).where(AnswerAnalysisRow.question_attempt_id.in_(attempt_ids))
        )
        return {row.question_attempt_id: row for row in rows}

    async def add_if_absent(
        self, attempt_id: int, analyzer: str, overall_score: int, payload: dict[str, Any]
    ) -> AnswerAnalysisRow:
        """Store an analysis unless a concurrent call stored one first; return the stored one."""
        await self._session.execute(
            insert_for(self._session)(AnswerAnalysisRow)
            .values(
                question_attempt_id=attempt_id,
                analyzer=analyzer,
                overall_score=overall_score,
                payload=payload,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=[AnswerAnalysisRow.question_attempt_id])
        )
        row = await self._session.get(AnswerAnalysisRow, attempt_id, populate_existing=True)
        assert row is not None
        return row

    async def attempts_of_interview(self, interview_id: int) -> Sequence[QuestionAttempt]:
        rows = await self._session.scalars(
            select(QuestionAttempt)
            .where(QuestionAttempt.interview_id == interview_id)
            .order_by(QuestionAttempt.id)
        )
        return rows.all()


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, interview_id: int) -> InterviewReportRow | None:
        return await self._session.get(InterviewReportRow, interview_id)

    async def save(self, interview_id: int, fingerprint: str, payload: dict[str, Any]) -> datetime:
        now = utcnow()
        statement = insert_for(self._session)(InterviewReportRow).values(
            interview_id=interview_id, fingerprint=fingerprint, payload=payload, updated_at=now
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[InterviewReportRow.interview_id],
                set_={"fingerprint": fingerprint, "payload": payload, "updated_at": now},
            )
        )
        return now

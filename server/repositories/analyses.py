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
from server.domain.records import AnalysisRecord, AttemptRecord, ReportRecord
from server.repositories.interviews import attempt_record


def _analysis(row: AnswerAnalysisRow) -> AnalysisRecord:
    return AnalysisRecord(
        question_attempt_id=row.question_attempt_id,
        analyzer=row.analyzer,
        overall_score=row.overall_score,
        payload=row.payload,
        created_at=row.created_at,
    )


class AnalysisRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, attempt_id: int) -> AnalysisRecord | None:
        row = await self._session.get(AnswerAnalysisRow, attempt_id)
        return _analysis(row) if row is not None else None

    async def of_attempts(self, attempt_ids: Sequence[int]) -> dict[int, AnalysisRecord]:
        if not attempt_ids:
            return {}
        rows = await self._session.scalars(
            select(AnswerAnalysisRow).where(AnswerAnalysisRow.question_attempt_id.in_(attempt_ids))
        )
        return {row.question_attempt_id: _analysis(row) for row in rows}

    async def add_if_absent(
        self, attempt_id: int, analyzer: str, overall_score: int, payload: dict[str, Any]
    ) -> AnalysisRecord:
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
        return _analysis(row)

    async def attempts_of_interview(self, interview_id: int) -> list[AttemptRecord]:
        rows = await self._session.scalars(
            select(QuestionAttempt)
            .where(QuestionAttempt.interview_id == interview_id)
            .order_by(QuestionAttempt.id)
        )
        return [attempt_record(row) for row in rows]


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, interview_id: int) -> ReportRecord | None:
        row = await self._session.get(InterviewReportRow, interview_id)
        if row is None:
            return None
        return ReportRecord(
            interview_id=row.interview_id,
            fingerprint=row.fingerprint,
            payload=row.payload,
            updated_at=row.updated_at,
        )

    async def save(
        self,
        interview_id: int,
        fingerprint: str,
        payload: dict[str, Any],
        *,
        scores: tuple[int, int, int] | None,
        top_next_steps: Sequence[str],
    ) -> datetime:
        """Store the report; `scores` (overall, content, delivery) None when nothing is
        answered. The scores and top next steps are what ListInterviews reads."""
        now = utcnow()
        overall, content, delivery = scores if scores is not None else (None, None, None)
        values: dict[str, Any] = {
            "fingerprint": fingerprint,
            "payload": payload,
            "updated_at": now,
            "overall_score": overall,
            "content_score": content,
            "delivery_score": delivery,
            "top_next_steps": list(top_next_steps),
        }
        statement = insert_for(self._session)(InterviewReportRow).values(
            interview_id=interview_id, **values
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[InterviewReportRow.interview_id], set_=values
            )
        )
        return now

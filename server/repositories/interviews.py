"""SQL for interviews, their questions and question attempts.

Every read that takes an id from a client also takes the caller's user id, so
another user's rows are simply not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.db.models import Interview, Question, QuestionAttempt
from server.db.types import utcnow
from server.domain.questions.types import GeneratedQuestion
from server.domain.records import (
    AttemptRecord,
    InterviewRecord,
    InterviewSummaryRecord,
    QuestionRecord,
    TranscriptRecord,
)
from server.errors import Conflict
from server.repositories import interview_statements as sql
from server.repositories.driver import fetch_all, fetch_one


def interview_record(row: Interview) -> InterviewRecord:
    return InterviewRecord(
        id=row.id,
        user_id=row.user_id,
        track=row.track,
        difficulty=row.difficulty,
        status=row.status,
        generator=row.generator,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


def question_record(row: Question) -> QuestionRecord:
    return QuestionRecord(
        id=row.id,
        interview_id=row.interview_id,
        position=row.position,
        text=row.text,
        topic=row.topic,
        category=row.category,
        difficulty=row.difficulty,
        concepts=tuple(row.concepts or ()),
        created_at=row.created_at,
        parent_question_id=row.parent_question_id,
    )


def attempt_record(row: QuestionAttempt) -> AttemptRecord:
    words = row.transcript_words
    return AttemptRecord(
        id=row.id,
        question_id=row.question_id,
        interview_id=row.interview_id,
        created_at=row.created_at,
        transcribed_at=row.transcribed_at,
        request_id=row.request_id,
        transcript_text=row.transcript_text,
        transcript_words=tuple(tuple(word) for word in words) if words is not None else None,
        transcript_language=row.transcript_language,
        transcript_engine=row.transcript_engine,
        transcript_model=row.transcript_model,
        audio_format=row.audio_format,
        audio_size_bytes=row.audio_size_bytes,
        audio_duration_seconds=row.audio_duration_seconds,
        audio_filename=row.audio_filename,
        audio_mime_type=row.audio_mime_type,
        processing_seconds=row.processing_seconds,
    )


def _interview_or_none(row: Interview | None) -> InterviewRecord | None:
    return interview_record(row) if row is not None else None


class InterviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, user_id: int, track: str, difficulty: str) -> InterviewRecord:
        """Conflict when the user already has an active interview on `track` (a concurrent call)."""
        interview = Interview(user_id=user_id, track=track, difficulty=difficulty, status="active")
        self._session.add(interview)
        try:
            await self._session.flush()
        except IntegrityError as error:
            raise Conflict("an active interview on this track exists") from error
        return interview_record(interview)

    async def active_on_track(self, user_id: int, track: str) -> InterviewRecord | None:
        return _interview_or_none(
            await self._session.scalar(
                select(Interview).where(
                    Interview.user_id == user_id,
                    Interview.track == track,
                    Interview.status == "active",
                )
            )
        )

    async def latest_active(self, user_id: int) -> InterviewRecord | None:
        return _interview_or_none(
            await self._session.scalar(
                select(Interview)
                .where(Interview.user_id == user_id, Interview.status == "active")
                .order_by(Interview.id.desc())
                .limit(1)
            )
        )

    async def get_owned(
        self, user_id: int, interview_id: int, *, lock: bool = False
    ) -> InterviewRecord | None:
        query = select(Interview).where(Interview.id == interview_id, Interview.user_id == user_id)
        return _interview_or_none(
            await self._session.scalar(query.with_for_update() if lock else query)
        )

    async def get_owned_with_counts(
        self, user_id: int, interview_id: int
    ) -> InterviewSummaryRecord | None:
        """The interview with its counts and report scores; None when not theirs."""
        row = await fetch_one(self._session, sql.OWNED_WITH_COUNTS, interview_id, user_id)
        return sql.interview_summary(row) if row is not None else None

    async def page_with_counts(
        self,
        user_id: int,
        before_id: int | None,
        limit: int,
        *,
        track: str = "",
        status: str = "",
    ) -> list[InterviewSummaryRecord]:
        """Newest first (ids only grow, so `id < before_id` is a stable cursor), each with
        its counts and report scores, in one statement; `track` and `status` filter when
        given."""
        query = sql.PAGES_WITH_COUNTS[(bool(track), bool(status), before_id is not None)]
        params: list[object] = [user_id]
        params += [track] if track else []
        params += [status] if status else []
        params += [before_id] if before_id is not None else []
        rows = await fetch_all(self._session, query, *params, limit)
        return [sql.interview_summary(row) for row in rows]

    async def completed(self, user_id: int, track: str, limit: int) -> list[InterviewRecord]:
        """The user's latest `limit` completed interviews (on `track` unless it is empty),
        in the order they were completed."""
        query = select(Interview).where(
            Interview.user_id == user_id, Interview.status == "completed"
        )
        if track:
            query = query.where(Interview.track == track)
        rows = await self._session.scalars(
            query.order_by(Interview.completed_at.desc(), Interview.id.desc()).limit(limit)
        )
        return [interview_record(row) for row in rows][::-1]

    async def complete(self, interview_id: int, now: datetime) -> None:
        await self._session.execute(
            update(Interview)
            .where(Interview.id == interview_id, Interview.status == "active")
            .values(status="completed", completed_at=now)
        )

    async def set_generator(self, interview_id: int, generator: str) -> None:
        await self._session.execute(
            update(Interview).where(Interview.id == interview_id).values(generator=generator)
        )

    async def page(self, user_id: int, before_id: int | None, limit: int) -> list[InterviewRecord]:
        """Newest first; ids only grow, so `id < before_id` is a stable cursor."""
        query = select(Interview).where(Interview.user_id == user_id)
        if before_id is not None:
            query = query.where(Interview.id < before_id)
        rows = await self._session.scalars(query.order_by(Interview.id.desc()).limit(limit))
        return [interview_record(row) for row in rows]

    async def counts(self, interview_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(question_count, answered_count) per interview.

        A question is answered when its latest attempt has a transcription.
        """
        if not interview_ids:
            return {}
        questions = await self._session.execute(
            select(Question.interview_id, func.count())
            .where(Question.interview_id.in_(interview_ids))
            .group_by(Question.interview_id)
        )
        latest = (
            select(func.max(QuestionAttempt.id).label("id"))
            .where(QuestionAttempt.interview_id.in_(interview_ids))
            .group_by(QuestionAttempt.question_id)
            .subquery()
        )
        answered = await self._session.execute(
            select(QuestionAttempt.interview_id, func.count())
            .join(latest, latest.c.id == QuestionAttempt.id)
            .where(QuestionAttempt.transcribed_at.is_not(None))
            .group_by(QuestionAttempt.interview_id)
        )
        result = dict.fromkeys(interview_ids, (0, 0))
        for interview_id, count in questions.all():
            result[interview_id] = (count, 0)
        for interview_id, count in answered.all():
            result[interview_id] = (result[interview_id][0], count)
        return result


class QuestionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_interview(self, interview_id: int) -> list[QuestionRecord]:
        rows = await self._session.scalars(
            select(Question)
            .where(Question.interview_id == interview_id)
            .order_by(Question.position)
        )
        return [question_record(row) for row in rows]

    async def add_set(
        self, interview_id: int, generated: Sequence[GeneratedQuestion]
    ) -> list[QuestionRecord]:
        """The questions at positions 1..n, each with its first attempt.

        Conflict when the interview has questions already (a concurrent call stored its set).
        """
        questions = [
            Question(
                interview_id=interview_id,
                position=position,
                text=item.text,
                topic=item.topic,
                category=item.category.value,
                difficulty=item.difficulty.value,
                concepts=list(item.concepts),
            )
            for position, item in enumerate(generated, start=1)
        ]
        try:
            self._session.add_all(questions)
            await self._session.flush()
            self._session.add_all(
                QuestionAttempt(question_id=q.id, interview_id=interview_id) for q in questions
            )
            await self._session.flush()
        except IntegrityError as error:
            raise Conflict("this interview has its questions already") from error
        return [question_record(q) for q in questions]

    async def follow_up_of(self, parent_id: int) -> tuple[QuestionRecord, AttemptRecord] | None:
        """The follow-up of a question and its first attempt; None when it has none."""
        row = (
            await self._session.execute(
                select(Question, QuestionAttempt)
                .join(QuestionAttempt, QuestionAttempt.question_id == Question.id)
                .where(Question.parent_question_id == parent_id)
                .order_by(QuestionAttempt.id)
                .limit(1)
            )
        ).first()
        return (question_record(row[0]), attempt_record(row[1])) if row is not None else None

    async def add_follow_up(
        self, parent: QuestionRecord, generated: GeneratedQuestion
    ) -> tuple[QuestionRecord, AttemptRecord]:
        """The follow-up right after `parent` in question order, with its first attempt.

        The questions after the parent move down one place. Conflict when the parent has
        a follow-up already (the unique key on parent_question_id: a concurrent call)."""
        later = and_(
            Question.interview_id == parent.interview_id, Question.position > parent.position
        )
        # Two steps, so that no two questions ever share a position on the way.
        await self._session.execute(
            update(Question).where(later).values(position=-Question.position - 1)
        )
        await self._session.execute(
            update(Question)
            .where(Question.interview_id == parent.interview_id, Question.position < 0)
            .values(position=-Question.position)
        )
        question = Question(
            interview_id=parent.interview_id,
            position=parent.position + 1,
            text=generated.text,
            topic=generated.topic,
            category=generated.category.value,
            difficulty=generated.difficulty.value,
            concepts=list(generated.concepts),
            parent_question_id=parent.id,
        )
        try:
            self._session.add(question)
            await self._session.flush()
            attempt = QuestionAttempt(question_id=question.id, interview_id=parent.interview_id)
            self._session.add(attempt)
            await self._session.flush()
        except IntegrityError as error:
            raise Conflict("this question has its follow-up already") from error
        return question_record(question), attempt_record(attempt)

    async def page(
        self, interview_id: int, after: tuple[int, int] | None, limit: int
    ) -> list[QuestionRecord]:
        query = select(Question).where(Question.interview_id == interview_id)
        if after is not None:
            query = query.where(_after(Question.position, Question.id, after))
        rows = await self._session.scalars(
            query.order_by(Question.position, Question.id).limit(limit)
        )
        return [question_record(row) for row in rows]

    async def get_owned(
        self, user_id: int, question_id: int, *, hold_interview: bool = False
    ) -> tuple[QuestionRecord, InterviewRecord] | None:
        """The question and its interview; `hold_interview` keeps the interview from
        changing (completing) until the transaction ends."""
        query = sql.OWNED_QUESTION_SHARED if hold_interview else sql.OWNED_QUESTION
        row = await fetch_one(self._session, query, question_id, user_id)
        return sql.question_and_interview(row) if row is not None else None


class AttemptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, question: QuestionRecord) -> AttemptRecord:
        row = await fetch_one(
            self._session, sql.ADD_ATTEMPT, question.id, question.interview_id, utcnow()
        )
        assert row is not None  # RETURNING always returns the row written
        return sql.attempt_from(row)

    def _with_question(self) -> Select[QuestionAttempt, Question]:
        return select(QuestionAttempt, Question).join(
            Question, Question.id == QuestionAttempt.question_id
        )

    async def page(
        self, interview_id: int, after: tuple[int, int] | None, limit: int
    ) -> list[tuple[AttemptRecord, QuestionRecord]]:
        """In question order, then in the order the attempts were opened."""
        query = self._with_question().where(QuestionAttempt.interview_id == interview_id)
        if after is not None:
            query = query.where(_after(Question.position, QuestionAttempt.id, after))
        rows = await self._session.execute(
            query.order_by(Question.position, QuestionAttempt.id).limit(limit)
        )
        return [
            (attempt_record(attempt), question_record(question)) for attempt, question in rows.all()
        ]

    async def first_of_interview(
        self, interview_id: int
    ) -> list[tuple[AttemptRecord, QuestionRecord]]:
        """The first attempt of each question (the one its set was stored with), in question
        order: one row a question, however many retries there were."""
        first_ids = (
            select(func.min(QuestionAttempt.id))
            .where(QuestionAttempt.interview_id == interview_id)
            .group_by(QuestionAttempt.question_id)
        )
        rows = await self._session.execute(
            self._with_question()
            .where(QuestionAttempt.id.in_(first_ids))
            .order_by(Question.position, QuestionAttempt.id)
        )
        return [
            (attempt_record(attempt), question_record(question)) for attempt, question in rows.all()
        ]

    async def of_question(self, question_id: int) -> list[AttemptRecord]:
        """The attempts at a question in the order they were opened."""
        rows = await self._session.scalars(
            select(QuestionAttempt)
            .where(QuestionAttempt.question_id == question_id)
            .order_by(QuestionAttempt.id)
        )
        return [attempt_record(row) for row in rows]

    async def practice_times(self, user_id: int) -> list[datetime]:
        """When each of the user's answers was transcribed."""
        rows = await self._session.scalars(
            select(QuestionAttempt.transcribed_at)
            .join(Interview, Interview.id == QuestionAttempt.interview_id)
            .where(Interview.user_id == user_id, QuestionAttempt.transcribed_at.is_not(None))
        )
        return [row for row in rows if row is not None]

    async def get_owned(
        self, user_id: int, attempt_id: int, *, lock: bool = False
    ) -> tuple[AttemptRecord, QuestionRecord, InterviewRecord] | None:
        query = sql.OWNED_ATTEMPT_LOCKED if lock else sql.OWNED_ATTEMPT
        row = await fetch_one(self._session, query, attempt_id, user_id)
        return sql.attempt_question_interview(row) if row is not None else None


def _after(
    major: InstrumentedAttribute[int], minor: InstrumentedAttribute[int], cursor: tuple[int, int]
) -> ColumnElement[bool]:
    """Rows strictly after `cursor` in (major, minor) order."""
    return or_(major > cursor[0], and_(major == cursor[0], minor > cursor[1]))


class TranscriptRepository:
    """Transcripts live on their question attempt; written once, in one statement."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def store(self, attempt_id: int, transcript: TranscriptRecord, now: datetime) -> bool:
        """False when the attempt already has a transcript (a concurrent upload won)."""
        result = await self._session.execute(
            update(QuestionAttempt)
            .where(QuestionAttempt.id == attempt_id, QuestionAttempt.transcribed_at.is_(None))
            .values(
                transcribed_at=now,
                request_id=transcript.request_id,
                transcript_text=transcript.text,
                transcript_words=[list(word) for word in transcript.words],
                transcript_language=transcript.language,
                transcript_engine=transcript.engine,
                transcript_model=transcript.model,
                audio_format=transcript.audio_format,
                audio_size_bytes=transcript.audio_size_bytes,
                audio_duration_seconds=transcript.audio_duration_seconds,
                audio_filename=transcript.audio_filename,
                audio_mime_type=transcript.audio_mime_type,
                processing_seconds=transcript.processing_seconds,
            )
        )
        return bool(getattr(result, "rowcount", 0) == 1)

"""Follow-up questions: one per base question, written from its answer. No gRPC here.

A follow-up is a question like any other (it is answered, analysed and reported the
same way), placed right after its parent. The database keeps it to one per parent
(a unique key on `questions.parent_question_id`): a second call, a retry or a
concurrent one, returns the first.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.interviews import AttemptView, QuestionView, attempt_view, question_view
from server.domain.questions.follow_up import FollowUpRequest, FollowUpWriter
from server.domain.questions.types import Category, Difficulty
from server.domain.records import AttemptRecord, InterviewRecord, QuestionRecord
from server.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from server.repositories.unit_of_work import Database, UnitOfWork


@dataclass(frozen=True)
class FollowUpQuestion:
    question: QuestionView
    # The follow-up's first attempt: TranscribeAnswer takes its id.
    attempt: AttemptView
    # True when the follow-up had been written before (this call wrote nothing).
    cached: bool


class FollowUpService:
    def __init__(self, database: Database, writer: FollowUpWriter) -> None:
        self._db = database
        self._writer = writer

    async def create(self, user_id: int, attempt_id: int) -> FollowUpQuestion:
        if attempt_id <= 0:
            raise InvalidArgument.for_field(
                "question_attempt_id", "question_attempt_id must be a positive id"
            )
        async with self._db.transaction(read_only=True) as uow:
            attempt, question, interview = await _answered_attempt(uow, user_id, attempt_id)
            existing = await uow.questions.follow_up_of(question.id)
        if existing is not None:
            return _follow_up(*existing, cached=True)
        transcript = _transcript(attempt)
        _check_open(interview)
        # Writing may call a remote model: never inside a transaction.
        written = await self._writer.write(
            FollowUpRequest(
                track=interview.track,
                text=question.text,
                topic=question.topic,
                category=Category(question.category),
                difficulty=Difficulty(question.difficulty),
                concepts=list(question.concepts),
                transcript=transcript,
            )
        )
        try:
            async with self._db.transaction() as uow:
                # The interview row held: a completion, or another follow-up of this
                # interview moving positions, waits for this transaction.
                locked = await uow.interviews.get_owned(user_id, interview.id, lock=True)
                if locked is None:
                    raise _attempt_not_found(attempt_id)
                existing = await uow.questions.follow_up_of(question.id)
                if existing is not None:
                    return _follow_up(*existing, cached=True)
                _check_open(locked)
                # Re-read: an earlier follow-up may have moved the parent down.
                found = await uow.attempts.get_owned(user_id, attempt_id)
                if found is None:
                    raise _attempt_not_found(attempt_id)
                added = await uow.questions.add_follow_up(found[1], written.question)
                return _follow_up(*added, cached=False)
        except Conflict:
            # A concurrent call stored its follow-up between our check and insert.
            async with self._db.transaction(read_only=True) as uow:
                existing = await uow.questions.follow_up_of(question.id)
            if existing is None:
                raise
            return _follow_up(*existing, cached=True)


async def _answered_attempt(
    uow: UnitOfWork, user_id: int, attempt_id: int
) -> tuple[AttemptRecord, QuestionRecord, InterviewRecord]:
    found = await uow.attempts.get_owned(user_id, attempt_id)
    if found is None:
        raise _attempt_not_found(attempt_id)
    attempt, question, interview = found
    if question.parent_question_id is not None:
        raise FailedPrecondition(
            "this question is a follow-up already; follow-ups go one level deep",
            reason="FOLLOW_UP_OF_FOLLOW_UP",
        )
    return attempt, question, interview


def _transcript(attempt: AttemptRecord) -> str:
    if attempt.transcribed_at is None or attempt.transcript_text is None:
        raise FailedPrecondition(
            "this attempt has no transcribed answer yet; a follow-up is written from the "
            "answer, so send it with TranscriptionService.TranscribeAnswer first",
            reason="NOT_TRANSCRIBED",
        )
    return attempt.transcript_text


def _check_open(interview: InterviewRecord) -> None:
    if interview.status != "active":
        raise FailedPrecondition(
            "this interview is completed and takes no new questions",
            reason="INTERVIEW_COMPLETED",
        )


def _attempt_not_found(attempt_id: int) -> NotFound:
    return NotFound(f"question attempt {attempt_id} not found", reason="ATTEMPT_NOT_FOUND")


def _follow_up(
    question: QuestionRecord, attempt: AttemptRecord, *, cached: bool
) -> FollowUpQuestion:
    return FollowUpQuestion(question_view(question), attempt_view(attempt, question), cached)

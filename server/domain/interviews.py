"""Interviews, their questions and attempts. Knows nothing of gRPC."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from server.clock import utcnow
from server.domain.candidate import CandidateProfile
from server.domain.paging import PageScope, PageTokenCodec, page_size
from server.domain.questions.bank import QuestionBank, load_bank
from server.domain.questions.offline import as_asked
from server.domain.questions.types import (
    Difficulty,
    Generated,
    GenerationRequest,
    QuestionGenerator,
)
from server.domain.records import (
    AttemptRecord,
    InterviewRecord,
    InterviewSummaryRecord,
    QuestionRecord,
)
from server.domain.tracks import normalise_track
from server.errors import Conflict, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from server.repositories.unit_of_work import Database, UnitOfWork

log = logging.getLogger(__name__)

DEFAULT_QUESTION_COUNT = 5
MAX_QUESTION_COUNT = 20
# GenerateQuestions' `generator` for the questions a caller named from the bank.
BANK_GENERATOR = "bank"

T = TypeVar("T")
ProfileLookup = Callable[[int], Awaitable[CandidateProfile | None]]
# (user id, the resume's profile or None) -> what their questions are tailored to.
Tailoring = Callable[[int, CandidateProfile | None], Awaitable[CandidateProfile | None]]


@dataclass(frozen=True)
class InterviewView:
    id: int
    track: str
    difficulty: Difficulty
    status: str  # "active" or "completed"
    created_at: datetime
    completed_at: datetime | None
    question_count: int
    answered_count: int
    # The latest stored report's mean scores (None without one, or with nothing answered)
    # and its first three next steps.
    overall_score: int | None = None
    content_score: int | None = None
    delivery_score: int | None = None
    next_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuestionView:
    id: int
    interview_id: int
    position: int
    text: str
    topic: str
    category: str
    difficulty: Difficulty
    parent_question_id: int = 0  # the question a follow-up follows up on; 0 for the set


@dataclass(frozen=True)
class AttemptView:
    id: int
    question_id: int
    interview_id: int
    question_text: str
    created_at: datetime
    has_transcription: bool


@dataclass(frozen=True)
class QuestionSet:
    interview_id: int
    questions: list[QuestionView]
    cached: bool
    generator: str
    # The first attempt of each question, in question order.
    first_attempts: list[AttemptView]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str


class InterviewService:
    def __init__(
        self,
        database: Database,
        generator: QuestionGenerator,
        profiles: ProfileLookup,
        page_tokens: PageTokenCodec,
        track_aliases: dict[str, str],
        bank: QuestionBank | None = None,
        tailoring: Tailoring | None = None,
    ) -> None:
        self._db = database
        self._tailoring = tailoring
        self._generator = generator
        self._profiles = profiles
        self._tokens = page_tokens
        self._track_aliases = track_aliases
        self._bank = bank or load_bank()

    async def create(
        self, user_id: int, track: str, difficulty: Difficulty
    ) -> tuple[InterviewView, bool]:
        """A new interview, or the active one on the same track (resumed=True)."""
        slug = normalise_track(track, self._track_aliases)
        for _ in range(3):
            try:
                async with self._db.transaction() as uow:
                    existing = await uow.interviews.active_on_track(user_id, slug)
                    if existing is not None:
                        return await _interview_view(uow, existing), True
                    created = await uow.interviews.add(user_id, slug, difficulty.value)
                    return await _interview_view(uow, created), False
            except Conflict:
                # A concurrent call created it first: the partial unique index
                # refused ours, so go round again and return theirs.
                continue
        raise FailedPrecondition("could not start the interview; retry", reason="CONFLICT")

    async def generate_questions(
        self,
        user_id: int,
        interview_id: int,
        use_resume: bool,
        count: int,
        bank_questions: Sequence[str] = (),
    ) -> QuestionSet:
        """The interview's questions: generated, or the bank's questions the caller named."""
        if bank_questions:
            self._check_bank_questions(bank_questions, count)
            use_resume = False  # the caller chose the questions: no profile to tailor to
            wanted = len(bank_questions)
        else:
            wanted = _question_count(count)
        async with self._db.transaction() as uow:
            interview = await self._interview_for_generation(uow, user_id, interview_id)
            existing = await uow.questions.of_interview(interview.id)
            if existing:
                return await _question_set(uow, interview, existing, cached=True)
            if interview.status != "active":
                raise FailedPrecondition(
                    "this interview is completed; start a new one", reason="INTERVIEW_COMPLETED"
                )
        difficulty = Difficulty(interview.difficulty)
        if bank_questions:
            generated = Generated(
                [as_asked(self._bank.by_text[text], difficulty) for text in bank_questions],
                BANK_GENERATOR,
            )
        else:
            profile = await self._profile(user_id) if use_resume else None
            if self._tailoring is not None:  # the target role and graduation year count too
                profile = await self._tailoring(user_id, profile)
            # Generation may call a remote model: never inside a transaction.
            generated = await self._generator.generate(
                GenerationRequest(
                    track=interview.track,
                    difficulty=difficulty,
                    count=wanted,
                    profile=profile,
                    seed=interview.id,
                )
            )
        try:
            async with self._db.transaction() as uow:
                locked = await uow.interviews.get_owned(user_id, interview.id, lock=True)
                if locked is None:
                    raise _interview_not_found()
                existing = await uow.questions.of_interview(interview.id)
                if existing:
                    return await _question_set(uow, locked, existing, cached=True)
                stored = await uow.questions.add_set(interview.id, generated.questions)
                await uow.interviews.set_generator(interview.id, generated.generator)
                return await _question_set(
                    uow, replace(locked, generator=generated.generator), stored, cached=False
                )
        except Conflict:
            # Another call stored its set between our check and insert.
            async with self._db.transaction() as uow:
                interview = await self._owned(uow, user_id, interview.id)
                return await _question_set(
                    uow, interview, await uow.questions.of_interview(interview.id), True
                )

    def _check_bank_questions(self, texts: Sequence[str], count: int) -> None:
        if len(texts) > MAX_QUESTION_COUNT:
            raise InvalidArgument.for_field(
                "bank_questions", f"at most {MAX_QUESTION_COUNT} bank questions"
            )
        if count not in (0, len(texts)):
            raise InvalidArgument.for_field(
                "count", f"count must be 0 or {len(texts)}, the number of bank_questions"
            )
        violations = []
        seen: set[str] = set()
        for index, text in enumerate(texts):
            name = f"bank_questions[{index}]"
            if text not in self._bank.by_text:
                violations.append(
                    FieldViolation(name, "not the exact text of a question in the bank")
                )
            elif text in seen:
                violations.append(FieldViolation(name, "asked twice"))
            seen.add(text)
        if violations:
            raise InvalidArgument(
                "bank_questions must name questions of the bank, each once: "
                + "; ".join(f"{v.field}: {v.description}" for v in violations),
                violations,
            )

    async def complete(self, user_id: int, interview_id: int) -> InterviewView:
        async with self._db.transaction() as uow:
            interview = await self._owned(uow, user_id, interview_id, lock=True)
            if interview.status == "active":
                now = utcnow()
                await uow.interviews.complete(interview.id, now)
                interview = replace(interview, status="completed", completed_at=now)
            return await _interview_view(uow, interview)

    async def get(self, user_id: int, interview_id: int) -> InterviewView:
        if interview_id <= 0:
            raise InvalidArgument.for_field("interview_id", "interview_id must be a positive id")
        async with self._db.transaction(read_only=True) as uow:
            found = await uow.interviews.get_owned_with_counts(user_id, interview_id)
        if found is None:
            raise _interview_not_found(interview_id)
        return _to_interview_view(found)

    async def list_interviews(
        self, user_id: int, size: int, token: str, *, track: str = "", status: str = ""
    ) -> Page[InterviewView]:
        """Newest first; `track` (any spelling CreateInterview takes) and `status` ("active"
        or "completed") filter when given, and a page token only goes with its filters."""
        limit = page_size(size)
        slug = normalise_track(track, self._track_aliases) if track.strip() else ""
        scope = PageScope(user_id, "interviews", (("track", slug), ("status", status)))
        cursor = self._tokens.decode(token, scope)
        async with self._db.transaction(read_only=True) as uow:
            rows = await uow.interviews.page_with_counts(
                user_id,
                _int_cursor(cursor, 1)[0] if cursor else None,
                limit + 1,
                track=slug,
                status=status,
            )
        views = [_to_interview_view(row) for row in rows[:limit]]
        next_token = (
            self._tokens.encode(scope, [rows[limit - 1].interview.id]) if len(rows) > limit else ""
        )
        return Page(views, next_token)

    async def list_questions(
        self, user_id: int, interview_id: int, size: int, token: str
    ) -> Page[QuestionView]:
        limit = page_size(size)
        scope = PageScope(user_id, "questions", (("interview_id", interview_id),))
        cursor = self._tokens.decode(token, scope)
        async with self._db.transaction(read_only=True) as uow:
            interview = await self._owned(uow, user_id, interview_id)
            after = _int_cursor(cursor, 2) if cursor else None
            rows = await uow.questions.page(
                interview.id, (after[0], after[1]) if after else None, limit + 1
            )
        views = [question_view(row) for row in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        return Page(views, self._tokens.encode(scope, [last.position, last.id]) if last else "")

    async def list_attempts(
        self, user_id: int, interview_id: int, size: int, token: str
    ) -> Page[AttemptView]:
        limit = page_size(size)
        scope = PageScope(user_id, "question_attempts", (("interview_id", interview_id),))
        cursor = self._tokens.decode(token, scope)
        async with self._db.transaction(read_only=True) as uow:
            interview = await self._owned(uow, user_id, interview_id)
            after = _int_cursor(cursor, 2) if cursor else None
            rows = await uow.attempts.page(
                interview.id, (after[0], after[1]) if after else None, limit + 1
            )
        views = [attempt_view(attempt, question) for attempt, question in rows[:limit]]
        if len(rows) <= limit:
            return Page(views, "")
        last_attempt, last_question = rows[limit - 1]
        return Page(views, self._tokens.encode(scope, [last_question.position, last_attempt.id]))

    async def create_attempt(self, user_id: int, question_id: int) -> AttemptView:
        if question_id <= 0:
            raise InvalidArgument.for_field("question_id", "question_id must be a positive id")
        async with self._db.transaction() as uow:
            found = await uow.questions.get_owned(user_id, question_id, hold_interview=True)
            if found is None:
                raise NotFound(f"question {question_id} not found", reason="QUESTION_NOT_FOUND")
            question, interview = found
            if interview.status != "active":
                raise FailedPrecondition(
                    "this interview is completed and accepts no new attempts",
                    reason="INTERVIEW_COMPLETED",
                )
            attempt = await uow.attempts.add(question)
            return attempt_view(attempt, question)

    async def _interview_for_generation(
        self, uow: UnitOfWork, user_id: int, interview_id: int
    ) -> InterviewRecord:
        if interview_id < 0:
            raise InvalidArgument.for_field("interview_id", "interview_id must not be negative")
        if interview_id:
            return await self._owned(uow, user_id, interview_id)
        latest = await uow.interviews.latest_active(user_id)
        if latest is None:
            raise FailedPrecondition(
                "you have no active interview; call CreateInterview first",
                reason="NO_ACTIVE_INTERVIEW",
            )
        return latest

    async def _owned(
        self, uow: UnitOfWork, user_id: int, interview_id: int, *, lock: bool = False
    ) -> InterviewRecord:
        if interview_id <= 0:
            raise InvalidArgument.for_field("interview_id", "interview_id must be a positive id")
        interview = await uow.interviews.get_owned(user_id, interview_id, lock=lock)
        if interview is None:
            raise _interview_not_found(interview_id)
        return interview

    async def _profile(self, user_id: int) -> CandidateProfile:
        profile = await self._profiles(user_id)
        if profile is None:
            raise FailedPrecondition(
                "use_resume needs a resume: upload one with ResumeService.UploadResume, "
                "or set use_resume to false",
                reason="RESUME_REQUIRED",
            )
        return profile


def _question_count(count: int) -> int:
    if count == 0:
        return DEFAULT_QUESTION_COUNT
    if not 1 <= count <= MAX_QUESTION_COUNT:
        raise InvalidArgument.for_field(
            "count",
            f"count must be between 1 and {MAX_QUESTION_COUNT} (0 means {DEFAULT_QUESTION_COUNT})",
        )
    return count


def _int_cursor(cursor: list[Any], length: int) -> list[int]:
    if len(cursor) != length or not all(isinstance(v, int) for v in cursor):
        raise InvalidArgument.for_field("page_token", "page_token is not valid for this list")
    return [int(v) for v in cursor]


def _interview_not_found(interview_id: int | None = None) -> NotFound:
    what = f"interview {interview_id}" if interview_id else "interview"
    return NotFound(f"{what} not found", reason="INTERVIEW_NOT_FOUND")


async def _interview_view(uow: UnitOfWork, interview: InterviewRecord) -> InterviewView:
    found = await uow.interviews.get_owned_with_counts(interview.user_id, interview.id)
    assert found is not None  # read in this transaction, which holds or wrote the row
    return _to_interview_view(replace(found, interview=interview))


def _to_interview_view(summary: InterviewSummaryRecord) -> InterviewView:
    interview = summary.interview
    return InterviewView(
        id=interview.id,
        track=interview.track,
        difficulty=Difficulty(interview.difficulty),
        status=interview.status,
        created_at=interview.created_at,
        completed_at=interview.completed_at,
        question_count=summary.question_count,
        answered_count=summary.answered_count,
        overall_score=summary.overall_score,
        content_score=summary.content_score,
        delivery_score=summary.delivery_score,
        next_steps=summary.top_next_steps,
    )


def question_view(question: QuestionRecord) -> QuestionView:
    return QuestionView(
        id=question.id,
        interview_id=question.interview_id,
        position=question.position,
        text=question.text,
        topic=question.topic,
        category=question.category,
        difficulty=Difficulty(question.difficulty),
        parent_question_id=question.parent_question_id or 0,
    )


def attempt_view(attempt: AttemptRecord, question: QuestionRecord) -> AttemptView:
    return AttemptView(
        id=attempt.id,
        question_id=question.id,
        interview_id=attempt.interview_id,
        question_text=question.text,
        created_at=attempt.created_at,
        has_transcription=attempt.transcribed_at is not None,
    )


async def _question_set(
    uow: UnitOfWork, interview: InterviewRecord, questions: Sequence[QuestionRecord], cached: bool
) -> QuestionSet:
    first = await uow.attempts.first_of_interview(interview.id)
    return QuestionSet(
        interview_id=interview.id,
        questions=[question_view(q) for q in questions],
        cached=cached,
        generator=interview.generator or "",
        first_attempts=[attempt_view(attempt, question) for attempt, question in first],
    )

"""Analysing answers and reporting on interviews. Knows nothing of gRPC."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.clock import utcnow
from server.domain.analysis.compare import Comparison, compare
from server.domain.analysis.progress import CompletedInterview, Progress, build_progress
from server.domain.analysis.report import InterviewReport, QuestionReport, build_report
from server.domain.analysis.rubric import report_extras
from server.domain.analysis.scoring import combine
from server.domain.analysis.types import AnswerAnalysis, ContentAnalyser, QuestionContext
from server.domain.interviews import ProfileLookup
from server.domain.records import AttemptRecord, QuestionRecord
from server.domain.tracks import normalise_track
from server.domain.transcriptions import stored_transcription
from server.errors import FailedPrecondition, InvalidArgument, NotFound
from server.repositories.unit_of_work import Database

log = logging.getLogger(__name__)

# Version 2: rubric, time spent and next practice.
REPORT_VERSION = 2
# How many of a report's next steps an interview in a list carries.
TOP_NEXT_STEPS = 3
# How many completed interviews, the latest, progress looks back over.
MAX_PROGRESS_INTERVIEWS = 100


@dataclass(frozen=True)
class StoredAnalysis:
    analysis: AnswerAnalysis
    created_at: datetime


@dataclass(frozen=True)
class StoredReport:
    report: InterviewReport
    updated_at: datetime


class AnalysisService:
    def __init__(
        self,
        database: Database,
        content: ContentAnalyser,
        profiles: ProfileLookup,
        track_aliases: dict[str, str] | None = None,
    ) -> None:
        self._db = database
        self._content = content
        self._profiles = profiles
        self._track_aliases = track_aliases or {}

    async def analyse_answer(self, user_id: int, attempt_id: int) -> StoredAnalysis:
        if attempt_id <= 0:
            raise InvalidArgument.for_field(
                "question_attempt_id", "question_attempt_id must be a positive id"
            )
        async with self._db.transaction() as uow:
            found = await uow.attempts.get_owned(user_id, attempt_id)
            if found is None:
                raise NotFound(
                    f"question attempt {attempt_id} not found", reason="ATTEMPT_NOT_FOUND"
                )
            attempt, question, _ = found
            if attempt.transcribed_at is None:
                raise FailedPrecondition(
                    "this attempt has no transcribed answer yet; send it with "
                    "TranscriptionService.TranscribeAnswer first",
                    reason="NOT_TRANSCRIBED",
                )
            existing = await uow.analyses.get(attempt_id)
        if existing is not None:
            return StoredAnalysis(AnswerAnalysis.from_json(existing.payload), existing.created_at)
        return await self._analyse_and_store(user_id, attempt, question)

    async def report(self, user_id: int, interview_id: int) -> StoredReport:
        if interview_id <= 0:
            raise InvalidArgument.for_field("interview_id", "interview_id must be a positive id")
        async with self._db.transaction() as uow:
            interview = await uow.interviews.get_owned(user_id, interview_id)
            if interview is None:
                raise NotFound(f"interview {interview_id} not found", reason="INTERVIEW_NOT_FOUND")
            questions = list(await uow.questions.of_interview(interview_id))
            attempts = list(await uow.analyses.attempts_of_interview(interview_id))
            fingerprint = _fingerprint(attempts)
            stored = await uow.reports.get(interview_id)
            if stored is not None and stored.fingerprint == fingerprint:
                return StoredReport(InterviewReport.from_json(stored.payload), stored.updated_at)
            latest = _latest_attempts(attempts)
            analyses = await uow.analyses.of_attempts([a.id for a in latest.values()])
        by_attempt = {k: AnswerAnalysis.from_json(v.payload) for k, v in analyses.items()}
        # Answers not analysed yet (a new upload, a redone question) are analysed now.
        for question in questions:
            attempt = latest.get(question.id)
            if attempt and attempt.transcribed_at and attempt.id not in by_attempt:
                stored_analysis = await self._analyse_and_store(user_id, attempt, question)
                by_attempt[attempt.id] = stored_analysis.analysis
        extras = await asyncio.to_thread(
            report_extras,
            interview.track,
            interview.difficulty,
            questions,
            latest,
            attempts,
            by_attempt,
        )
        report = build_report(
            interview_id,
            [_question_report(q, latest.get(q.id), attempts, by_attempt) for q in questions],
            extras,
        )
        scores = (
            (report.overall_score, report.content_score, report.delivery_score)
            if report.answered_count
            else None
        )
        async with self._db.transaction() as uow:
            updated_at = await uow.reports.save(
                interview_id,
                fingerprint,
                report.to_json(),
                scores=scores,
                top_next_steps=report.next_steps[:TOP_NEXT_STEPS],
            )
        return StoredReport(report, updated_at)

    async def compare_attempts(self, user_id: int, question_id: int) -> Comparison:
        """The latest answer to a question against the one before it and the first."""
        if question_id <= 0:
            raise InvalidArgument.for_field("question_id", "question_id must be a positive id")
        async with self._db.transaction(read_only=True) as uow:
            found = await uow.questions.get_owned(user_id, question_id)
            if found is None:
                raise NotFound(f"question {question_id} not found", reason="QUESTION_NOT_FOUND")
            question = found[0]
            answered = [a for a in await uow.attempts.of_question(question_id) if a.transcribed_at]
            if len(answered) < 2:
                raise FailedPrecondition(
                    f"question {question.position} has {len(answered)} answered attempt"
                    f"{'' if len(answered) == 1 else 's'}; answer it again (CreateQuestionAttempt, "
                    "then TranscribeAnswer) to compare",
                    reason="NOT_ENOUGH_ATTEMPTS",
                )
            stored = await uow.analyses.of_attempts([a.id for a in answered])
        analyses = {k: AnswerAnalysis.from_json(v.payload) for k, v in stored.items()}
        for attempt in answered:  # answers not analysed yet are analysed now
            if attempt.id not in analyses:
                analysed = await self._analyse_and_store(user_id, attempt, question)
                analyses[attempt.id] = analysed.analysis
        return compare(question.id, question.text, [(a.id, analyses[a.id]) for a in answered])

    async def progress(self, user_id: int, track: str) -> Progress:
        """Progress over the latest `MAX_PROGRESS_INTERVIEWS` completed interviews (on
        `track` unless it is empty), each report brought up to date on the way."""
        slug = normalise_track(track, self._track_aliases) if track.strip() else ""
        async with self._db.transaction(read_only=True) as uow:
            completed = await uow.interviews.completed(user_id, slug, MAX_PROGRESS_INTERVIEWS)
            practice = await uow.attempts.practice_times(user_id)
        interviews = [
            CompletedInterview(
                i.id,
                i.track,
                i.completed_at or i.created_at,
                (await self.report(user_id, i.id)).report,
            )
            for i in completed
        ]
        return await asyncio.to_thread(build_progress, slug, interviews, practice, utcnow().date())

    async def _analyse_and_store(
        self, user_id: int, attempt: AttemptRecord, question: QuestionRecord
    ) -> StoredAnalysis:
        profile = await self._profiles(user_id)
        transcription = stored_transcription(attempt, question)
        delivery = transcription.delivery
        content = await self._content.analyse(
            QuestionContext(
                text=question.text,
                topic=question.topic,
                category=question.category,
                concepts=list(question.concepts or []),
                candidate_skills=list(profile.skills) if profile else [],
            ),
            transcription.transcript.text,
        )
        overall, strengths, improvements = combine(delivery, content)
        analysis = AnswerAnalysis(
            question_attempt_id=attempt.id,
            question_id=question.id,
            overall_score=overall,
            delivery=delivery,
            content=content,
            strengths=strengths,
            improvements=improvements,
        )
        async with self._db.transaction() as uow:
            row = await uow.analyses.add_if_absent(
                attempt.id, content.analyzer, overall, analysis.to_json()
            )
        return StoredAnalysis(AnswerAnalysis.from_json(row.payload), row.created_at)


def _latest_attempts(attempts: Sequence[AttemptRecord]) -> dict[int, AttemptRecord]:
    latest: dict[int, AttemptRecord] = {}
    for attempt in attempts:  # in id order, so the last one wins
        latest[attempt.question_id] = attempt
    return latest


def _fingerprint(attempts: Sequence[AttemptRecord]) -> str:
    """Changes when a question gets a new attempt or an attempt gets its transcript."""
    state = [(a.question_id, a.id, a.transcribed_at is not None) for a in attempts]
    # The version changes when a report gains something, so stored reports are rebuilt.
    return hashlib.sha256(json.dumps([REPORT_VERSION, state]).encode()).hexdigest()


def _question_report(
    question: QuestionRecord,
    latest: AttemptRecord | None,
    attempts: Sequence[AttemptRecord],
    analyses: dict[int, AnswerAnalysis],
) -> QuestionReport:
    analysis = analyses.get(latest.id) if latest else None
    return QuestionReport(
        question_id=question.id,
        position=question.position,
        question_text=question.text,
        category=question.category,
        answered=analysis is not None,
        question_attempt_id=latest.id if latest else 0,
        attempt_count=sum(1 for a in attempts if a.question_id == question.id),
        analysis=analysis,
    )

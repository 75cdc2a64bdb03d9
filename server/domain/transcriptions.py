"""Spoken answers: received, checked, transcribed and stored on their attempt.

Knows nothing of gRPC: the servicer hands over the config and an async
iterator of audio chunks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

from server.audio import AudioIntake
from server.clock import utcnow
from server.domain.analysis.delivery import analyse_delivery
from server.domain.analysis.types import DeliveryMetrics, Word
from server.domain.interviews import ProfileLookup
from server.domain.records import AttemptRecord as QuestionAttempt
from server.domain.records import QuestionRecord as Question
from server.engines.stt import (
    TranscribedWord,
    TranscriptionContext,
    TranscriptionEngine,
    TranscriptResult,
    normalise_language,
)
from server.errors import FailedPrecondition, InvalidArgument, NotFound
from server.repositories.unit_of_work import Database, UnitOfWork

log = logging.getLogger(__name__)

MAX_REQUEST_ID_CHARS = 128
# The strongest skills are enough context; a long prompt only costs time.
CONTEXT_SKILLS = 12


@dataclass(frozen=True)
class AnswerConfig:
    question_attempt_id: int
    language: str = ""
    filename: str = ""
    mime_type: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class StoredAudio:
    format: str
    size_bytes: int
    duration: float
    filename: str
    mime_type: str


@dataclass(frozen=True)
class StoredTranscription:
    question_attempt_id: int
    transcript: TranscriptResult
    audio: StoredAudio
    processing_seconds: float
    request_id: str

    @property
    def delivery(self) -> DeliveryMetrics:
        """Pace, pauses and fillers: cheap and deterministic, so computed on demand."""
        words = [Word(w.word, w.start, w.end, w.probability) for w in self.transcript.words]
        return analyse_delivery(words, self.audio.duration)


class TranscriptionService:
    def __init__(
        self,
        database: Database,
        intake: AudioIntake,
        engine: TranscriptionEngine,
        profiles: ProfileLookup,
    ) -> None:
        self._db = database
        self._intake = intake
        self._engine = engine
        self._profiles = profiles

    async def check_config(self, user_id: int, config: AnswerConfig) -> StoredTranscription | None:
        """Before any audio is accepted: the attempt must be the caller's and open.

        Returns the stored result when this is a retry of an upload that
        already succeeded (same request_id): the client should not send again.
        """
        _validate(config)
        async with self._db.transaction() as uow:
            attempt, question = await _open_attempt(uow, user_id, config.question_attempt_id)
            if attempt.transcribed_at is None:
                return None
            return _existing_or_refuse(attempt, question, config.request_id)

    async def transcribe(
        self, user_id: int, config: AnswerConfig, chunks: AsyncIterable[bytes]
    ) -> StoredTranscription:
        """Receive the audio, transcribe it, store it. `check_config` must have passed."""
        language = normalise_language(config.language)
        async with self._db.transaction() as uow:
            _, question = await _open_attempt(uow, user_id, config.question_attempt_id)
        profile = await self._profiles(user_id)
        context = TranscriptionContext(
            question=question.text, skills=tuple(profile.skills[:CONTEXT_SKILLS]) if profile else ()
        )
        async with self._intake.upload(
            filename=config.filename, mime_type=config.mime_type
        ) as upload:
            received = await upload.receive(chunks)
            started = time.perf_counter()
            transcript = await self._engine.transcribe(
                received.path, language=language, context=context
            )
        audio = StoredAudio(
            format=received.info.format.value,
            size_bytes=received.info.size_bytes,
            duration=received.info.duration,
            filename=received.info.filename,
            mime_type=received.info.mime_type,
        )
        return await self._store(user_id, config, transcript, audio, time.perf_counter() - started)

    async def get(self, user_id: int, attempt_id: int) -> StoredTranscription:
        if attempt_id <= 0:
            raise _bad_attempt_id()
        async with self._db.transaction() as uow:
            found = await uow.attempts.get_owned(user_id, attempt_id)
        if found is None:
            raise _attempt_not_found(attempt_id)
        attempt, question, _ = found
        if attempt.transcribed_at is None:
            raise NotFound(
                f"question attempt {attempt_id} has no transcription yet; "
                "send the answer with TranscribeAnswer",
                reason="TRANSCRIPTION_NOT_FOUND",
            )
        return stored_transcription(attempt, question)

    async def _store(
        self,
        user_id: int,
        config: AnswerConfig,
        transcript: TranscriptResult,
        audio: StoredAudio,
        processing_seconds: float,
    ) -> StoredTranscription:
        values: dict[str, Any] = {
            "request_id": config.request_id or None,
            "transcript_text": transcript.text,
            "transcript_words": [[w.word, w.start, w.end, w.probability] for w in transcript.words],
            "transcript_language": transcript.language,
            "transcript_engine": transcript.engine,
            "transcript_model": transcript.model,
            "audio_format": audio.format,
            "audio_size_bytes": audio.size_bytes,
            "audio_duration_seconds": audio.duration,
            "audio_filename": audio.filename,
            "audio_mime_type": audio.mime_type,
            "processing_seconds": processing_seconds,
        }
        async with self._db.transaction() as uow:
            # The interview may have been completed, or another upload may have
            # won, while this one was being transcribed: check again under lock.
            attempt, question = await _open_attempt(
                uow, user_id, config.question_attempt_id, lock=True
            )
            if not await uow.transcripts.store(attempt.id, values, utcnow()):
                return _existing_or_refuse(attempt, question, config.request_id)
        log.info(
            "answer transcribed",
            extra={
                "question_attempt_id": config.question_attempt_id,
                "audio_seconds": round(audio.duration, 2),
                "processing_seconds": round(processing_seconds, 3),
                "engine": transcript.engine,
            },
        )
        return StoredTranscription(
            config.question_attempt_id, transcript, audio, processing_seconds, config.request_id
        )


def _validate(config: AnswerConfig) -> None:
    if config.question_attempt_id <= 0:
        raise _bad_attempt_id("config.question_attempt_id")
    if len(config.request_id) > MAX_REQUEST_ID_CHARS:
        raise InvalidArgument.for_field(
            "config.request_id", f"request_id must be at most {MAX_REQUEST_ID_CHARS} characters"
        )
    normalise_language(config.language)


async def _open_attempt(
    uow: UnitOfWork, user_id: int, attempt_id: int, *, lock: bool = False
) -> tuple[QuestionAttempt, Question]:
    found = await uow.attempts.get_owned(user_id, attempt_id, lock=lock)
    if found is None:
        raise _attempt_not_found(attempt_id)
    attempt, question, interview = found
    if interview.status != "active":
        raise FailedPrecondition(
            "this interview is completed and accepts no new answers",
            reason="INTERVIEW_COMPLETED",
        )
    return attempt, question


def _existing_or_refuse(
    attempt: QuestionAttempt, question: Question, request_id: str
) -> StoredTranscription:
    if request_id and attempt.request_id == request_id:
        return stored_transcription(attempt, question)
    raise FailedPrecondition(
        "this attempt already has a transcribed answer; to answer again, open a new attempt "
        "with InterviewService.CreateQuestionAttempt",
        reason="ATTEMPT_ALREADY_ANSWERED",
    )


def stored_transcription(attempt: QuestionAttempt, question: Question) -> StoredTranscription:
    """The transcript stored on an attempt, as the domain sees it."""
    duration = attempt.audio_duration_seconds or 0.0
    transcript = TranscriptResult(
        text=attempt.transcript_text or "",
        words=[
            TranscribedWord(str(w), float(s), float(e), float(p))
            for w, s, e, p in attempt.transcript_words or []
        ],
        language=attempt.transcript_language or "",
        duration=duration,
        engine=attempt.transcript_engine or "",
        model=attempt.transcript_model or "",
    )
    audio = StoredAudio(
        format=attempt.audio_format or "",
        size_bytes=attempt.audio_size_bytes or 0,
        duration=duration,
        filename=attempt.audio_filename or "",
        mime_type=attempt.audio_mime_type or "",
    )
    return StoredTranscription(
        attempt.id, transcript, audio, attempt.processing_seconds or 0.0, attempt.request_id or ""
    )


def _bad_attempt_id(field: str = "question_attempt_id") -> InvalidArgument:
    return InvalidArgument.for_field(field, f"{field} must be a positive id")


def _attempt_not_found(attempt_id: int) -> NotFound:
    return NotFound(f"question attempt {attempt_id} not found", reason="ATTEMPT_NOT_FOUND")

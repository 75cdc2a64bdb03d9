"""Spoken answers: received, checked, transcribed and stored on their attempt.

Knows nothing of gRPC: the servicer hands over the config and an async
iterator of audio chunks.
"""

from __future__ import annotations

import asyncio
import logging
import time
import unicodedata
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

from server.audio import AudioIntake
from server.audio.formats import parse_mime_type
from server.clock import utcnow
from server.domain.admission import StreamAdmission
from server.domain.analysis.delivery import analyse_delivery
from server.domain.analysis.types import DeliveryMetrics, Word
from server.domain.interviews import ProfileLookup
from server.domain.records import AttemptRecord, QuestionRecord, TranscriptRecord
from server.engines.stt import (
    LiveEngine,
    LiveTranscription,
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
# Bounds on the other config strings: far above any real value, and small enough
# to quote back in an error. A longer filename is refused, not cut: it is a path
# from a buggy client, or abuse.
MAX_LANGUAGE_CHARS = 35
MAX_FILENAME_INPUT_CHARS = 1024
MAX_MIME_TYPE_CHARS = 255
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
        limits = intake.streams
        self.admission = StreamAdmission(
            limits.max_streams_per_user,
            limits.max_active,
            limits.max_live_streams,
            limits.max_interim_streams,
        )

    @property
    def intake(self) -> AudioIntake:
        return self._intake

    def validate(self, config: AnswerConfig) -> None:
        """Every config field, checked the moment the config arrives. No I/O."""
        _validate(config)

    async def answer(
        self, user_id: int, config: AnswerConfig, chunks: AsyncIterable[bytes]
    ) -> tuple[StoredTranscription, DeliveryMetrics]:
        """The whole call: config checks and admission before any audio, then the rest.

        Every refusal that needs no audio (a bad field, a foreign or closed
        attempt, too many streams, no room) comes before `chunks` is read.
        """
        _validate(config)
        self.check_language(config.language)
        with self.admission.stream(user_id):
            stored = await self.check_config(user_id, config)
            if stored is None:
                with self.admission.transcription():
                    stored = await self.transcribe(user_id, config, chunks, timed=False)
        # Pace, pauses and fillers: a pass over every word, so not on the event loop.
        delivery = await asyncio.to_thread(lambda: stored.delivery)
        return stored, delivery

    def check_language(self, language: str) -> None:
        """An engine that knows its languages says so now, not after the upload."""
        check_language = getattr(self._engine, "check_language", None)
        if check_language is not None:
            check_language(language)

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
        self,
        user_id: int,
        config: AnswerConfig,
        chunks: AsyncIterable[bytes],
        *,
        timed: bool = True,
        listener: Any = None,
        interim: bool = False,
        pcm_sample_rate: int = 0,
    ) -> StoredTranscription:
        """Receive the audio, transcribe it, store it. `check_config` must have passed.

        `timed`: apply the idle timeout to `chunks` (False when the caller does).
        `listener` and `interim`: for StreamAnswer, what the live session tells as it
        goes (`server.engines.stt.live.LiveListener`). `pcm_sample_rate`: raw LINEAR16.
        """
        language = normalise_language(config.language)
        async with self._db.transaction() as uow:
            _, question = await _open_attempt(uow, user_id, config.question_attempt_id)
        profile = await self._profiles(user_id)
        context = TranscriptionContext(
            question=question.text, skills=tuple(profile.skills[:CONTEXT_SKILLS]) if profile else ()
        )
        live = _LiveStart(self._engine, language, context, listener, interim)
        async with self._intake.upload(
            filename=config.filename, mime_type=config.mime_type, pcm_sample_rate=pcm_sample_rate
        ) as upload:
            try:
                received = await upload.receive(chunks, timed=timed, live=live.start)
                started = time.perf_counter()
                session = live.session
                if session is not None and received.live:
                    transcript = await session.result()
                else:
                    live.close()  # its place in the engine goes to the batch transcription
                    transcript = await self._engine.transcribe(
                        received.path, language=language, context=context
                    )
            finally:
                live.close()
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
        async with self._db.transaction(read_only=True) as uow:
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
        record = TranscriptRecord(
            request_id=config.request_id or None,
            text=transcript.text,
            words=tuple((w.word, w.start, w.end, w.probability) for w in transcript.words),
            language=transcript.language,
            engine=transcript.engine,
            model=transcript.model,
            audio_format=audio.format,
            audio_size_bytes=audio.size_bytes,
            audio_duration_seconds=audio.duration,
            audio_filename=audio.filename,
            audio_mime_type=audio.mime_type,
            processing_seconds=processing_seconds,
        )
        async with self._db.transaction() as uow:
            # The interview may have been completed, or another upload may have
            # won, while this one was being transcribed: check again under lock.
            attempt, question = await _open_attempt(
                uow, user_id, config.question_attempt_id, lock=True
            )
            if not await uow.transcripts.store(attempt.id, record, utcnow()):
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


class _LiveStart:
    """The engine's live session for one upload, opened once its format is known.

    An engine that cannot transcribe as the audio arrives (OpenAI), a format that
    cannot be decoded as it arrives (M4A), or an engine with no place left: no
    session, and the answer is transcribed when it is complete, as before.
    """

    def __init__(
        self,
        engine: TranscriptionEngine,
        language: str,
        context: TranscriptionContext,
        listener: Any,
        interim: bool,
    ) -> None:
        self._engine = engine if isinstance(engine, LiveEngine) else None
        self._language = language
        self._context = context
        self._listener = listener
        self._interim = interim
        self.session: LiveTranscription | None = None

    def start(self, audio_format: object) -> LiveTranscription | None:
        if self._engine is None:
            return None
        self.session = self._engine.live(
            language=self._language,
            context=self._context,
            listener=self._listener,
            interim=self._interim,
        )
        return self.session

    def close(self) -> None:
        """Stops whatever is still running (on an error, a refusal or a cancellation)."""
        if self.session is not None:
            self.session.close()


def _validate(config: AnswerConfig) -> None:
    """Every field of the config, before any I/O: the same answer on every database."""
    if config.question_attempt_id <= 0:
        raise _bad_attempt_id("config.question_attempt_id")
    # An idempotency key is stored and compared: printable characters only.
    _check_text("request_id", config.request_id, MAX_REQUEST_ID_CHARS, _KEY_FORBIDDEN)
    _check_text("language", config.language, MAX_LANGUAGE_CHARS, _TEXT_FORBIDDEN)
    # Invisible format characters (bidi marks) occur in real file names: cleaned, not refused.
    _check_text("filename", config.filename, MAX_FILENAME_INPUT_CHARS, _TEXT_FORBIDDEN)
    _check_text("mime_type", config.mime_type, MAX_MIME_TYPE_CHARS, _TEXT_FORBIDDEN)
    normalise_language(config.language)
    parse_mime_type(config.mime_type)


# Unicode categories refused: control characters (NUL, ESC, C1 controls) and lone
# surrogates everywhere; in a key also format, private-use and unassigned characters.
_TEXT_FORBIDDEN = frozenset({"Cc", "Cs"})
_KEY_FORBIDDEN = frozenset({"Cc", "Cs", "Cf", "Co", "Cn"})


def _check_text(name: str, value: str, max_chars: int, forbidden: frozenset[str]) -> None:
    field = f"config.{name}"
    if len(value) > max_chars:
        raise InvalidArgument.for_field(
            field,
            f"{name} must be at most {max_chars} characters, not {len(value)}",
            reason="CONFIG_FIELD_TOO_LONG",
        )
    for position, char in enumerate(value):
        if unicodedata.category(char) in forbidden:
            raise InvalidArgument.for_field(
                field,
                f"{name} contains the character U+{ord(char):04X} at position {position}; "
                "control characters, surrogates and (in request_id) invisible characters "
                "are not accepted",
                reason="CONFIG_FIELD_INVALID_CHARACTER",
            )


async def _open_attempt(
    uow: UnitOfWork, user_id: int, attempt_id: int, *, lock: bool = False
) -> tuple[AttemptRecord, QuestionRecord]:
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
    attempt: AttemptRecord, question: QuestionRecord, request_id: str
) -> StoredTranscription:
    if request_id and attempt.request_id == request_id:
        return stored_transcription(attempt, question)
    raise FailedPrecondition(
        "this attempt already has a transcribed answer; to answer again, open a new attempt "
        "with InterviewService.CreateQuestionAttempt",
        reason="ATTEMPT_ALREADY_ANSWERED",
    )


def stored_transcription(attempt: AttemptRecord, question: QuestionRecord) -> StoredTranscription:
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

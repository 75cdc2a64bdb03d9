"""Translation between domain values and protobuf messages."""

from __future__ import annotations

from datetime import datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2

from generated.samvaad.v1 import auth_pb2, interview_pb2, transcription_pb2
from server.domain.auth import TokenPair, UserProfile
from server.domain.interviews import AttemptView, InterviewView, QuestionView
from server.domain.questions import Difficulty
from server.domain.transcriptions import AnswerConfig, StoredTranscription
from server.errors import InvalidArgument


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value)
    return message


def duration(value: timedelta | float) -> duration_pb2.Duration:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    message = duration_pb2.Duration()
    message.FromNanoseconds(round(seconds * 1e9))
    return message


def user(profile: UserProfile) -> auth_pb2.User:
    return auth_pb2.User(
        id=profile.id,
        email=profile.email,
        name=profile.name,
        create_time=timestamp(profile.created_at),
        has_resume=profile.has_resume,
    )


def tokens(pair: TokenPair) -> auth_pb2.AuthTokens:
    return auth_pb2.AuthTokens(
        access_token=pair.access_token,
        access_token_expire_time=timestamp(pair.access_expires_at),
        refresh_token=pair.refresh_token,
        refresh_token_expire_time=timestamp(pair.refresh_expires_at),
        token_type=pair.token_type,
    )


# --- interviews -------------------------------------------------------------------

_DIFFICULTY_TO_PROTO = {
    Difficulty.EASY: interview_pb2.DIFFICULTY_EASY,
    Difficulty.MEDIUM: interview_pb2.DIFFICULTY_MEDIUM,
    Difficulty.HARD: interview_pb2.DIFFICULTY_HARD,
    Difficulty.EXPERT: interview_pb2.DIFFICULTY_EXPERT,
}
_DIFFICULTY_FROM_PROTO = {v: k for k, v in _DIFFICULTY_TO_PROTO.items()}
_STATUS_TO_PROTO = {
    "active": interview_pb2.INTERVIEW_STATUS_ACTIVE,
    "completed": interview_pb2.INTERVIEW_STATUS_COMPLETED,
}


def difficulty_from_proto(value: int) -> Difficulty:
    """DIFFICULTY_UNSPECIFIED means medium; an unknown number is a client error."""
    if value == interview_pb2.DIFFICULTY_UNSPECIFIED:
        return Difficulty.MEDIUM
    if value not in _DIFFICULTY_FROM_PROTO:
        raise InvalidArgument.for_field(
            "difficulty", f"difficulty {value} is not a Difficulty value"
        )
    return _DIFFICULTY_FROM_PROTO[value]  # type: ignore[index]


def interview(view: InterviewView) -> interview_pb2.Interview:
    return interview_pb2.Interview(
        id=view.id,
        track=view.track,
        difficulty=_DIFFICULTY_TO_PROTO[view.difficulty],
        status=_STATUS_TO_PROTO[view.status],
        create_time=timestamp(view.created_at),
        complete_time=timestamp(view.completed_at),
        question_count=view.question_count,
        answered_count=view.answered_count,
    )


def question(view: QuestionView) -> interview_pb2.Question:
    return interview_pb2.Question(
        id=view.id,
        interview_id=view.interview_id,
        position=view.position,
        text=view.text,
        topic=view.topic,
        category=view.category,
        difficulty=_DIFFICULTY_TO_PROTO[view.difficulty],
    )


def question_attempt(view: AttemptView) -> interview_pb2.QuestionAttempt:
    return interview_pb2.QuestionAttempt(
        id=view.id,
        question_id=view.question_id,
        interview_id=view.interview_id,
        question_text=view.question_text,
        create_time=timestamp(view.created_at),
        has_transcription=view.has_transcription,
    )


# --- transcriptions -----------------------------------------------------------------


def transcription(stored: StoredTranscription) -> transcription_pb2.Transcription:
    result = stored.transcript
    return transcription_pb2.Transcription(
        text=result.text,
        words=[
            transcription_pb2.Word(
                word=w.word,
                start_offset=duration(w.start),
                end_offset=duration(w.end),
                probability=w.probability,
            )
            for w in result.words
        ],
        language=result.language,
        duration=duration(stored.audio.duration),
        engine=result.engine,
        model=result.model,
    )


def audio_info(stored: StoredTranscription) -> transcription_pb2.AudioInfo:
    audio = stored.audio
    return transcription_pb2.AudioInfo(
        format=audio.format,
        size_bytes=audio.size_bytes,
        duration=duration(audio.duration),
        filename=audio.filename,
        mime_type=audio.mime_type,
    )


def answer_config(config: transcription_pb2.AudioConfig) -> AnswerConfig:
    return AnswerConfig(
        question_attempt_id=config.question_attempt_id,
        language=config.language,
        filename=config.filename,
        mime_type=config.mime_type,
        request_id=config.request_id,
    )

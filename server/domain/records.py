"""What the repositories hand the domain: frozen snapshots of stored rows.

A domain type module: plain dataclasses and nothing else imported, so the
repositories (one layer down) may build them without loading the domain. A
record is a copy taken when it was read; changing what is stored is a
repository call, never an assignment to a record. Field names are the column
names of `server.db.models`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class UserRecord:
    id: int
    email: str
    name: str
    password_hash: str
    created_at: datetime
    updated_at: datetime
    # The candidate's profile; None until set.
    degree: str | None = None
    institution: str | None = None
    graduation_year: int | None = None
    target_role: str | None = None
    onboarded: bool = False


@dataclass(frozen=True)
class RefreshTokenRecord:
    id: int
    user_id: int
    family_id: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None


@dataclass(frozen=True)
class ThrottleRecord:
    """One budget of the sign-in and registration throttles."""

    key: str
    hits: int
    window_started_at: datetime
    locked_until: datetime | None
    expires_at: datetime


@dataclass(frozen=True)
class ResumeRecord:
    id: int
    user_id: int
    filename: str
    content_type: str
    size_bytes: int
    text: str
    text_sha256: str
    skills: tuple[str, ...]
    years_experience: float | None
    extractor: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class KnowledgeSetRecord:
    user_id: int
    text_sha256: str
    items: tuple[str, ...]
    extractor: str
    created_at: datetime


@dataclass(frozen=True)
class InterviewRecord:
    id: int
    user_id: int
    track: str
    difficulty: str  # a server.domain.questions.Difficulty value
    status: str  # "active" or "completed"
    generator: str | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class InterviewSummaryRecord:
    """An interview with its counts and what its latest stored report says.

    A question is answered when its latest attempt has a transcription. The scores
    are None while there is no report or it has nothing answered."""

    interview: InterviewRecord
    question_count: int
    answered_count: int
    overall_score: int | None
    content_score: int | None
    delivery_score: int | None
    top_next_steps: tuple[str, ...]


@dataclass(frozen=True)
class QuestionRecord:
    id: int
    interview_id: int
    position: int
    text: str
    topic: str
    category: str  # a server.domain.questions.Category value
    difficulty: str  # a server.domain.questions.Difficulty value
    concepts: tuple[str, ...]
    created_at: datetime
    parent_question_id: int | None = None  # set on a follow-up question


@dataclass(frozen=True)
class AttemptRecord:
    """A question attempt; the transcript columns are set together, once, or not at all."""

    id: int
    question_id: int
    interview_id: int
    created_at: datetime
    transcribed_at: datetime | None
    request_id: str | None
    transcript_text: str | None
    # ((word, start_seconds, end_seconds, probability), ...)
    transcript_words: tuple[tuple[Any, ...], ...] | None
    transcript_language: str | None
    transcript_engine: str | None
    transcript_model: str | None
    audio_format: str | None
    audio_size_bytes: int | None
    audio_duration_seconds: float | None
    audio_filename: str | None
    audio_mime_type: str | None
    processing_seconds: float | None


@dataclass(frozen=True)
class TranscriptRecord:
    """What one transcribed answer stores on its attempt, all in one statement."""

    request_id: str | None
    text: str
    # ((word, start_seconds, end_seconds, probability), ...)
    words: tuple[tuple[str, float, float, float], ...]
    language: str
    engine: str
    model: str
    audio_format: str
    audio_size_bytes: int
    audio_duration_seconds: float
    audio_filename: str
    audio_mime_type: str
    processing_seconds: float


@dataclass(frozen=True)
class AnalysisRecord:
    question_attempt_id: int
    analyzer: str
    overall_score: int
    payload: dict[str, Any]  # server.domain.analysis.types.AnswerAnalysis.to_json()
    created_at: datetime


@dataclass(frozen=True)
class ReportRecord:
    interview_id: int
    fingerprint: str
    payload: dict[str, Any]  # server.domain.analysis.report.InterviewReport.to_json()
    updated_at: datetime

"""SQLAlchemy models: the schema's single source of truth.

Alembic migrations under `server/db/migrations` must produce exactly this
schema; `tests/test_migrations.py` checks that they do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.db.types import BigIntId, UtcDateTime, utcnow

# Deterministic constraint names, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    # The candidate's profile (UpdateProfile); null until set.
    degree: Mapped[str | None] = mapped_column(String(128))
    institution: Mapped[str | None] = mapped_column(String(200))
    graduation_year: Mapped[int | None] = mapped_column(Integer)
    target_role: Mapped[str | None] = mapped_column(String(128))
    onboarded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RefreshToken(Base):
    """A refresh token, stored only as a SHA-256 hash.

    Tokens issued by rotating one another share a `family_id`; presenting a
    token that was already rotated revokes its whole family (token theft).
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # "rotated", "logout" or "reuse_detected"; null while the token is live.
    revoke_reason: Mapped[str | None] = mapped_column(String(32))


class AuthThrottle(Base):
    """One budget of the sign-in and registration throttles, shared by every worker.

    `key` is an HMAC of the budget's scope and subject (an email, an address, an
    email and an address, or "everyone"), so rows are fixed-size and reveal no
    email. A reservation increments `hits` with one conditional UPDATE while it is
    below the budget (`server.repositories.users.ThrottleRepository.reserve`);
    rows past `expires_at` mean nothing and are deleted a few at a time on writes.
    """

    __tablename__ = "auth_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Resume(Base):
    """A user's current resume: what was read from it, not the file itself.

    One per user; a successful upload replaces it in place.
    """

    __tablename__ = "resumes"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    # SHA-256 of `text`: the key of the knowledge-set cache.
    text_sha256: Mapped[str] = mapped_column(String(64))
    skills: Mapped[list[str]] = mapped_column(JSON)
    years_experience: Mapped[float | None] = mapped_column(Float)
    extractor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class KnowledgeSet(Base):
    """Normalised skills derived from one resume text, cached for every worker."""

    __tablename__ = "knowledge_sets"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    text_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    items: Mapped[list[str]] = mapped_column(JSON)
    extractor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Interview(Base):
    """A practice interview. At most one active interview per user and track."""

    __tablename__ = "interviews"
    __table_args__ = (
        # The database, not the application, guarantees that concurrent
        # CreateInterview calls can never open two active interviews.
        Index(
            "uq_interviews_active_user_track",
            "user_id",
            "track",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_interviews_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    track: Mapped[str] = mapped_column(String(64))
    difficulty: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # Which generator produced the questions; null until they are generated.
    generator: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (
        # One question per position: a second concurrent set cannot be inserted.
        UniqueConstraint("interview_id", "position"),
        # At most one follow-up per base question, whatever the races (NULLs never clash).
        Index("uq_questions_parent_question_id", "parent_question_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(32))
    difficulty: Mapped[str] = mapped_column(String(16))
    # Concepts a good answer covers; answer analysis measures coverage against them.
    concepts: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The question this one follows up on, in the same interview; null for the questions
    # of the set. No foreign key: a question is only ever deleted with its interview,
    # and so with its follow-up (and adding one would copy the table on SQLite, see
    # migration 0008).
    parent_question_id: Mapped[int | None] = mapped_column(BigInteger)


class QuestionAttempt(Base):
    """One try at answering a question; the latest attempt of a question counts."""

    __tablename__ = "question_attempts"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    # Denormalised from the question so listing and ownership checks need no join.
    interview_id: Mapped[int] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Set when an answer has been transcribed and stored on this attempt; the
    # columns below are written with it, in one statement.
    transcribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The client's idempotency key of the upload that produced the transcript.
    request_id: Mapped[str | None] = mapped_column(String(128))
    transcript_text: Mapped[str | None] = mapped_column(Text)
    # [[word, start_seconds, end_seconds, probability], ...]
    transcript_words: Mapped[list[list[Any]] | None] = mapped_column(JSON)
    transcript_language: Mapped[str | None] = mapped_column(String(16))
    transcript_engine: Mapped[str | None] = mapped_column(String(32))
    transcript_model: Mapped[str | None] = mapped_column(String(128))
    audio_format: Mapped[str | None] = mapped_column(String(16))
    audio_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    audio_duration_seconds: Mapped[float | None] = mapped_column(Float)
    audio_filename: Mapped[str | None] = mapped_column(String(255))
    audio_mime_type: Mapped[str | None] = mapped_column(String(64))
    processing_seconds: Mapped[float | None] = mapped_column(Float)


class AnswerAnalysisRow(Base):
    """The analysis of one transcribed attempt. A transcript never changes, so neither does this."""

    __tablename__ = "answer_analyses"

    question_attempt_id: Mapped[int] = mapped_column(
        ForeignKey("question_attempts.id", ondelete="CASCADE"), primary_key=True
    )
    analyzer: Mapped[str] = mapped_column(String(128))
    overall_score: Mapped[int] = mapped_column(Integer)
    # server.domain.analysis.types.AnswerAnalysis.to_json()
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class InterviewReportRow(Base):
    """The latest report of an interview, with a fingerprint of the answers it was built from."""

    __tablename__ = "interview_reports"

    interview_id: Mapped[int] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True
    )
    # Changes whenever a question gets a new attempt or an attempt its transcript.
    fingerprint: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Copied out of the payload for ListInterviews, which reads them in its one statement:
    # the mean scores (null while nothing is answered) and the first three next steps.
    overall_score: Mapped[int | None] = mapped_column(Integer)
    content_score: Mapped[int | None] = mapped_column(Integer)
    delivery_score: Mapped[int | None] = mapped_column(Integer)
    top_next_steps: Mapped[list[str] | None] = mapped_column(JSON)

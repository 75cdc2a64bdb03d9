"""The interview calls every screen makes, as driver statements, and their rows as records.

One driver call each (server/repositories/driver.py) instead of SQLAlchemy's ORM
machinery: GetInterview and ListInterviews with their counts, GetTranscription's
attempt with its question and interview, and CreateQuestionAttempt's question
check and insert.
"""

from __future__ import annotations

from typing import Any

from server.domain.records import (
    AttemptRecord,
    InterviewRecord,
    InterviewSummaryRecord,
    QuestionRecord,
)
from server.repositories.driver import DriverQuery, json_value, utc

_INTERVIEW = (
    "i.id, i.user_id, i.track, i.difficulty, i.status, i.generator, i.created_at, i.completed_at"
)
_QUESTION = (
    "q.id, q.interview_id, q.position, q.text, q.topic, q.category, q.difficulty,"
    " q.concepts, q.created_at, q.parent_question_id"
)
_ATTEMPT_COLUMNS = (
    "id, question_id, interview_id, created_at, transcribed_at, request_id, transcript_text,"
    " transcript_words, transcript_language, transcript_engine, transcript_model,"
    " audio_format, audio_size_bytes, audio_duration_seconds, audio_filename,"
    " audio_mime_type, processing_seconds"
)
_ATTEMPT = ", ".join(f"a.{column.strip()}" for column in _ATTEMPT_COLUMNS.split(","))
_INTERVIEW_WIDTH, _QUESTION_WIDTH, _ATTEMPT_WIDTH = 8, 10, 17

# A question is answered when its latest attempt has a transcription; the scores and
# top next steps are the latest stored report's (a primary-key join, null without one).
_WITH_COUNTS = (
    f"SELECT {_INTERVIEW},"
    " (SELECT count(*) FROM questions q WHERE q.interview_id = i.id),"
    " (SELECT count(*) FROM question_attempts a"
    "  WHERE a.interview_id = i.id AND a.transcribed_at IS NOT NULL"
    "  AND a.id = (SELECT max(b.id) FROM question_attempts b"
    "              WHERE b.question_id = a.question_id)),"
    " r.overall_score, r.content_score, r.delivery_score, r.top_next_steps"
    " FROM interviews i LEFT JOIN interview_reports r ON r.interview_id = i.id"
)
OWNED_WITH_COUNTS = DriverQuery(_WITH_COUNTS + " WHERE i.id = $1 AND i.user_id = $2")


def _page_query(track: bool, status: bool, after: bool) -> DriverQuery:
    """A page of a user's interviews, newest first, filtered by track and status when asked;
    the parameters are the user id, then the track, the status and the cursor that apply,
    then the limit."""
    conditions = ["i.user_id = $1"]
    for applies, condition in ((track, "i.track"), (status, "i.status"), (after, "i.id <")):
        if applies:
            operator = "" if condition.endswith("<") else " ="
            conditions.append(f"{condition}{operator} ${len(conditions) + 1}")
    limit = f"${len(conditions) + 1}"
    return DriverQuery(
        f"{_WITH_COUNTS} WHERE {' AND '.join(conditions)} ORDER BY i.id DESC LIMIT {limit}"
    )


# (by track, by status, after a cursor) -> the statement.
PAGES_WITH_COUNTS = {
    (track, status, after): _page_query(track, status, after)
    for track in (False, True)
    for status in (False, True)
    for after in (False, True)
}

_OWNED_QUESTION = (
    f"SELECT {_QUESTION}, {_INTERVIEW} FROM questions q"
    " JOIN interviews i ON i.id = q.interview_id WHERE q.id = $1 AND i.user_id = $2"
)
OWNED_QUESTION = DriverQuery(_OWNED_QUESTION)
# Holds the interview row until the transaction ends, so that a CompleteInterview
# cannot slip in between the check that it is active and the attempt's insert
# (SQLite's BEGIN IMMEDIATE already serialises the two).
OWNED_QUESTION_SHARED = DriverQuery(_OWNED_QUESTION + " FOR SHARE OF i", sqlite=_OWNED_QUESTION)

_OWNED_ATTEMPT = (
    f"SELECT {_ATTEMPT}, {_QUESTION}, {_INTERVIEW} FROM question_attempts a"
    " JOIN questions q ON q.id = a.question_id JOIN interviews i ON i.id = a.interview_id"
    " WHERE a.id = $1 AND i.user_id = $2"
)
OWNED_ATTEMPT = DriverQuery(_OWNED_ATTEMPT)
OWNED_ATTEMPT_LOCKED = DriverQuery(_OWNED_ATTEMPT + " FOR UPDATE OF a", sqlite=_OWNED_ATTEMPT)

ADD_ATTEMPT = DriverQuery(
    "INSERT INTO question_attempts (question_id, interview_id, created_at)"
    f" VALUES ($1, $2, $3) RETURNING {_ATTEMPT_COLUMNS}"
)


def interview_from(row: Any, at: int = 0) -> InterviewRecord:
    return InterviewRecord(
        id=row[at],
        user_id=row[at + 1],
        track=row[at + 2],
        difficulty=row[at + 3],
        status=row[at + 4],
        generator=row[at + 5],
        created_at=utc(row[at + 6]),
        completed_at=utc(row[at + 7]) if row[at + 7] is not None else None,
    )


def interview_summary(row: Any) -> InterviewSummaryRecord:
    at = _INTERVIEW_WIDTH
    steps = json_value(row[at + 5])
    return InterviewSummaryRecord(
        interview=interview_from(row),
        question_count=int(row[at]),
        answered_count=int(row[at + 1]),
        overall_score=row[at + 2],
        content_score=row[at + 3],
        delivery_score=row[at + 4],
        top_next_steps=tuple(steps or ()),
    )


def question_from(row: Any, at: int = 0) -> QuestionRecord:
    concepts = json_value(row[at + 7])
    return QuestionRecord(
        id=row[at],
        interview_id=row[at + 1],
        position=row[at + 2],
        text=row[at + 3],
        topic=row[at + 4],
        category=row[at + 5],
        difficulty=row[at + 6],
        concepts=tuple(concepts or ()),
        created_at=utc(row[at + 8]),
        parent_question_id=row[at + 9],
    )


def question_and_interview(row: Any) -> tuple[QuestionRecord, InterviewRecord]:
    return question_from(row), interview_from(row, _QUESTION_WIDTH)


def attempt_from(row: Any) -> AttemptRecord:
    words = json_value(row[7])
    return AttemptRecord(
        id=row[0],
        question_id=row[1],
        interview_id=row[2],
        created_at=utc(row[3]),
        transcribed_at=utc(row[4]) if row[4] is not None else None,
        request_id=row[5],
        transcript_text=row[6],
        transcript_words=tuple(tuple(word) for word in words) if words is not None else None,
        transcript_language=row[8],
        transcript_engine=row[9],
        transcript_model=row[10],
        audio_format=row[11],
        audio_size_bytes=row[12],
        audio_duration_seconds=row[13],
        audio_filename=row[14],
        audio_mime_type=row[15],
        processing_seconds=row[16],
    )


def attempt_question_interview(row: Any) -> tuple[AttemptRecord, QuestionRecord, InterviewRecord]:
    question_at = _ATTEMPT_WIDTH
    interview_at = _ATTEMPT_WIDTH + _QUESTION_WIDTH
    return attempt_from(row), question_from(row, question_at), interview_from(row, interview_at)

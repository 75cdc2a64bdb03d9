"""Translation between domain values and protobuf messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2

from generated.samvaad.v1 import analysis_pb2, auth_pb2, interview_pb2, transcription_pb2
from server.domain.analysis.service import StoredAnalysis, StoredReport
from server.domain.analysis.types import ContentFeedback, DeliveryMetrics, Finding, Pace
from server.domain.auth import TokenPair, UserProfile
from server.domain.candidate import Profile
from server.domain.interviews import AttemptView, InterviewView, QuestionView
from server.domain.questions.types import Difficulty
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


def named_value(enum: Any, prefix: str, name: str) -> Any:
    """The value of `PREFIX_NAME` in a proto enum for a domain name like "system_design";
    0 (UNSPECIFIED) for a name the contract does not list."""
    try:
        return enum.Value(f"{prefix}_{name.upper()}")
    except ValueError:
        return enum.ValueType(0)


def user(profile: UserProfile) -> auth_pb2.User:
    about = profile.profile
    return auth_pb2.User(
        id=profile.id,
        email=profile.email,
        name=profile.name,
        create_time=timestamp(profile.created_at),
        has_resume=profile.has_resume,
        profile=auth_pb2.Profile(
            degree=about.degree,
            institution=about.institution,
            graduation_year=about.graduation_year or 0,
            target_role=about.target_role,
            onboarded=about.onboarded,
        ),
    )


def profile_from_proto(message: auth_pb2.Profile) -> Profile:
    return Profile(
        degree=message.degree,
        institution=message.institution,
        graduation_year=message.graduation_year or None,
        target_role=message.target_role,
        onboarded=message.onboarded,
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


def status_from_proto(value: int) -> str:
    """ "" (every status) for INTERVIEW_STATUS_UNSPECIFIED; an unknown number is a client error."""
    if value == interview_pb2.INTERVIEW_STATUS_UNSPECIFIED:
        return ""
    for name, number in _STATUS_TO_PROTO.items():
        if number == value:
            return name
    raise InvalidArgument.for_field("status", f"status {value} is not an InterviewStatus value")


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
        overall_score=view.overall_score,
        content_score=view.content_score,
        delivery_score=view.delivery_score,
        next_steps=view.next_steps,
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
        question_category=_category(view.category),
        parent_question_id=view.parent_question_id,
    )


def _category(name: str) -> Any:
    return named_value(interview_pb2.QuestionCategory, "QUESTION_CATEGORY", name)


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
        transcription_engine=named_value(
            transcription_pb2.TranscriptionEngine, "TRANSCRIPTION_ENGINE", result.engine
        ),
    )


def audio_info(stored: StoredTranscription) -> transcription_pb2.AudioInfo:
    audio = stored.audio
    return transcription_pb2.AudioInfo(
        format=audio.format,
        audio_format=named_value(transcription_pb2.AudioFormat, "AUDIO_FORMAT", audio.format),
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


# --- analysis -------------------------------------------------------------------

_PACE_TO_PROTO = {
    Pace.NOT_ENOUGH_SPEECH: analysis_pb2.PACE_NOT_ENOUGH_SPEECH,
    Pace.TOO_SLOW: analysis_pb2.PACE_TOO_SLOW,
    Pace.GOOD: analysis_pb2.PACE_GOOD,
    Pace.TOO_FAST: analysis_pb2.PACE_TOO_FAST,
}


def delivery(metrics: DeliveryMetrics) -> analysis_pb2.DeliveryMetrics:
    return analysis_pb2.DeliveryMetrics(
        word_count=metrics.word_count,
        words_per_minute=metrics.words_per_minute,
        pace=_PACE_TO_PROTO[metrics.pace],
        pace_windows=[
            analysis_pb2.PaceWindow(
                start_offset=duration(w.start),
                end_offset=duration(w.end),
                words_per_minute=w.words_per_minute,
                pace=_PACE_TO_PROTO[w.pace],
            )
            for w in metrics.pace_windows
        ],
        pause_count=metrics.pause_count,
        long_pauses=[
            analysis_pb2.Pause(
                start_offset=duration(p.start),
                duration=duration(p.duration),
                after_word=p.after_word,
                before_word=p.before_word,
            )
            for p in metrics.long_pauses
        ],
        longest_pause=duration(metrics.longest_pause),
        filler_count=metrics.filler_count,
        fillers_per_minute=metrics.fillers_per_minute,
        fillers=[analysis_pb2.FillerCount(filler=f.filler, count=f.count) for f in metrics.fillers],
        speaking_time=duration(metrics.speaking_time),
        silence_time=duration(metrics.silence_time),
        speaking_ratio=metrics.speaking_ratio,
        score=metrics.score,
    )


def _findings(findings: list[Finding]) -> list[analysis_pb2.Finding]:
    return [
        analysis_pb2.Finding(
            aspect=f.aspect,
            message=f.message,
            finding_aspect=named_value(analysis_pb2.FindingAspect, "FINDING_ASPECT", f.aspect),
        )
        for f in findings
    ]


def content_feedback(content: ContentFeedback) -> analysis_pb2.ContentFeedback:
    star = content.star
    return analysis_pb2.ContentFeedback(
        score=content.score,
        coverage_score=content.coverage_score,
        relevance_score=content.relevance_score,
        depth_score=content.depth_score,
        skills_score=content.skills_score,
        covered_concepts=content.covered_concepts,
        missing_concepts=content.missing_concepts,
        skills_mentioned=content.skills_mentioned,
        star=(
            analysis_pb2.StarAssessment(
                situation=star.situation,
                task=star.task,
                action=star.action,
                result=star.result,
                score=star.score,
            )
            if star
            else None
        ),
        analyzer=content.analyzer,
    )


def answer_analysis(stored: StoredAnalysis) -> analysis_pb2.AnswerAnalysis:
    analysis = stored.analysis
    return analysis_pb2.AnswerAnalysis(
        question_attempt_id=analysis.question_attempt_id,
        question_id=analysis.question_id,
        overall_score=analysis.overall_score,
        delivery=delivery(analysis.delivery),
        content=content_feedback(analysis.content),
        strengths=_findings(analysis.strengths),
        improvements=_findings(analysis.improvements),
        create_time=timestamp(stored.created_at),
    )


def interview_report(stored: StoredReport) -> analysis_pb2.InterviewReport:
    report = stored.report
    return analysis_pb2.InterviewReport(
        interview_id=report.interview_id,
        question_count=report.question_count,
        answered_count=report.answered_count,
        overall_score=report.overall_score,
        delivery_score=report.delivery_score,
        content_score=report.content_score,
        questions=[
            analysis_pb2.QuestionReport(
                question_id=q.question_id,
                position=q.position,
                question_text=q.question_text,
                category=q.category,
                question_category=_category(q.category),
                answered=q.answered,
                question_attempt_id=q.question_attempt_id,
                attempt_count=q.attempt_count,
                analysis=(
                    answer_analysis(StoredAnalysis(q.analysis, stored.updated_at))
                    if q.analysis
                    else None
                ),
                answer_duration=duration(q.answer_seconds) if q.analysis else None,
            )
            for q in report.questions
        ],
        strengths=report.strengths,
        improvements=report.improvements,
        next_steps=report.next_steps,
        update_time=timestamp(stored.updated_at),
        rubric=[
            analysis_pb2.RubricScore(
                criterion=named_value(
                    analysis_pb2.RubricCriterion, "RUBRIC_CRITERION", r.criterion
                ),
                area=named_value(analysis_pb2.RubricArea, "RUBRIC_AREA", r.area),
                score=r.score,
            )
            for r in report.rubric
        ],
        total_answer_duration=duration(report.total_answer_seconds),
        total_recorded_duration=duration(report.total_recorded_seconds),
        next_practice=(
            analysis_pb2.NextPractice(
                track=practice.track,
                difficulty=_DIFFICULTY_TO_PROTO[Difficulty(practice.difficulty)],
                question_ids=practice.question_ids,
                question_positions=practice.question_positions,
                reason=practice.reason,
            )
            if (practice := report.next_practice)
            else None
        ),
    )

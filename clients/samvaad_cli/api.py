"""The Samvaad API as plain functions: a Session and arguments in, the reply out.

No printing here: the commands (`commands.py`) and the demo (`clients/demo.py`)
decide what to show. Every call that needs a user goes through
`Session.call_authorized`, which refreshes an expired access token and retries once.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from grpc_health.v1 import health_pb2

from clients.samvaad_cli.audio import (
    answer_requests,
    duration_seconds,
    guess_mime_type,
    live_requests,
)
from clients.samvaad_cli.errors import CliError
from clients.samvaad_cli.session import Metadata, Session
from generated.samvaad.v1 import (
    analysis_pb2,
    auth_pb2,
    interview_pb2,
    resume_pb2,
    transcription_pb2,
)

LIST_PAGE_SIZE = 100
# Uploading and transcribing a long answer takes far longer than a plain call.
ANSWER_TIMEOUT_SECONDS = 600.0


# --- account ----------------------------------------------------------------


def get_me(session: Session) -> auth_pb2.GetMeResponse:
    reply: auth_pb2.GetMeResponse = session.call_authorized(
        lambda md: session.auth.GetMe(auth_pb2.GetMeRequest(), metadata=md, timeout=session.timeout)
    )
    return reply


# --- resume -----------------------------------------------------------------


def upload_resume(
    session: Session, filename: str, content_type: str, content: bytes
) -> resume_pb2.UploadResumeResponse:
    request = resume_pb2.UploadResumeRequest(
        filename=filename, content_type=content_type, content=content
    )
    reply: resume_pb2.UploadResumeResponse = session.call_authorized(
        lambda md: session.resume.UploadResume(request, metadata=md, timeout=session.timeout)
    )
    return reply


def get_resume(session: Session) -> resume_pb2.GetMyResumeResponse:
    reply: resume_pb2.GetMyResumeResponse = session.call_authorized(
        lambda md: session.resume.GetMyResume(
            resume_pb2.GetMyResumeRequest(), metadata=md, timeout=session.timeout
        )
    )
    return reply


def get_knowledge_set(session: Session) -> resume_pb2.GetKnowledgeSetResponse:
    reply: resume_pb2.GetKnowledgeSetResponse = session.call_authorized(
        lambda md: session.resume.GetKnowledgeSet(
            resume_pb2.GetKnowledgeSetRequest(), metadata=md, timeout=session.timeout
        )
    )
    return reply


# --- interviews -------------------------------------------------------------


def create_interview(
    session: Session, track: str, difficulty: interview_pb2.Difficulty.ValueType
) -> interview_pb2.CreateInterviewResponse:
    request = interview_pb2.CreateInterviewRequest(track=track, difficulty=difficulty)
    reply: interview_pb2.CreateInterviewResponse = session.call_authorized(
        lambda md: session.interview.CreateInterview(request, metadata=md, timeout=session.timeout)
    )
    return reply


def generate_questions(
    session: Session,
    interview_id: int,
    count: int = 0,
    use_resume: bool = False,
    bank_questions: Sequence[str] = (),
) -> interview_pb2.GenerateQuestionsResponse:
    request = interview_pb2.GenerateQuestionsRequest(
        interview_id=interview_id,
        count=count,
        use_resume=use_resume,
        bank_questions=bank_questions,
    )
    reply: interview_pb2.GenerateQuestionsResponse = session.call_authorized(
        lambda md: session.interview.GenerateQuestions(
            request, metadata=md, timeout=session.timeout
        )
    )
    return reply


def get_interview(session: Session, interview_id: int) -> interview_pb2.GetInterviewResponse:
    request = interview_pb2.GetInterviewRequest(interview_id=interview_id)
    reply: interview_pb2.GetInterviewResponse = session.call_authorized(
        lambda md: session.interview.GetInterview(request, metadata=md, timeout=session.timeout)
    )
    return reply


def complete_interview(
    session: Session, interview_id: int
) -> interview_pb2.CompleteInterviewResponse:
    request = interview_pb2.CompleteInterviewRequest(interview_id=interview_id)
    reply: interview_pb2.CompleteInterviewResponse = session.call_authorized(
        lambda md: session.interview.CompleteInterview(
            request, metadata=md, timeout=session.timeout
        )
    )
    return reply


def list_interviews(
    session: Session,
    track: str = "",
    status: interview_pb2.InterviewStatus.ValueType = interview_pb2.INTERVIEW_STATUS_UNSPECIFIED,
) -> list[interview_pb2.Interview]:
    """Every page of the caller's interviews, newest first; `track` and `status` filter."""
    return [
        interview
        for page in _pages(
            session,
            lambda token, md: session.interview.ListInterviews(
                interview_pb2.ListInterviewsRequest(
                    page_size=LIST_PAGE_SIZE, page_token=token, track=track, status=status
                ),
                metadata=md,
                timeout=session.timeout,
            ),
        )
        for interview in page.interviews
    ]


def list_questions(session: Session, interview_id: int) -> list[interview_pb2.Question]:
    return [
        question
        for page in _pages(
            session,
            lambda token, md: session.interview.ListQuestions(
                interview_pb2.ListQuestionsRequest(
                    interview_id=interview_id, page_size=LIST_PAGE_SIZE, page_token=token
                ),
                metadata=md,
                timeout=session.timeout,
            ),
        )
        for question in page.questions
    ]


def list_attempts(session: Session, interview_id: int) -> list[interview_pb2.QuestionAttempt]:
    return [
        attempt
        for page in _pages(
            session,
            lambda token, md: session.interview.ListQuestionAttempts(
                interview_pb2.ListQuestionAttemptsRequest(
                    interview_id=interview_id, page_size=LIST_PAGE_SIZE, page_token=token
                ),
                metadata=md,
                timeout=session.timeout,
            ),
        )
        for attempt in page.question_attempts
    ]


def create_attempt(
    session: Session, question_id: int
) -> interview_pb2.CreateQuestionAttemptResponse:
    request = interview_pb2.CreateQuestionAttemptRequest(question_id=question_id)
    reply: interview_pb2.CreateQuestionAttemptResponse = session.call_authorized(
        lambda md: session.interview.CreateQuestionAttempt(
            request, metadata=md, timeout=session.timeout
        )
    )
    return reply


def find_interview(session: Session, interview_id: int, *, active: bool) -> interview_pb2.Interview:
    """Interview `interview_id`, or with 0 the newest one (the newest active one if `active`):
    what a person means when they leave the id out."""
    if interview_id:
        return get_interview(session, interview_id).interview
    for page in _pages(
        session,
        lambda token, md: session.interview.ListInterviews(
            interview_pb2.ListInterviewsRequest(page_size=LIST_PAGE_SIZE, page_token=token),
            metadata=md,
            timeout=session.timeout,
        ),
    ):
        listed: list[interview_pb2.Interview] = list(page.interviews)
        for interview in listed:
            if not active or interview.status == interview_pb2.INTERVIEW_STATUS_ACTIVE:
                return interview
    raise CliError(
        "you have no active interview" if active else "you have no interviews yet"
    ) from None


@dataclass(frozen=True)
class Slot:
    """A question of an interview with its attempts (the latest one counts)."""

    question: interview_pb2.Question
    attempts: list[interview_pb2.QuestionAttempt]

    @property
    def latest(self) -> interview_pb2.QuestionAttempt:
        return self.attempts[-1]

    @property
    def answered(self) -> bool:
        return bool(self.attempts) and self.latest.has_transcription


def question_slots(session: Session, interview_id: int) -> list[Slot]:
    """The questions of an interview in order, each with its attempts in the order opened."""
    by_question: dict[int, list[interview_pb2.QuestionAttempt]] = {}
    for attempt in list_attempts(session, interview_id):
        by_question.setdefault(attempt.question_id, []).append(attempt)
    return [
        Slot(question, by_question.get(question.id, []))
        for question in list_questions(session, interview_id)
    ]


class _Page(Protocol):
    @property
    def next_page_token(self) -> str: ...


PageT = TypeVar("PageT", bound=_Page)


def _pages(session: Session, fetch: Callable[[str, Metadata], PageT]) -> Iterator[PageT]:
    """Follows next_page_token until it is empty (the only end-of-list signal)."""
    token = ""
    while True:
        page = session.call_authorized(functools.partial(fetch, token))
        yield page
        token = page.next_page_token
        if not token:
            return


# --- answers ----------------------------------------------------------------


class UploadProgress(Protocol):
    """Told how an answer's upload goes (`views.upload_progress` draws a bar)."""

    def start(self, total_bytes: int) -> None:
        """A try begins (again after a token refresh): `total_bytes` to send."""

    def sent(self, chunk_bytes: int) -> None:
        """A chunk was handed to gRPC."""

    def uploaded(self) -> None:
        """gRPC asked for more after the last chunk: everything is sent, the server works."""


def transcribe(
    session: Session,
    attempt_id: int,
    path: Path,
    language: str = "",
    mime_type: str | None = None,
    request_id: str = "",
    timeout: float = ANSWER_TIMEOUT_SECONDS,
    progress: UploadProgress | None = None,
) -> transcription_pb2.TranscribeAnswerResponse:
    """Streams `path` as the answer of attempt `attempt_id`.

    The same request_id is sent again if the call is retried after a token
    refresh, so the server can recognise the retry and not transcribe twice.
    """
    try:
        size = path.stat().st_size
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    config = transcription_pb2.AudioConfig(
        question_attempt_id=attempt_id,
        language=language,
        filename=path.name,
        mime_type=guess_mime_type(path) if mime_type is None else mime_type,
        request_id=request_id or uuid.uuid4().hex,
    )

    def call(md: Metadata) -> transcription_pb2.TranscribeAnswerResponse:
        if progress is not None:
            progress.start(size)
        reply: transcription_pb2.TranscribeAnswerResponse = session.transcription.TranscribeAnswer(
            answer_requests(
                config,
                path,
                on_chunk=progress.sent if progress else None,
                on_done=progress.uploaded if progress else None,
            ),
            metadata=md,
            timeout=timeout,
        )
        return reply

    return session.call_authorized(call)


def stream_answer(
    session: Session,
    attempt_id: int,
    path: Path,
    on_event: Callable[[transcription_pb2.StreamAnswerResponse], None],
    language: str = "",
    mime_type: str | None = None,
    request_id: str = "",
    timeout: float = ANSWER_TIMEOUT_SECONDS,
    speed: float = 1.0,
) -> transcription_pb2.TranscribeAnswerResponse:
    """Streams `path` through StreamAnswer at the pace it was recorded (`speed` times
    faster when above 1), with interim results; `on_event` sees every interim and
    delivery message. Returns the result."""
    seconds = duration_seconds(path)
    config = transcription_pb2.StreamAnswerConfig(
        audio=transcription_pb2.AudioConfig(
            question_attempt_id=attempt_id,
            language=language,
            filename=path.name,
            mime_type=guess_mime_type(path) if mime_type is None else mime_type,
            request_id=request_id or uuid.uuid4().hex,
        ),
        interim_results=True,
    )

    def call(md: Metadata) -> transcription_pb2.TranscribeAnswerResponse:
        requests = live_requests(config, path, seconds / speed, time.sleep, time.monotonic)
        result: transcription_pb2.TranscribeAnswerResponse | None = None
        # Read to the end of the stream (the result is last): leaving early cancels the call.
        for response in session.transcription.StreamAnswer(requests, metadata=md, timeout=timeout):
            if response.WhichOneof("event") == "result":
                result = response.result
            else:
                on_event(response)
        if result is None:
            raise CliError("the server closed the stream without a result")
        return result

    return session.call_authorized(call)


def get_transcription(
    session: Session, attempt_id: int
) -> transcription_pb2.GetTranscriptionResponse:
    request = transcription_pb2.GetTranscriptionRequest(question_attempt_id=attempt_id)
    reply: transcription_pb2.GetTranscriptionResponse = session.call_authorized(
        lambda md: session.transcription.GetTranscription(
            request, metadata=md, timeout=session.timeout
        )
    )
    return reply


# --- feedback ---------------------------------------------------------------


def analyze_answer(session: Session, attempt_id: int) -> analysis_pb2.AnalyzeAnswerResponse:
    request = analysis_pb2.AnalyzeAnswerRequest(question_attempt_id=attempt_id)
    reply: analysis_pb2.AnalyzeAnswerResponse = session.call_authorized(
        lambda md: session.analysis.AnalyzeAnswer(request, metadata=md, timeout=session.timeout)
    )
    return reply


def interview_report(
    session: Session, interview_id: int
) -> analysis_pb2.GetInterviewReportResponse:
    request = analysis_pb2.GetInterviewReportRequest(interview_id=interview_id)
    reply: analysis_pb2.GetInterviewReportResponse = session.call_authorized(
        lambda md: session.analysis.GetInterviewReport(
            request, metadata=md, timeout=session.timeout
        )
    )
    return reply


# --- health -----------------------------------------------------------------


def check_health(session: Session, service: str = "") -> health_pb2.HealthCheckResponse:
    """No token: health is for load balancers and anyone checking the server is up."""
    reply: health_pb2.HealthCheckResponse = session.health.Check(
        health_pb2.HealthCheckRequest(service=service), timeout=session.timeout
    )
    return reply

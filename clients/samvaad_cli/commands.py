"""One function a command: call the API through a Session, hand the result to Output."""

from __future__ import annotations

import argparse
import functools
import getpass
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

from grpc_health.v1 import health_pb2
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)

from clients.samvaad_cli import output as fmt
from clients.samvaad_cli.audio import answer_requests, guess_mime_type
from clients.samvaad_cli.errors import CliError
from clients.samvaad_cli.output import Output, to_json
from clients.samvaad_cli.session import Metadata, Session
from generated.samvaad.v1 import (
    analysis_pb2,
    auth_pb2,
    interview_pb2,
    resume_pb2,
    transcription_pb2,
)

PASSWORD_ENV = "SAMVAAD_PASSWORD"
LIST_PAGE_SIZE = 100
# Uploading and transcribing a long answer takes far longer than a plain call.
ANSWER_TIMEOUT_SECONDS = 600.0

Command = Callable[[Session, argparse.Namespace, Output], None]

DIFFICULTIES = {
    "easy": interview_pb2.DIFFICULTY_EASY,
    "medium": interview_pb2.DIFFICULTY_MEDIUM,
    "hard": interview_pb2.DIFFICULTY_HARD,
    "expert": interview_pb2.DIFFICULTY_EXPERT,
}


# --- account ----------------------------------------------------------------


def read_password(args: argparse.Namespace, confirm: bool) -> str:
    """--password-stdin, else SAMVAAD_PASSWORD, else a prompt (never a command-line argument,
    which would end up in the shell history and in `ps`)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise CliError(f"no password: use --password-stdin or set {PASSWORD_ENV}")
    password = getpass.getpass("password: ")
    if confirm and getpass.getpass("again: ") != password:
        raise CliError("the passwords differ")
    return password


def user_rows(user: auth_pb2.User) -> list[tuple[str, object]]:
    return [
        ("id", user.id),
        ("email", user.email),
        ("name", user.name),
        ("since", fmt.when(user.create_time)),
        ("resume", "uploaded" if user.has_resume else "none yet"),
    ]


def register(session: Session, args: argparse.Namespace, out: Output) -> None:
    password = read_password(args, confirm=True)
    reply = session.register(args.email, password, args.name)
    out.result(
        {"user": to_json(reply.user)},
        fmt.fields_table("Registered and signed in", user_rows(reply.user)),
    )


def login(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = session.login(args.email, read_password(args, confirm=False))
    out.result({"user": to_json(reply.user)}, fmt.fields_table("Signed in", user_rows(reply.user)))


def logout(session: Session, args: argparse.Namespace, out: Output) -> None:
    signed_out = session.logout()
    out.result(
        {"signed_out": signed_out},
        f"signed out of {session.options.address}" if signed_out else "was not signed in",
    )


def me(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply: auth_pb2.GetMeResponse = session.call_authorized(
        lambda md: session.auth.GetMe(auth_pb2.GetMeRequest(), metadata=md, timeout=session.timeout)
    )
    out.result(to_json(reply), fmt.fields_table("You", user_rows(reply.user)))


# --- resume -----------------------------------------------------------------


def resume_rows(resume: resume_pb2.Resume) -> list[tuple[str, object]]:
    years = f"{resume.years_experience:g}" if resume.HasField("years_experience") else "unknown"
    return [
        ("file", f"{resume.filename} ({resume.content_type}, {resume.size_bytes} bytes)"),
        ("skills", ", ".join(resume.skills) or "none found"),
        ("years of experience", years),
        ("read by", resume.extractor),
        ("uploaded", fmt.when(resume.update_time)),
    ]


def resume_upload(session: Session, args: argparse.Namespace, out: Output) -> None:
    path = Path(args.file)
    content = _read_file(path)
    content_type = args.content_type or _resume_content_type(path)
    request = resume_pb2.UploadResumeRequest(
        filename=path.name, content_type=content_type, content=content
    )
    reply: resume_pb2.UploadResumeResponse = session.call_authorized(
        lambda md: session.resume.UploadResume(request, metadata=md, timeout=session.timeout)
    )
    out.result(to_json(reply), fmt.fields_table("Resume", resume_rows(reply.resume)))


def resume_show(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply: resume_pb2.GetMyResumeResponse = session.call_authorized(
        lambda md: session.resume.GetMyResume(
            resume_pb2.GetMyResumeRequest(), metadata=md, timeout=session.timeout
        )
    )
    rows = [*resume_rows(reply.resume), ("preview", reply.resume.preview)]
    out.result(to_json(reply), fmt.fields_table("Resume", rows))


def knowledge(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply: resume_pb2.GetKnowledgeSetResponse = session.call_authorized(
        lambda md: session.resume.GetKnowledgeSet(
            resume_pb2.GetKnowledgeSetRequest(), metadata=md, timeout=session.timeout
        )
    )
    source = "from the cache" if reply.cached else "freshly computed"
    out.result(
        to_json(reply),
        fmt.rows_table(f"Knowledge set ({source})", ["skill"], ([item] for item in reply.items)),
    )


def _resume_content_type(path: Path) -> str:
    return {".pdf": "application/pdf", ".txt": "text/plain"}.get(path.suffix.lower(), "")


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None


# --- interviews -------------------------------------------------------------


def interview_start(session: Session, args: argparse.Namespace, out: Output) -> None:
    request = interview_pb2.CreateInterviewRequest(
        track=args.track, difficulty=DIFFICULTIES[args.difficulty]
    )
    reply: interview_pb2.CreateInterviewResponse = session.call_authorized(
        lambda md: session.interview.CreateInterview(request, metadata=md, timeout=session.timeout)
    )
    title = "Resumed your active interview" if reply.resumed else "Interview started"
    data = to_json(reply)
    renderables: list[RenderableType] = [fmt.interviews_table(title, [reply.interview])]
    if args.questions:
        generated = generate_questions(
            session, reply.interview.id, count=args.questions, use_resume=args.use_resume
        )
        data["questions"] = to_json(generated)
        renderables.append(fmt.questions_table("Questions", generated.questions))
    out.result(data, *renderables)


def generate_questions(
    session: Session, interview_id: int, count: int, use_resume: bool
) -> interview_pb2.GenerateQuestionsResponse:
    request = interview_pb2.GenerateQuestionsRequest(
        interview_id=interview_id, count=count, use_resume=use_resume
    )
    reply: interview_pb2.GenerateQuestionsResponse = session.call_authorized(
        lambda md: session.interview.GenerateQuestions(
            request, metadata=md, timeout=session.timeout
        )
    )
    return reply


def interview_generate(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = generate_questions(session, args.interview_id, args.count, args.use_resume)
    origin = "generated before" if reply.cached else f"generated by {reply.generator}"
    out.result(
        to_json(reply),
        fmt.questions_table(
            f"Questions of interview {reply.interview_id} ({origin})", reply.questions
        ),
    )


def interview_show(session: Session, args: argparse.Namespace, out: Output) -> None:
    request = interview_pb2.GetInterviewRequest(interview_id=args.interview_id)
    reply: interview_pb2.GetInterviewResponse = session.call_authorized(
        lambda md: session.interview.GetInterview(request, metadata=md, timeout=session.timeout)
    )
    out.result(to_json(reply), fmt.interviews_table("Interview", [reply.interview]))


def interview_complete(session: Session, args: argparse.Namespace, out: Output) -> None:
    request = interview_pb2.CompleteInterviewRequest(interview_id=args.interview_id)
    reply: interview_pb2.CompleteInterviewResponse = session.call_authorized(
        lambda md: session.interview.CompleteInterview(
            request, metadata=md, timeout=session.timeout
        )
    )
    out.result(to_json(reply), fmt.interviews_table("Interview completed", [reply.interview]))


def list_interviews(session: Session, args: argparse.Namespace, out: Output) -> None:
    interviews = [
        interview
        for page in _pages(
            session,
            lambda token, md: session.interview.ListInterviews(
                interview_pb2.ListInterviewsRequest(page_size=LIST_PAGE_SIZE, page_token=token),
                metadata=md,
                timeout=session.timeout,
            ),
        )
        for interview in page.interviews
    ]
    out.result(
        {"interviews": [to_json(i) for i in interviews]},
        fmt.interviews_table(f"Your interviews ({len(interviews)})", interviews),
    )


def questions(session: Session, args: argparse.Namespace, out: Output) -> None:
    found = list_questions(session, args.interview_id)
    out.result(
        {"questions": [to_json(q) for q in found]},
        fmt.questions_table(f"Questions of interview {args.interview_id}", found),
    )


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


def attempts(session: Session, args: argparse.Namespace, out: Output) -> None:
    found = list_attempts(session, args.interview_id)
    out.result(
        {"question_attempts": [to_json(a) for a in found]},
        fmt.attempts_table(f"Attempts of interview {args.interview_id}", found),
    )


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


def retry(session: Session, args: argparse.Namespace, out: Output) -> None:
    request = interview_pb2.CreateQuestionAttemptRequest(question_id=args.question_id)
    reply: interview_pb2.CreateQuestionAttemptResponse = session.call_authorized(
        lambda md: session.interview.CreateQuestionAttempt(
            request, metadata=md, timeout=session.timeout
        )
    )
    out.result(to_json(reply), fmt.attempts_table("New attempt", [reply.question_attempt]))


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


def answer(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = transcribe(
        session,
        attempt_id=args.attempt_id,
        path=Path(args.file),
        language=args.language,
        mime_type=args.mime_type,
        request_id=args.request_id or uuid.uuid4().hex,
        show_progress=not out.json_mode,
        timeout=args.timeout or ANSWER_TIMEOUT_SECONDS,
    )
    out.result(to_json(reply), *transcript_renderables(reply))


def transcribe(
    session: Session,
    attempt_id: int,
    path: Path,
    language: str = "",
    mime_type: str | None = None,
    request_id: str = "",
    show_progress: bool = False,
    timeout: float = ANSWER_TIMEOUT_SECONDS,
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
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not show_progress,
    ) as progress:
        task = progress.add_task(f"uploading {path.name}", total=size)

        def sent(chunk: int) -> None:
            progress.advance(task, chunk)
            if progress.tasks[task].completed >= size:
                progress.update(task, description="transcribing")

        def call(md: Metadata) -> transcription_pb2.TranscribeAnswerResponse:
            progress.reset(task)
            reply: transcription_pb2.TranscribeAnswerResponse = (
                session.transcription.TranscribeAnswer(
                    answer_requests(config, path, on_chunk=sent), metadata=md, timeout=timeout
                )
            )
            return reply

        return session.call_authorized(call)


def transcript_renderables(
    reply: transcription_pb2.TranscribeAnswerResponse,
) -> list[RenderableType]:
    text = reply.transcription
    audio = reply.audio
    return [
        fmt.fields_table(
            f"Transcript of attempt {reply.question_attempt_id}",
            [
                ("said", text.text or "(nothing recognised)"),
                (
                    "audio",
                    f"{audio.format}, {fmt.seconds(audio.duration)}, {audio.size_bytes} bytes",
                ),
                ("words", len(text.words)),
                ("engine", f"{text.engine} {text.model}, language {text.language}"),
                ("took", fmt.seconds(reply.processing_time)),
            ],
        )
    ]


def transcript(session: Session, args: argparse.Namespace, out: Output) -> None:
    request = transcription_pb2.GetTranscriptionRequest(question_attempt_id=args.attempt_id)
    reply: transcription_pb2.GetTranscriptionResponse = session.call_authorized(
        lambda md: session.transcription.GetTranscription(
            request, metadata=md, timeout=session.timeout
        )
    )
    text = reply.transcription
    out.result(
        to_json(reply),
        fmt.fields_table(
            f"Transcript of attempt {reply.question_attempt_id}",
            [
                ("said", text.text),
                ("duration", fmt.seconds(text.duration)),
                ("words", len(text.words)),
                ("engine", f"{text.engine} {text.model}"),
            ],
        ),
    )


# --- feedback ---------------------------------------------------------------


def analyze(session: Session, args: argparse.Namespace, out: Output) -> None:
    request = analysis_pb2.AnalyzeAnswerRequest(question_attempt_id=args.attempt_id)
    reply: analysis_pb2.AnalyzeAnswerResponse = session.call_authorized(
        lambda md: session.analysis.AnalyzeAnswer(request, metadata=md, timeout=session.timeout)
    )
    out.result(to_json(reply), *analysis_renderables(reply.analysis))


def analysis_renderables(analysis: analysis_pb2.AnswerAnalysis) -> list[RenderableType]:
    delivery, content = analysis.delivery, analysis.content
    pace = str(analysis_pb2.Pace.Name(delivery.pace)).removeprefix("PACE_").lower()
    rows: list[tuple[str, object]] = [
        ("overall", f"{analysis.overall_score}/100"),
        (
            "delivery",
            f"{delivery.score}/100: {delivery.word_count} words, "
            f"{delivery.words_per_minute:.0f} wpm ({pace.replace('_', ' ')}), "
            f"{delivery.pause_count} pauses, {delivery.filler_count} fillers",
        ),
        (
            "content",
            f"{content.score}/100: coverage {content.coverage_score}, relevance "
            f"{content.relevance_score}, depth {content.depth_score}, "
            f"skills {content.skills_score}",
        ),
        ("covered", ", ".join(content.covered_concepts) or "-"),
        ("missing", ", ".join(content.missing_concepts) or "-"),
    ]
    if content.HasField("star"):
        star = content.star
        parts = {
            "situation": star.situation,
            "task": star.task,
            "action": star.action,
            "result": star.result,
        }
        rows.append(("STAR", ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in parts.items())))
    rows += [(f"+ {f.aspect}", f.message) for f in analysis.strengths]
    rows += [(f"- {f.aspect}", f.message) for f in analysis.improvements]
    return [fmt.fields_table(f"Analysis of attempt {analysis.question_attempt_id}", rows)]


def report(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = interview_report(session, args.interview_id)
    out.result(to_json(reply), *report_renderables(reply.report))


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


def report_renderables(report: analysis_pb2.InterviewReport) -> list[RenderableType]:
    summary = fmt.fields_table(
        f"Report of interview {report.interview_id}",
        [
            ("answered", f"{report.answered_count} of {report.question_count} questions"),
            ("overall", f"{report.overall_score}/100"),
            ("delivery", f"{report.delivery_score}/100"),
            ("content", f"{report.content_score}/100"),
        ],
    )
    per_question = fmt.rows_table(
        "Questions",
        ["#", "question", "attempt", "overall", "delivery", "content"],
        (
            (
                q.position,
                q.question_text,
                q.question_attempt_id,
                *(
                    (q.analysis.overall_score, q.analysis.delivery.score, q.analysis.content.score)
                    if q.answered
                    else ("not answered", "", "")
                ),
            )
            for q in report.questions
        ),
    )
    advice = fmt.fields_table(
        "",
        [
            *(("strength", s) for s in report.strengths),
            *(("improve", s) for s in report.improvements),
            *(("next", s) for s in report.next_steps),
        ],
    )
    return [summary, per_question, advice]


# --- health -----------------------------------------------------------------


def health(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = session.health.Check(
        health_pb2.HealthCheckRequest(service=args.service), timeout=session.timeout
    )
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    out.result({"status": status}, f"{args.service or 'server'}: {status}")
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        raise SystemExit(1)

"""One function a command: read the arguments, call `api`, show the result with `views`.

Each takes (session, parsed arguments, output) and prints through `Output`, which
writes tables for people or, with --json, one JSON document for scripts.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from grpc_health.v1 import health_pb2
from rich.console import RenderableType

from clients.samvaad_cli import api, views
from clients.samvaad_cli import output as fmt
from clients.samvaad_cli.errors import CliError
from clients.samvaad_cli.output import Output, to_json
from clients.samvaad_cli.session import Session
from generated.samvaad.v1 import interview_pb2

PASSWORD_ENV = "SAMVAAD_PASSWORD"

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


def register(session: Session, args: argparse.Namespace, out: Output) -> None:
    password = read_password(args, confirm=True)
    reply = session.register(args.email, password, args.name)
    out.result(
        {"user": to_json(reply.user)},
        fmt.fields_table("Registered and signed in", views.user_rows(reply.user)),
    )


def login(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = session.login(args.email, read_password(args, confirm=False))
    out.result(
        {"user": to_json(reply.user)}, fmt.fields_table("Signed in", views.user_rows(reply.user))
    )


def logout(session: Session, args: argparse.Namespace, out: Output) -> None:
    signed_out = session.logout()
    out.result(
        {"signed_out": signed_out},
        f"signed out of {session.options.address}" if signed_out else "was not signed in",
    )


def me(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.get_me(session)
    out.result(to_json(reply), fmt.fields_table("You", views.user_rows(reply.user)))


# --- resume -----------------------------------------------------------------


def resume_upload(session: Session, args: argparse.Namespace, out: Output) -> None:
    path = Path(args.file)
    content = _read_file(path)
    content_type = args.content_type or _resume_content_type(path)
    reply = api.upload_resume(session, path.name, content_type, content)
    out.result(to_json(reply), fmt.fields_table("Resume", views.resume_rows(reply.resume)))


def resume_show(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.get_resume(session)
    rows = [*views.resume_rows(reply.resume), ("preview", reply.resume.preview)]
    out.result(to_json(reply), fmt.fields_table("Resume", rows))


def knowledge(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.get_knowledge_set(session)
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
    reply = api.create_interview(session, args.track, DIFFICULTIES[args.difficulty])
    title = "Resumed your active interview" if reply.resumed else "Interview started"
    data = to_json(reply)
    renderables: list[RenderableType] = [fmt.interviews_table(title, [reply.interview])]
    if args.questions:
        generated = api.generate_questions(
            session, reply.interview.id, count=args.questions, use_resume=args.use_resume
        )
        data["questions"] = to_json(generated)
        renderables.append(fmt.questions_table("Questions", generated.questions))
    out.result(data, *renderables)


def interview_generate(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.generate_questions(session, args.interview_id, args.count, args.use_resume)
    origin = "generated before" if reply.cached else f"generated by {reply.generator}"
    out.result(
        to_json(reply),
        fmt.questions_table(
            f"Questions of interview {reply.interview_id} ({origin})", reply.questions
        ),
    )


def interview_show(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.get_interview(session, args.interview_id)
    out.result(to_json(reply), fmt.interviews_table("Interview", [reply.interview]))


def interview_complete(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.complete_interview(session, args.interview_id)
    out.result(to_json(reply), fmt.interviews_table("Interview completed", [reply.interview]))


def list_interviews(session: Session, args: argparse.Namespace, out: Output) -> None:
    interviews = api.list_interviews(session)
    out.result(
        {"interviews": [to_json(i) for i in interviews]},
        fmt.interviews_table(f"Your interviews ({len(interviews)})", interviews),
    )


def questions(session: Session, args: argparse.Namespace, out: Output) -> None:
    found = api.list_questions(session, args.interview_id)
    out.result(
        {"questions": [to_json(q) for q in found]},
        fmt.questions_table(f"Questions of interview {args.interview_id}", found),
    )


def attempts(session: Session, args: argparse.Namespace, out: Output) -> None:
    found = api.list_attempts(session, args.interview_id)
    out.result(
        {"question_attempts": [to_json(a) for a in found]},
        fmt.attempts_table(f"Attempts of interview {args.interview_id}", found),
    )


def retry(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.create_attempt(session, args.question_id)
    out.result(to_json(reply), fmt.attempts_table("New attempt", [reply.question_attempt]))


# --- answers ----------------------------------------------------------------


def answer(session: Session, args: argparse.Namespace, out: Output) -> None:
    path = Path(args.file)
    with views.upload_progress(path.name, show=not out.json_mode) as progress:
        reply = api.transcribe(
            session,
            attempt_id=args.attempt_id,
            path=path,
            language=args.language,
            mime_type=args.mime_type,
            request_id=args.request_id or uuid.uuid4().hex,
            timeout=args.timeout or api.ANSWER_TIMEOUT_SECONDS,
            progress=progress,
        )
    out.result(to_json(reply), *views.transcript_renderables(reply))


def transcript(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.get_transcription(session, args.attempt_id)
    out.result(to_json(reply), *views.stored_transcript_renderables(reply))


# --- feedback ---------------------------------------------------------------


def analyze(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.analyze_answer(session, args.attempt_id)
    out.result(to_json(reply), *views.analysis_renderables(reply.analysis))


def report(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.interview_report(session, args.interview_id)
    out.result(to_json(reply), *views.report_renderables(reply.report))


# --- health -----------------------------------------------------------------


def health(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.check_health(session, args.service)
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    out.result({"status": status}, f"{args.service or 'server'}: {status}")
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        raise SystemExit(1)

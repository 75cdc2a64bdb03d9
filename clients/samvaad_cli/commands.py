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
# The server's rule for a new password (server/domain/validation.py counts UTF-8 bytes, so
# 8 characters always pass); checked before the second prompt, not after the round trip.
MIN_PASSWORD_BYTES = 8
PASSWORD_RULE = f"at least {MIN_PASSWORD_BYTES} characters"

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
        password = sys.stdin.readline().rstrip("\r\n")
    elif PASSWORD_ENV in os.environ:
        password = os.environ[PASSWORD_ENV]
    elif not sys.stdin.isatty():
        raise CliError(f"no password: use --password-stdin or set {PASSWORD_ENV}")
    else:
        password = getpass.getpass(f"password ({PASSWORD_RULE}): " if confirm else "password: ")
        if confirm:
            check_new_password(password)
            if getpass.getpass("again: ") != password:
                raise CliError("the passwords differ")
    if confirm:
        check_new_password(password)
    return password


def check_new_password(password: str) -> None:
    if len(password.encode("utf-8", "surrogatepass")) < MIN_PASSWORD_BYTES:
        raise CliError(f"that password is too short: use {PASSWORD_RULE}")


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
    interview_id = reply.interview.id
    if args.questions:
        generated = api.generate_questions(
            session, interview_id, count=args.questions, use_resume=args.use_resume
        )
        data["questions"] = to_json(generated)
        renderables.append(fmt.questions_table("Questions", generated.questions))
    out.result(data, *renderables)
    if args.questions:
        out.note(f"Answer them in order with `samvaad answer {interview_id} FILE`.")
    else:
        out.note(f"Next: `samvaad interview generate {interview_id}` for its questions.")


def interview_generate(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.generate_questions(session, args.interview_id, args.count, args.use_resume)
    origin = "generated before" if reply.cached else f"generated by {reply.generator}"
    out.result(
        to_json(reply),
        fmt.questions_table(
            f"Questions of interview {reply.interview_id} ({origin})", reply.questions
        ),
    )
    out.note(f"Answer them in order with `samvaad answer {reply.interview_id} FILE`.")


def interview_show(session: Session, args: argparse.Namespace, out: Output) -> None:
    interview = _interview(session, args, active=False)
    out.result({"interview": to_json(interview)}, fmt.interviews_table("Interview", [interview]))


def interview_complete(session: Session, args: argparse.Namespace, out: Output) -> None:
    interview = _interview(session, args, active=True)
    if interview.status == interview_pb2.INTERVIEW_STATUS_ACTIVE and not interview.answered_count:
        _confirm_completing_unanswered(interview, args.yes)
    reply = api.complete_interview(session, interview.id)
    out.result(to_json(reply), fmt.interviews_table("Interview completed", [reply.interview]))


def _confirm_completing_unanswered(interview: interview_pb2.Interview, yes: bool) -> None:
    """Completing is for good (it is also how to drop an interview: `interview start` resumes
    the active one on a track), so an interview with nothing answered asks first."""
    if yes:
        return
    what = (
        f"none of its {interview.question_count} questions is answered"
        if interview.question_count
        else "it has no questions yet"
    )
    if sys.stdin.isatty():
        reply = input(f"Interview {interview.id}: {what}. Complete it anyway, for good? [y/N] ")
        if reply.strip().lower() in ("y", "yes"):
            return
        raise CliError(f"interview {interview.id} left active")
    raise CliError(
        f"interview {interview.id}: {what}, and completing it is for good; to complete it "
        f"anyway, run `samvaad interview complete {interview.id} --yes`"
    )


STATUSES = {
    "all": interview_pb2.INTERVIEW_STATUS_UNSPECIFIED,
    "active": interview_pb2.INTERVIEW_STATUS_ACTIVE,
    "completed": interview_pb2.INTERVIEW_STATUS_COMPLETED,
}


def list_interviews(session: Session, args: argparse.Namespace, out: Output) -> None:
    interviews = api.list_interviews(session, args.track, STATUSES[args.status])
    out.result(
        {"interviews": [to_json(i) for i in interviews]},
        fmt.interviews_table(f"Your interviews ({len(interviews)})", interviews),
    )
    if not interviews:
        out.note("Start one with `samvaad interview start --track backend --questions 3`.")


def questions(session: Session, args: argparse.Namespace, out: Output) -> None:
    interview_id = _interview(session, args, active=False).id
    found = api.list_questions(session, interview_id)
    data = {"questions": [to_json(q) for q in found]}
    if not found:
        out.result(data)  # no empty table: say what to do instead
        out.note(_no_questions(interview_id))
        return
    out.result(data, fmt.questions_table(f"Questions of interview {interview_id}", found))


def attempts(session: Session, args: argparse.Namespace, out: Output) -> None:
    interview_id = _interview(session, args, active=False).id
    slots = api.question_slots(session, interview_id)
    found = [attempt for slot in slots for attempt in slot.attempts]
    positions = {slot.question.id: slot.question.position for slot in slots}
    data = {"question_attempts": [to_json(a) for a in found]}
    if not slots:
        out.result(data)  # no empty table: say what to do instead
        out.note(_no_questions(interview_id))
        return
    out.result(data, fmt.attempts_table(f"Attempts of interview {interview_id}", found, positions))


def retry(session: Session, args: argparse.Namespace, out: Output) -> None:
    if args.question_id:
        reply = api.create_attempt(session, args.question_id)
        out.result(to_json(reply), fmt.attempts_table("New attempt", [reply.question_attempt]))
        return
    if not args.question:
        raise CliError("which question? `samvaad retry [INTERVIEW] --question N`")
    interview_id = _interview(session, args, active=True).id
    slot = _slot(interview_id, api.question_slots(session, interview_id), args.question)
    reply = api.create_attempt(session, slot.question.id)
    out.result(
        to_json(reply),
        fmt.attempts_table(
            f"New attempt at question {slot.question.position}",
            [reply.question_attempt],
            {slot.question.id: slot.question.position},
        ),
    )
    out.note(f"Answer it with `samvaad answer {interview_id} FILE --question {args.question}`.")


def _interview(
    session: Session, args: argparse.Namespace, *, active: bool
) -> interview_pb2.Interview:
    """The interview the command names, else the newest (active) one; remembered in `args`
    so that advice on an error can name it."""
    try:
        interview = api.find_interview(session, args.interview_id, active=active)
    except CliError as error:
        raise CliError(
            f"{error}: start one with `samvaad interview start --track backend --questions 3`"
        ) from None
    args.interview_id = interview.id
    return interview


def _no_questions(interview_id: int) -> str:
    return (
        f"Interview {interview_id} has no questions yet: "
        f"generate them with `samvaad interview generate {interview_id}`."
    )


def _slot(interview_id: int, slots: list[api.Slot], position: int) -> api.Slot:
    if not slots:
        raise CliError(_no_questions(interview_id))
    for slot in slots:
        if slot.question.position == position:
            return slot
    raise CliError(
        f"interview {interview_id} has questions 1 to {len(slots)}; there is no question {position}"
    )


def _slot_to_answer(
    interview: interview_pb2.Interview, slots: list[api.Slot], position: int
) -> api.Slot:
    """Question `position`, or with 0 the first whose latest attempt has no answer."""
    if position:
        slot = _slot(interview.id, slots, position)
        if slot.answered:
            raise CliError(
                f"question {position} of interview {interview.id} is answered already; to "
                f"answer it again, run `samvaad retry {interview.id} --question {position}` first"
            )
        return slot
    if not slots:
        raise CliError(_no_questions(interview.id))
    for slot in slots:
        if not slot.answered:
            return slot
    if interview.status != interview_pb2.INTERVIEW_STATUS_ACTIVE:
        raise CliError(f"interview {interview.id} is completed and every question is answered")
    raise CliError(
        f"every question of interview {interview.id} is answered; to answer one again, run "
        f"`samvaad retry {interview.id} --question N`, then `samvaad answer {interview.id} FILE "
        "--question N`, or finish with `samvaad report`"
    )


def _answered_slot(interview_id: int, slots: list[api.Slot], position: int) -> api.Slot:
    """Question `position`, or with 0 the latest answer (the answered question whose answer
    was opened last)."""
    if position:
        return _slot(interview_id, slots, position)
    answered = [slot for slot in slots if slot.answered]
    if not answered:
        if not slots:
            raise CliError(_no_questions(interview_id))
        raise CliError(
            f"no question of interview {interview_id} is answered yet: "
            f"record an answer with `samvaad answer {interview_id} FILE`"
        )
    return max(answered, key=lambda slot: slot.latest.id)


def _attempt_of_answer(
    session: Session, args: argparse.Namespace, out: Output
) -> tuple[int, interview_pb2.Question | None]:
    """For `transcript` and `analyze`: --attempt, else the interview's question."""
    if args.attempt:
        return args.attempt, None
    interview_id = _interview(session, args, active=False).id
    slot = _answered_slot(interview_id, api.question_slots(session, interview_id), args.question)
    args.question = slot.question.position
    out.note(f"Question {slot.question.position} of interview {interview_id}: {slot.question.text}")
    return slot.latest.id, slot.question


# --- answers ----------------------------------------------------------------


def answer(session: Session, args: argparse.Namespace, out: Output) -> None:
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"cannot read {path}: no such file")
    question: interview_pb2.Question | None = None
    if args.attempt:
        attempt_id = args.attempt
        out.note(f"Answering attempt {attempt_id}")
    else:
        interview = _interview(session, args, active=True)
        slot = _slot_to_answer(interview, api.question_slots(session, interview.id), args.question)
        args.question = slot.question.position
        attempt_id, question = slot.latest.id, slot.question
        out.note(views.answering_line(interview.id, slot))
    if args.live:
        with views.live_answer(show=not out.json_mode) as view:
            reply = api.stream_answer(
                session,
                attempt_id=attempt_id,
                path=path,
                on_event=view.event,
                language=args.language,
                mime_type=args.mime_type,
                request_id=args.request_id or uuid.uuid4().hex,
                timeout=args.timeout or api.ANSWER_TIMEOUT_SECONDS,
            )
    else:
        with views.upload_progress(path.name, show=not out.json_mode) as progress:
            reply = api.transcribe(
                session,
                attempt_id=attempt_id,
                path=path,
                language=args.language,
                mime_type=args.mime_type,
                request_id=args.request_id or uuid.uuid4().hex,
                timeout=args.timeout or api.ANSWER_TIMEOUT_SECONDS,
                progress=progress,
            )
    data = to_json(reply)
    if question is not None:
        data["question"] = to_json(question)
    out.result(data, *views.transcript_renderables(reply, question))


def transcript(session: Session, args: argparse.Namespace, out: Output) -> None:
    attempt_id, _ = _attempt_of_answer(session, args, out)
    reply = api.get_transcription(session, attempt_id)
    out.result(to_json(reply), *views.stored_transcript_renderables(reply))


# --- feedback ---------------------------------------------------------------


def analyze(session: Session, args: argparse.Namespace, out: Output) -> None:
    attempt_id, _ = _attempt_of_answer(session, args, out)
    reply = api.analyze_answer(session, attempt_id)
    out.result(to_json(reply), *views.analysis_renderables(reply.analysis))


def report(session: Session, args: argparse.Namespace, out: Output) -> None:
    interview_id = _interview(session, args, active=False).id
    reply = api.interview_report(session, interview_id)
    out.result(to_json(reply), *views.report_renderables(reply.report))


# --- health -----------------------------------------------------------------


def health(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = api.check_health(session, args.service)
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    out.result({"status": status}, f"{args.service or 'server'}: {status}")
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        raise SystemExit(1)

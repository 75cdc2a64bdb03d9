"""`samvaad`: practise interviews against a Samvaad server from the terminal.

samvaad register --email asha@example.com --name Asha
samvaad resume upload resume.pdf
samvaad interview start --track backend --questions 3 --use-resume
samvaad answer answer.ogg          # the next unanswered question of your active interview
samvaad report
samvaad followup                    # a follow-up question written from your latest answer
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import grpc

from clients.samvaad_cli import api, commands, practice
from clients.samvaad_cli.errors import CliError, Situation, advise, describe
from clients.samvaad_cli.output import Output
from clients.samvaad_cli.session import SERVER_ENV, ServerOptions, Session, default_server

DEFAULT_TIMEOUT_SECONDS = 30.0


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the command name (`samvaad --json me`, `samvaad me
    --json`). Only the top-level parser has defaults, so a subcommand never overwrites them."""
    parser = argparse.ArgumentParser(add_help=False)

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--server",
        default=default(None),
        help=f"host:port of the server (env {SERVER_ENV}; default 127.0.0.1:50051)",
    )
    parser.add_argument(
        "--tls", action="store_true", default=default(False), help="connect with TLS"
    )
    parser.add_argument(
        "--ca-cert",
        type=Path,
        default=default(None),
        metavar="PEM",
        help="trust this CA certificate (implies --tls); default: the system's roots",
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON for scripts"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=default(None),
        metavar="SECONDS",
        help=f"deadline of each call (default {DEFAULT_TIMEOUT_SECONDS:g}; "
        f"{api.ANSWER_TIMEOUT_SECONDS:g} for answer)",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(defaults=False)
    parser = argparse.ArgumentParser(
        prog="samvaad",
        description="Practise interviews against a Samvaad server.",
        parents=[_common_options(defaults=True)],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str,
        handler: commands.Command,
        help_text: str,
        group: argparse._SubParsersAction[argparse.ArgumentParser] = sub,
    ) -> argparse.ArgumentParser:
        child = group.add_parser(name, help=help_text, description=help_text, parents=[common])
        child.set_defaults(handler=handler)
        return child

    def with_password(child: argparse.ArgumentParser) -> None:
        child.add_argument("--email", required=True)
        child.add_argument(
            "--password-stdin",
            action="store_true",
            help=f"read the password from stdin (else env {commands.PASSWORD_ENV}, else a prompt)",
        )

    child = command("register", commands.register, "create an account and sign in")
    with_password(child)
    child.add_argument("--name", required=True, help="display name")
    with_password(command("login", commands.login, "sign in; tokens are kept for next time"))
    command("logout", commands.logout, "revoke the session and forget its tokens")
    command("me", commands.me, "show the signed-in user")

    resume = sub.add_parser("resume", help="upload or show your resume")
    resume_sub = resume.add_subparsers(dest="resume_command", required=True, metavar="COMMAND")
    child = command(
        "upload", commands.resume_upload, "upload a PDF or text resume", group=resume_sub
    )
    child.add_argument("file", help="a .pdf or .txt file")
    child.add_argument("--content-type", help="default: from the file name")
    command("show", commands.resume_show, "show the current resume", group=resume_sub)
    command("knowledge", commands.knowledge, "the normalised skills of your resume")

    interview = sub.add_parser("interview", help="start, show or complete an interview")
    interview_sub = interview.add_subparsers(
        dest="interview_command", required=True, metavar="COMMAND"
    )
    child = command(
        "start",
        commands.interview_start,
        "start an interview (or resume the active one on the track)",
        group=interview_sub,
    )
    child.add_argument("--track", required=True, help="backend, data_science, ml_engineering, …")
    child.add_argument("--difficulty", choices=list(commands.DIFFICULTIES), default="medium")
    child.add_argument(
        "--questions", type=int, default=0, metavar="N", help="also generate N questions"
    )
    child.add_argument("--use-resume", action="store_true", help="tailor them to your resume")
    child = command(
        "generate",
        commands.interview_generate,
        "generate the questions of an interview (once; later calls show the same)",
        group=interview_sub,
    )
    child.add_argument(
        "interview_id", type=int, nargs="?", default=0, help="default: your latest active one"
    )
    child.add_argument("--count", type=int, default=0, help="1 to 20 (default 5)")
    child.add_argument("--use-resume", action="store_true", help="tailor them to your resume")
    interview_id_help = "default: your latest interview"
    command("show", commands.interview_show, "show an interview", group=interview_sub).add_argument(
        "interview_id", type=int, nargs="?", default=0, help=interview_id_help
    )
    child = command(
        "complete", commands.interview_complete, "complete an interview", group=interview_sub
    )
    child.add_argument(
        "interview_id", type=int, nargs="?", default=0, help="default: your latest active one"
    )
    child.add_argument("--yes", action="store_true", help="complete it even if nothing is answered")

    child = command(
        "list", commands.list_interviews, "list your interviews with their scores, newest first"
    )
    child.add_argument("--track", default="", help="only this track")
    child.add_argument("--status", choices=list(commands.STATUSES), default="all")
    command("questions", commands.questions, "list the questions of an interview").add_argument(
        "interview_id", type=int, nargs="?", default=0, help=interview_id_help
    )
    command(
        "attempts", commands.attempts, "list the attempts at each question of an interview"
    ).add_argument("interview_id", type=int, nargs="?", default=0, help=interview_id_help)
    child = command("retry", commands.retry, "open a new attempt at a question, to answer again")
    child.add_argument(
        "interview_id", type=int, nargs="?", default=0, help="default: your latest active one"
    )
    child.add_argument("--question", type=int, default=0, metavar="N", help="its position, 1..")
    child.add_argument("--question-id", type=int, default=0, help="or the question's id")

    child = command(
        "answer",
        commands.answer,
        "stream a recorded answer to a question and print its transcript",
    )
    child.add_argument(
        "interview_id", type=int, nargs="?", default=0, help="default: your latest active one"
    )
    child.add_argument("file", help="wav, mp3, m4a, flac, ogg or webm")
    child.add_argument(
        "--question",
        type=int,
        default=0,
        metavar="N",
        help="the question's position (default: the first one not answered yet)",
    )
    child.add_argument("--attempt", type=int, default=0, metavar="ID", help="or an attempt's id")
    child.add_argument("--language", default="", help="ISO 639-1 code (default en)")
    child.add_argument("--mime-type", help="default: from the file name")
    child.add_argument("--request-id", help="idempotency key (default: a new UUID)")
    child.add_argument(
        "--live",
        action="store_true",
        help="send it at the pace it was recorded, as if spoken now, and show the "
        "transcript, pace and fillers as the server hears them (StreamAnswer)",
    )
    for name, handler, help_text in [
        ("transcript", commands.transcript, "show the transcript of an answer"),
        ("analyze", commands.analyze, "analyse an answer: delivery and content"),
    ]:
        child = command(name, handler, help_text)
        child.add_argument("interview_id", type=int, nargs="?", default=0, help=interview_id_help)
        child.add_argument(
            "--question", type=int, default=0, metavar="N", help="default: your latest answer"
        )
        child.add_argument(
            "--attempt", type=int, default=0, metavar="ID", help="or an attempt's id"
        )
    command("report", commands.report, "the feedback report of an interview").add_argument(
        "interview_id", type=int, nargs="?", default=0, help=interview_id_help
    )

    practice.add_commands(command)

    command("health", commands.health, "check the server's health (exit 1 unless SERVING)")
    sub.choices["health"].add_argument("--service", default="", help="default: the whole server")
    return parser


def server_options(args: argparse.Namespace) -> ServerOptions:
    return ServerOptions(
        address=args.server or default_server(),
        tls=args.tls,
        ca_cert=args.ca_cert,
        timeout_seconds=args.timeout or DEFAULT_TIMEOUT_SECONDS,
    )


def situation(args: argparse.Namespace) -> Situation:
    """What the command was about, for advice on a failure (commands fill in the ids they
    resolved, such as the interview an `answer` without one went to)."""
    file = getattr(args, "file", "") or ""
    try:
        file_bytes: int | None = Path(file).stat().st_size if file else None
    except OSError:
        file_bytes = None
    return Situation(
        server=args.server or default_server(),
        command=args.command,
        interview_id=getattr(args, "interview_id", 0) or 0,
        question=getattr(args, "question", 0) or 0,
        file=Path(file).name if file else "",
        file_bytes=file_bytes,
        service=getattr(args, "service", "") or "",
    )


def run(argv: Sequence[str] | None = None) -> int:
    """Runs one command; returns the exit status."""
    args = build_parser().parse_args(argv)
    out = Output(json_mode=args.json)
    try:
        with Session(server_options(args)) as session:
            args.handler(session, args, out)
    except grpc.RpcError as error:
        out.failure(advise(describe(error), situation(args)))
        return 1
    except CliError as error:
        out.problem(str(error))
        return 1
    except KeyboardInterrupt:
        out.problem("interrupted")
        return 130
    return 0


def main() -> None:
    sys.exit(run())

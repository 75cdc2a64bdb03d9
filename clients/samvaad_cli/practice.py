"""Commands of practice that builds on itself: follow-ups, comparisons, progress, profile.

Each, like those in `commands.py`, takes (session, parsed arguments, output) and prints
through `Output` (tables, or one JSON document with --json).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from clients.samvaad_cli import output as fmt
from clients.samvaad_cli.commands import Command, _attempt_of_answer
from clients.samvaad_cli.output import Output, to_json
from clients.samvaad_cli.session import Session
from generated.samvaad.v1 import interview_pb2

# command(name, handler, help): adds a subcommand to `samvaad` (cli.build_parser).
CommandAdder = Callable[[str, Command, str], argparse.ArgumentParser]

# --- calls ------------------------------------------------------------------


def create_follow_up(
    session: Session, attempt_id: int
) -> interview_pb2.CreateFollowUpQuestionResponse:
    request = interview_pb2.CreateFollowUpQuestionRequest(question_attempt_id=attempt_id)
    reply: interview_pb2.CreateFollowUpQuestionResponse = session.call_authorized(
        lambda md: session.interview.CreateFollowUpQuestion(
            request, metadata=md, timeout=session.timeout
        )
    )
    return reply


# --- commands ---------------------------------------------------------------


def followup(session: Session, args: argparse.Namespace, out: Output) -> None:
    attempt_id, _ = _attempt_of_answer(session, args, out)
    reply = create_follow_up(session, attempt_id)
    question = reply.question
    title = "Follow-up (written before)" if reply.cached else "Follow-up"
    out.result(to_json(reply), fmt.questions_table(title, [question]))
    out.note(
        f"Answer it with `samvaad answer {question.interview_id} FILE "
        f"--question {question.position}`."
    )


def add_commands(command: CommandAdder) -> None:
    """The commands of this module, on the `samvaad` parser."""
    child = command("followup", followup, "a follow-up question written from one of your answers")
    child.add_argument(
        "interview_id", type=int, nargs="?", default=0, help="default: your latest interview"
    )
    child.add_argument(
        "--question", type=int, default=0, metavar="N", help="default: your latest answer"
    )
    child.add_argument("--attempt", type=int, default=0, metavar="ID", help="or an attempt's id")

"""Commands of practice that builds on itself: follow-ups, comparisons, progress, profile.

Each, like those in `commands.py`, takes (session, parsed arguments, output) and prints
through `Output` (tables, or one JSON document with --json).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from google.protobuf import field_mask_pb2
from rich.console import RenderableType

from clients.samvaad_cli import api
from clients.samvaad_cli import output as fmt
from clients.samvaad_cli.commands import Command, _answered_slot, _attempt_of_answer, _interview
from clients.samvaad_cli.output import Output, to_json
from clients.samvaad_cli.session import Session
from generated.samvaad.v1 import auth_pb2, interview_pb2, practice_pb2

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


def compare_attempts(session: Session, question_id: int) -> practice_pb2.CompareAttemptsResponse:
    request = practice_pb2.CompareAttemptsRequest(question_id=question_id)
    reply: practice_pb2.CompareAttemptsResponse = session.call_authorized(
        lambda md: session.analysis.CompareAttempts(request, metadata=md, timeout=session.timeout)
    )
    return reply


def get_progress(session: Session, track: str) -> practice_pb2.GetProgressResponse:
    request = practice_pb2.GetProgressRequest(track=track)
    reply: practice_pb2.GetProgressResponse = session.call_authorized(
        lambda md: session.analysis.GetProgress(request, metadata=md, timeout=session.timeout)
    )
    return reply


def update_profile(
    session: Session, profile: auth_pb2.Profile, paths: list[str]
) -> auth_pb2.UpdateProfileResponse:
    request = auth_pb2.UpdateProfileRequest(
        profile=profile, update_mask=field_mask_pb2.FieldMask(paths=paths)
    )
    reply: auth_pb2.UpdateProfileResponse = session.call_authorized(
        lambda md: session.auth.UpdateProfile(request, metadata=md, timeout=session.timeout)
    )
    return reply


def _metric_name(value: practice_pb2.Metric.ValueType) -> str:
    return practice_pb2.Metric.Name(value).removeprefix("METRIC_").replace("_", " ").lower()


def _direction_name(value: practice_pb2.ChangeDirection.ValueType) -> str:
    return practice_pb2.ChangeDirection.Name(value).removeprefix("CHANGE_DIRECTION_").lower()


def _signed(value: float) -> str:
    return f"{value:+.1f}".replace(".0", "")


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


def compare(session: Session, args: argparse.Namespace, out: Output) -> None:
    question_id = args.question_id
    if not question_id:
        interview_id = _interview(session, args, active=False).id
        slots = api.question_slots(session, interview_id)
        slot = _answered_slot(interview_id, slots, args.question)
        question_id = slot.question.id
        out.note(f"Question {slot.question.position} of interview {interview_id}")
    reply = compare_attempts(session, question_id)
    table = fmt.rows_table(
        f"{reply.question_text} ({reply.answered_attempt_count} answers)",
        ["metric", "first", "previous", "latest", "change", ""],
        (
            (
                _metric_name(c.metric),
                f"{round(c.first, 1):g}",
                f"{round(c.previous, 1):g}",
                f"{round(c.latest, 1):g}",
                _signed(c.change_from_previous),
                _direction_name(c.direction),
            )
            for c in reply.changes
        ),
    )
    out.result(to_json(reply), table, reply.summary)


def progress(session: Session, args: argparse.Namespace, out: Output) -> None:
    reply = get_progress(session, args.track)
    table = fmt.rows_table(
        f"Progress over {reply.completed_interview_count} completed interviews"
        + (f" on {reply.track}" if reply.track else ""),
        ["metric", "interviews, oldest first", "trend"],
        (
            (
                _metric_name(m.metric),
                " → ".join(f"{round(p.value, 1):g}" for p in m.points) or "-",
                practice_pb2.Trend.Name(m.trend).removeprefix("TREND_").replace("_", " ").lower(),
            )
            for m in reply.metrics
        ),
    )
    missed = ", ".join(f"{m.concept} ({m.interview_count})" for m in reply.missed_concepts)
    streak = reply.streak
    lines: list[RenderableType] = [
        table,
        reply.summary,
        f"Missed most often: {missed}" if missed else "No concept missed yet.",
        f"Streak: {streak.current_days} day(s) now, {streak.longest_days} at best, "
        f"{streak.practice_days} day(s) of practice in all",
    ]
    out.result(to_json(reply), *lines)


# option -> Profile field; `samvaad profile` sets exactly the options given.
PROFILE_OPTIONS = ("degree", "institution", "graduation_year", "target_role", "onboarded")


def profile(session: Session, args: argparse.Namespace, out: Output) -> None:
    given = [name for name in PROFILE_OPTIONS if getattr(args, name) is not None]
    if given:
        values = {name: getattr(args, name) for name in given}
        user = update_profile(session, auth_pb2.Profile(**values), given).user
        data = to_json(auth_pb2.UpdateProfileResponse(user=user))
    else:
        user = api.get_me(session).user
        data = to_json(auth_pb2.GetMeResponse(user=user))
    about = user.profile
    rows = [
        ("degree", about.degree or "-"),
        ("institution", about.institution or "-"),
        ("graduation year", about.graduation_year or "-"),
        ("target role", about.target_role or "-"),
        ("onboarded", "yes" if about.onboarded else "no"),
    ]
    out.result(data, fmt.fields_table("Your profile", rows))
    if not given and not about.target_role:
        out.note('Set it with `samvaad profile --target-role "Backend engineer" ...`.')


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
    child = command("compare", compare, "your latest answer to a question against earlier ones")
    child.add_argument(
        "interview_id", type=int, nargs="?", default=0, help="default: your latest interview"
    )
    child.add_argument(
        "--question", type=int, default=0, metavar="N", help="default: your latest answer"
    )
    child.add_argument("--question-id", type=int, default=0, help="or the question's id")
    child = command("progress", progress, "your progress over completed interviews, and streak")
    child.add_argument("--track", default="", help="only this track (default: all)")
    child = command(
        "profile", profile, "show your profile, or set the fields given (they tailor questions)"
    )
    child.add_argument("--degree")
    child.add_argument("--institution")
    child.add_argument("--graduation-year", type=int, metavar="YEAR", help="0 clears it")
    child.add_argument("--target-role", metavar="ROLE")
    child.add_argument(
        "--onboarded", action=argparse.BooleanOptionalAction, default=None, help="onboarding done"
    )

"""`make demo`: a whole practice interview against a running server, in one command.

Start the server first, in another terminal, with `make run`. The demo signs up a
fresh user, uploads the sample resume shipped in clients/assets/, starts a backend
interview, and answers it with the three recordings shipped beside it: a good answer,
a rambling one (fillers and a long pause) and an off-topic one. So that the recordings
answer the questions asked, the demo names its three questions from the server's
question bank (`GenerateQuestionsRequest.bank_questions`) rather than having them
generated; clients/assets/demo_answers.json pairs each question with its recording.
It then completes the interview and shows what the candidate sees: the transcripts,
the feedback report, and the feedback on each answer, when the server has an
AnalysisService.

    python -m clients.demo [--server 127.0.0.1:50051]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2
from rich.console import Console
from rich.rule import Rule

from clients.demo_answers import RESUME, DemoAnswer, load_demo_script
from clients.samvaad_cli import api, views
from clients.samvaad_cli import output as fmt
from clients.samvaad_cli.credentials import CredentialStore
from clients.samvaad_cli.errors import describe
from clients.samvaad_cli.session import ServerOptions, Session, default_server
from generated.samvaad.v1 import analysis_pb2, interview_pb2

# The questions the demo asks, each with the recording that answers it.
SCRIPT = load_demo_script()
RECORDINGS = [answer.recording for answer in SCRIPT.answers]
TRACK = SCRIPT.track
REACH_TIMEOUT_SECONDS = 3.0
# What each recording shows, for the per-answer feedback.
KIND_LABELS = {
    "good": "a good answer",
    "rambling": "a rambling answer, with fillers and a long pause",
    "off_topic": "an answer to another question",
}


@dataclass
class AnsweredQuestion:
    question: str
    attempt_id: int
    recording: str
    transcript: str
    kind: str  # what the recording shows: "good", "rambling" or "off_topic"


@dataclass
class DemoResult:
    email: str
    password: str
    skills: list[str]
    years_experience: float | None
    interview_id: int
    answers: list[AnsweredQuestion] = field(default_factory=list)
    report: analysis_pb2.InterviewReport | None = None


class ServerUnreachable(Exception):
    pass


def check_reachable(session: Session) -> None:
    try:
        reply = session.health.Check(health_pb2.HealthCheckRequest(), timeout=REACH_TIMEOUT_SECONDS)
    except grpc.RpcError as error:
        raise ServerUnreachable(describe(error).message) from None
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        raise ServerUnreachable("the server is up but not serving yet; try again in a moment")


def run_demo(
    options: ServerOptions, console: Console, config_dir: Path, speed: float = 1.0
) -> DemoResult:
    """The whole flow. Tokens go to `config_dir`, not to the user's own sign-in. The
    answers are spoken at real-time pace, or `speed` times faster."""
    with Session(options, CredentialStore(config_dir)) as session:
        check_reachable(session)
        result = _sign_up(session, console)
        _upload_resume(session, console, result)
        questions = _start_interview(session, console, result)
        _answer(session, console, result, questions, speed)
        _complete(session, console, result)
        _show_candidate_view(console, result)
        _show_report(session, console, result)
        _show_feedback_per_answer(console, result)
        return result


def _step(console: Console, title: str) -> None:
    console.print(Rule(f"[bold]{title}", align="left"))


def _sign_up(session: Session, console: Console) -> DemoResult:
    _step(console, "1. Sign up a fresh demo candidate")
    email = f"demo-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(12)
    reply = session.register(email, password, "Demo Candidate")
    console.print(fmt.fields_table("", views.user_rows(reply.user)))
    return DemoResult(email, password, skills=[], years_experience=None, interview_id=0)


def _upload_resume(session: Session, console: Console, result: DemoResult) -> None:
    _step(console, f"2. Upload the resume {RESUME.name}")
    reply = api.upload_resume(session, RESUME.name, "application/pdf", RESUME.read_bytes())
    resume = reply.resume
    result.skills = list(resume.skills)
    result.years_experience = (
        resume.years_experience if resume.HasField("years_experience") else None
    )
    console.print(fmt.fields_table("What the server read", views.resume_rows(resume)))


def _start_interview(
    session: Session, console: Console, result: DemoResult
) -> list[tuple[interview_pb2.Question, interview_pb2.QuestionAttempt, DemoAnswer]]:
    _step(console, f"3. Start a {TRACK} interview with the demo's questions from the bank")
    reply = api.create_interview(session, TRACK, interview_pb2.DIFFICULTY_MEDIUM)
    result.interview_id = reply.interview.id
    # The demo's recordings answer these questions; a real candidate gets generated ones.
    generated = api.generate_questions(
        session, result.interview_id, bank_questions=SCRIPT.questions
    )
    console.print(
        fmt.questions_table(
            f"Interview {result.interview_id}: {len(generated.questions)} questions "
            f"from the {generated.generator}",
            generated.questions,
        )
    )
    # Each question comes with its first attempt: the id an answer is sent to.
    return list(zip(generated.questions, generated.question_attempts, SCRIPT.answers, strict=True))


def _answer(
    session: Session,
    console: Console,
    result: DemoResult,
    questions: list[tuple[interview_pb2.Question, interview_pb2.QuestionAttempt, DemoAnswer]],
    speed: float,
) -> None:
    _step(console, f"4. Answer {len(questions)} questions with the recorded answers")
    for question, attempt, answer in questions:
        recording = answer.recording
        console.print(f"[bold]Q{question.position}.[/] {question.text}")
        label = KIND_LABELS.get(answer.kind, answer.kind)
        console.print(
            f"   speaking {recording.name} ({label}) live (StreamAnswer, at real-time pace) …"
        )
        # As `samvaad answer --live`: the server transcribes while the answer arrives.
        with views.live_answer(show=console.is_terminal) as view:
            reply = api.stream_answer(
                session,
                attempt_id=attempt.id,
                path=recording,
                on_event=view.event,
                speed=speed,
            )
        transcript = reply.transcription.text
        console.print(
            f"   [green]transcript[/] ({fmt.seconds(reply.audio.duration)} of audio, "
            f"transcribed in {fmt.seconds(reply.processing_time)}): {transcript}\n"
        )
        result.answers.append(
            AnsweredQuestion(
                question.text, reply.question_attempt_id, recording.name, transcript, answer.kind
            )
        )


def _complete(session: Session, console: Console, result: DemoResult) -> None:
    _step(console, "5. Complete the interview")
    reply = api.complete_interview(session, result.interview_id)
    console.print(fmt.interviews_table("", [reply.interview]))


def _show_candidate_view(console: Console, result: DemoResult) -> None:
    _step(console, "What the candidate sees")
    console.print(
        fmt.rows_table(
            f"Interview {result.interview_id}",
            ["question", "your answer, as transcribed"],
            ((a.question, a.transcript) for a in result.answers),
        )
    )


def _show_report(session: Session, console: Console, result: DemoResult) -> None:
    _step(console, "6. The feedback report")
    try:
        reply = api.interview_report(session, result.interview_id)
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
        console.print("This server does not offer feedback reports (AnalysisService) yet.")
        return
    result.report = reply.report
    for renderable in views.report_renderables(reply.report):
        console.print(renderable)


def _show_feedback_per_answer(console: Console, result: DemoResult) -> None:
    if result.report is None:
        return
    _step(console, "7. The feedback on each answer")
    kinds = {a.attempt_id: a.kind for a in result.answers}
    for question in result.report.questions:
        if not question.answered:
            continue
        kind = kinds.get(question.question_attempt_id, "")
        console.print(
            f"[bold]Q{question.position}[/] ({KIND_LABELS.get(kind, kind)}): "
            f"{question.question_text}"
        )
        for renderable in views.analysis_renderables(question.analysis):
            console.print(renderable)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clients.demo", description=__doc__)
    parser.add_argument("--server", default=default_server(), help="host:port")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="send the recorded answers this many times faster than they were spoken "
        "(default 1: as if the candidate were speaking now; the tests use more)",
    )
    args = parser.parse_args(argv)
    if not 1.0 <= args.speed <= 100.0:
        parser.error("--speed must be between 1 and 100")
    console = Console(highlight=False)
    options = ServerOptions(address=args.server)
    with tempfile.TemporaryDirectory(prefix="samvaad-demo-") as config_dir:
        try:
            result = run_demo(options, console, Path(config_dir), args.speed)
        except ServerUnreachable as error:
            console.print(
                f"[bold red]Cannot reach the Samvaad server at {args.server}[/] ({error}).\n"
                "Start it in another terminal with [bold]make run[/], wait for "
                "'samvaad listening', then run [bold]make demo[/] again."
            )
            return 2
        except grpc.RpcError as error:
            console.print("[bold red]The demo failed:[/]")
            for line in describe(error).lines():
                console.print(line, markup=False)
            return 1
    console.print(
        f"\nThe demo account stays on the server: sign in with\n"
        f"  SAMVAAD_PASSWORD='{result.password}' .venv/bin/samvaad login --email {result.email}\n"
        f"and look around: `samvaad list`, `samvaad report {result.interview_id}`.",
        soft_wrap=True,  # keep the command on one line, whatever the terminal's width
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

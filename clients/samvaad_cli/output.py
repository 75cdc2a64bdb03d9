"""What the commands print: readable tables by default, JSON with --json.

Results go to stdout and everything else (progress, errors) to stderr, so
`samvaad --json ... | jq` always sees a single JSON document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from rich.console import Console, RenderableType
from rich.table import Table

from clients.samvaad_cli.errors import RpcFailure
from generated.samvaad.v1 import interview_pb2


def to_json(message: Message) -> dict[str, Any]:
    """The proto3 JSON mapping with the protos' field names; unset scalars included."""
    return MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


class Output:
    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode
        self.console = Console(highlight=False)
        self.errors = Console(stderr=True, highlight=False)

    def result(self, data: Any, *renderables: RenderableType) -> None:
        if self.json_mode:
            print(json.dumps(data, indent=2, ensure_ascii=False))
            return
        for renderable in renderables:
            self.console.print(renderable)

    def note(self, text: str) -> None:
        """A remark for people; never part of the JSON result."""
        if not self.json_mode:
            self.errors.print(text)

    def failure(self, failure: RpcFailure) -> None:
        if self.json_mode:
            self.errors.print_json(data={"error": failure.to_json()})
            return
        first, *rest = failure.lines()
        self.errors.print(f"[bold red]error[/] {first}", markup=True, highlight=False)
        for line in rest:
            self.errors.print(line, markup=False)

    def problem(self, message: str) -> None:
        if self.json_mode:
            self.errors.print_json(data={"error": {"message": message}})
        else:
            self.errors.print(f"[bold red]error[/] {message}")


# --- readable forms ---------------------------------------------------------


def when(stamp: timestamp_pb2.Timestamp) -> str:
    if stamp.seconds == 0 and stamp.nanos == 0:
        return "-"
    return stamp.ToDatetime(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def size(size_bytes: int) -> str:
    """Bytes as a person reads them: 812 bytes, 204 KiB, 25.0 MiB."""
    if size_bytes < 1024:
        return f"{size_bytes} bytes"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.0f} KiB"
    return f"{size_bytes / (1024 * 1024):.1f} MiB"


def seconds(duration: duration_pb2.Duration) -> str:
    return f"{duration.ToTimedelta().total_seconds():.1f} s"


def difficulty_name(value: interview_pb2.Difficulty.ValueType) -> str:
    return str(interview_pb2.Difficulty.Name(value)).removeprefix("DIFFICULTY_").lower()


def status_name(value: interview_pb2.InterviewStatus.ValueType) -> str:
    return str(interview_pb2.InterviewStatus.Name(value)).removeprefix("INTERVIEW_STATUS_").lower()


def fields_table(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left", box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, str(value))
    return table


def rows_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    return table


def interviews_table(title: str, interviews: Iterable[interview_pb2.Interview]) -> Table:
    return rows_table(
        title,
        ["id", "track", "difficulty", "status", "questions", "answered", "score", "created"],
        (
            (
                i.id,
                i.track,
                difficulty_name(i.difficulty),
                status_name(i.status),
                i.question_count,
                i.answered_count,
                _scores(i),
                when(i.create_time),
            )
            for i in interviews
        ),
    )


def _scores(interview: interview_pb2.Interview) -> str:
    """ "71 (content 64, delivery 82)", or "-" before a report has an answer."""
    if not interview.HasField("overall_score"):
        return "-"
    return (
        f"{interview.overall_score} (content {interview.content_score}, "
        f"delivery {interview.delivery_score})"
    )


def questions_table(title: str, questions: Iterable[interview_pb2.Question]) -> Table:
    return rows_table(
        title,
        ["#", "id", "category", "topic", "question"],
        ((q.position, q.id, q.category, q.topic, q.text) for q in questions),
    )


def attempts_table(
    title: str,
    attempts: Iterable[interview_pb2.QuestionAttempt],
    positions: dict[int, int] | None = None,
) -> Table:
    """One row an attempt: the question's position (#) when `positions` (question id to
    position) is given, then ids labelled as ids, so that none reads like a count."""
    known = positions or {}
    return rows_table(
        title,
        ["#", "question", "answered", "opened", "attempt id", "question id"],
        (
            (
                known.get(a.question_id, "-"),
                a.question_text,
                "yes" if a.has_transcription else "no",
                when(a.create_time),
                a.id,
                a.question_id,
            )
            for a in attempts
        ),
    )

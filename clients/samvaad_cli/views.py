"""How each result reads in the terminal: rows, tables and the upload's progress bar.

The shared table shapes (`fields_table`, `rows_table` ...) are in `output.py`;
here is what goes in them, for the commands and the demo alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from clients.samvaad_cli import output as fmt
from generated.samvaad.v1 import analysis_pb2, auth_pb2, resume_pb2, transcription_pb2


def user_rows(user: auth_pb2.User) -> list[tuple[str, object]]:
    return [
        ("id", user.id),
        ("email", user.email),
        ("name", user.name),
        ("since", fmt.when(user.create_time)),
        ("resume", "uploaded" if user.has_resume else "none yet"),
    ]


def resume_rows(resume: resume_pb2.Resume) -> list[tuple[str, object]]:
    years = f"{resume.years_experience:g}" if resume.HasField("years_experience") else "unknown"
    return [
        ("file", f"{resume.filename} ({resume.content_type}, {resume.size_bytes} bytes)"),
        ("skills", ", ".join(resume.skills) or "none found"),
        ("years of experience", years),
        ("read by", resume.extractor),
        ("uploaded", fmt.when(resume.update_time)),
    ]


# --- answers ----------------------------------------------------------------


class _UploadBar:
    """`api.UploadProgress` as a rich bar on stderr; "transcribing" once all is sent."""

    def __init__(self, progress: Progress, filename: str) -> None:
        self._progress = progress
        self._filename = filename
        self._task: TaskID | None = None
        self._total = 0

    def start(self, total_bytes: int) -> None:
        self._total = total_bytes
        if self._task is None:
            self._task = self._progress.add_task(f"uploading {self._filename}", total=total_bytes)
        else:
            self._progress.reset(self._task)

    def sent(self, chunk_bytes: int) -> None:
        if self._task is None:
            return
        self._progress.advance(self._task, chunk_bytes)
        if self._progress.tasks[self._task].completed >= self._total:
            self._progress.update(self._task, description="transcribing")


@contextmanager
def upload_progress(filename: str, *, show: bool) -> Iterator[_UploadBar]:
    """A progress bar for one answer's upload, gone when the call ends (or hidden)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not show,
    ) as progress:
        yield _UploadBar(progress, filename)


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


def stored_transcript_renderables(
    reply: transcription_pb2.GetTranscriptionResponse,
) -> list[RenderableType]:
    text = reply.transcription
    return [
        fmt.fields_table(
            f"Transcript of attempt {reply.question_attempt_id}",
            [
                ("said", text.text),
                ("duration", fmt.seconds(text.duration)),
                ("words", len(text.words)),
                ("engine", f"{text.engine} {text.model}"),
            ],
        )
    ]


# --- feedback ---------------------------------------------------------------


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

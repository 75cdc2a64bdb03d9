"""How each result reads in the terminal: rows, tables and the upload's progress bar.

The shared table shapes (`fields_table`, `rows_table` ...) are in `output.py`;
here is what goes in them, for the commands and the demo alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.text import Text

from clients.samvaad_cli import api
from clients.samvaad_cli import output as fmt
from generated.samvaad.v1 import (
    analysis_pb2,
    auth_pb2,
    interview_pb2,
    resume_pb2,
    transcription_pb2,
)


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


class _Detail(ProgressColumn):
    """Bytes and speed while uploading (no speed until there is one), then the seconds the
    server has been transcribing."""

    def render(self, task: Task) -> Text:
        if task.fields.get("phase") == "transcribing":
            return Text(f"{task.elapsed or 0:.0f} s")
        done, total = _mib(task.completed), _mib(task.total or 0)
        speed = f", {_mib(task.speed)}/s" if task.speed else ""
        return Text(f"{done} of {total}{speed}")


def _mib(size: float) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


class _UploadBar:
    """`api.UploadProgress` as a rich bar on stderr, in two phases: "uploading NAME" with
    bytes and speed until gRPC has sent everything, then "transcribing" with the seconds
    it has taken so far (the server answers only once the transcript is ready)."""

    def __init__(self, progress: Progress, filename: str) -> None:
        self._progress = progress
        self._filename = filename
        self._task: TaskID | None = None
        self._waiting: TaskID | None = None
        self.phase = "waiting"

    def start(self, total_bytes: int) -> None:
        self.phase = "uploading"
        if self._waiting is not None:  # a retry after a token refresh
            self._progress.remove_task(self._waiting)
            self._waiting = None
        if self._task is None:
            self._task = self._progress.add_task(
                f"uploading {self._filename}", total=total_bytes, phase="uploading"
            )
        else:
            self._progress.reset(self._task, total=total_bytes, visible=True)

    def sent(self, chunk_bytes: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, chunk_bytes)

    def uploaded(self) -> None:
        self.phase = "transcribing"
        if self._task is not None:
            self._progress.update(self._task, visible=False)
        self._waiting = self._progress.add_task(
            "transcribing on the server", total=None, phase="transcribing"
        )


@contextmanager
def upload_progress(filename: str, *, show: bool) -> Iterator[_UploadBar]:
    """A progress bar for one answer's upload, gone when the call ends (or hidden)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        _Detail(),
        console=Console(stderr=True),
        transient=True,
        disable=not show,
    ) as progress:
        yield _UploadBar(progress, filename)


class _LiveView:
    """What `answer --live` shows while the answer streams: the transcript so far (stable
    words, then the tentative rest, dimmed) and the pace, fillers and silence, redrawn."""

    def __init__(self, live: Live) -> None:
        self._live = live
        self._stable: list[str] = []
        self._tentative = ""
        self._delivery = "listening..."

    def event(self, response: transcription_pb2.StreamAnswerResponse) -> None:
        kind = response.WhichOneof("event")
        if kind == "interim":
            self._stable.extend(word.word for word in response.interim.stable_words)
            self._tentative = response.interim.tentative_text
        elif kind == "delivery":
            d = response.delivery
            self._delivery = (
                f"{fmt.seconds(d.audio_heard)} heard · {d.words_so_far} words · "
                f"{d.words_per_minute:.0f} wpm (last 20 s) · {d.fillers_so_far} fillers · "
                f"silent {d.current_silence.ToTimedelta().total_seconds():.1f} s"
            )
        text = Text(" ".join(self._stable))
        if self._tentative:
            text.append((" " if self._stable else "") + self._tentative, style="dim")
        text.append("\n" + self._delivery, style="cyan")
        self._live.update(text)


@contextmanager
def live_answer(*, show: bool) -> Iterator[_LiveView]:
    """The live transcript of `answer --live`, drawn in place and gone when the call ends."""
    with Live(Text("connecting..."), console=Console(stderr=True), transient=True) as live:
        if not show:
            live.stop()
        yield _LiveView(live)


def answering_line(interview_id: int, slot: api.Slot) -> str:
    """What `answer` is about to answer, said before the upload starts."""
    question = slot.question
    return (
        f"Answering question {question.position} of interview {interview_id} "
        f"(attempt {slot.latest.id}): {question.text}"
    )


def transcript_renderables(
    reply: transcription_pb2.TranscribeAnswerResponse, question: interview_pb2.Question | None
) -> list[RenderableType]:
    text = reply.transcription
    audio = reply.audio
    title = f"Transcript of attempt {reply.question_attempt_id}"
    asked: list[tuple[str, object]] = []
    if question is not None:
        title = f"Your answer to question {question.position} (attempt {reply.question_attempt_id})"
        asked = [("question", question.text)]
    return [
        fmt.fields_table(
            title,
            [
                *asked,
                ("said", text.text or "(nothing recognised)"),
                (
                    "audio",
                    f"{audio.format}, {fmt.seconds(audio.duration)}, {fmt.size(audio.size_bytes)}",
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
    title = f"Report of interview {report.interview_id}"
    if not report.question_count:
        return [
            f"{title}: no questions yet, so nothing to report. Generate them with "
            f"`samvaad interview generate {report.interview_id}`, then answer them with "
            f"`samvaad answer {report.interview_id} FILE`."
        ]
    if not report.answered_count:
        return [
            f"{title}: none of its {report.question_count} questions is answered yet, so "
            f"there are no scores. Answer one with `samvaad answer {report.interview_id} FILE`."
        ]
    summary = fmt.fields_table(
        title,
        [
            ("answered", f"{report.answered_count} of {report.question_count} questions"),
            ("overall", f"{report.overall_score}/100"),
            ("delivery", f"{report.delivery_score}/100"),
            ("content", f"{report.content_score}/100"),
            (
                "time",
                f"{fmt.seconds(report.total_answer_duration)} answering, "
                f"{fmt.seconds(report.total_recorded_duration)} recorded with retries",
            ),
        ],
    )
    rubric = fmt.rows_table(
        "Rubric",
        ["criterion", "area", "score"],
        (
            (
                analysis_pb2.RubricCriterion.Name(r.criterion)
                .removeprefix("RUBRIC_CRITERION_")
                .lower(),
                analysis_pb2.RubricArea.Name(r.area).removeprefix("RUBRIC_AREA_").lower(),
                r.score,
            )
            for r in report.rubric
        ),
    )
    per_question = fmt.rows_table(
        "Questions",
        ["#", "question", "overall", "delivery", "content", "tries", "attempt id"],
        (
            (
                q.position,
                q.question_text,
                *(
                    (q.analysis.overall_score, q.analysis.delivery.score, q.analysis.content.score)
                    if q.answered
                    else ("not answered", "", "")
                ),
                q.attempt_count,
                q.question_attempt_id,
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
    practice = report.next_practice
    level = fmt.difficulty_name(practice.difficulty)
    retry = f" --question {practice.question_positions[0]}" if practice.question_positions else ""
    recommended = (
        f"Practise next: {practice.track} at {level}. {practice.reason} "
        + (f"(`samvaad retry {report.interview_id}{retry}`)" if retry else "")
    ).strip()
    return [summary, per_question, rubric, advice, recommended]

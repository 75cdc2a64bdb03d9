"""The report's rubric, time spent, and the one practice to do next. Plain arithmetic.

Each criterion is scored 0 to 100 per answered question and averaged over them:

content
- correctness: the concepts a good answer covers that this one covered (coverage score);
- depth: the depth score (length, reasoning, variety);
- relevance: the relevance score;
- examples: 60 for a concrete example ("for example", "in my last project") and 20 per
  number, up to 2; a behavioral answer scores its STAR structure instead;
- terminology: the share of the words of the question's concepts the answer uses, even
  where it does not cover a concept whole (no concepts: the relevance score);

delivery
- pace, pauses, fillers: 100 minus the delivery score's penalty for each, as a share of
  that penalty's cap (analysis.md);
- clarity: the transcriber's mean confidence in the words, 0 to 100 (mumbled, rushed or
  swallowed words come back with a low probability).

The next practice: the questions scoring under `RETRY_BELOW` (the lowest three) to
retry, on the same track, one level up when every question is answered at
`LEVEL_UP_FROM` or more, one level down under `LEVEL_DOWN_BELOW`, else the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from server.domain.analysis.content import rubric_cues as cues
from server.domain.analysis.delivery import (
    FILLER_PENALTY_PER_RATE,
    FILLERS_FREE_PER_MINUTE,
    FILLERS_MAX,
    LONG_PAUSE_BASE,
    LONG_PAUSE_EACH_MAX,
    LONG_PAUSE_PER_SECOND,
    LONG_PAUSES_MAX,
    PACE_PENALTY_MAX,
    PACE_PENALTY_PER_WPM,
)
from server.domain.analysis.delivery_timing import FAST_ABOVE, SLOW_BELOW
from server.domain.analysis.types import AnswerAnalysis, Pace
from server.domain.records import AttemptRecord, QuestionRecord

RETRY_BELOW = 70
MAX_RETRIES = 3
LEVEL_UP_FROM = 80
LEVEL_DOWN_BELOW = 50
LEVELS = ["easy", "medium", "hard", "expert"]


class Criterion(StrEnum):
    CORRECTNESS = "correctness"
    DEPTH = "depth"
    RELEVANCE = "relevance"
    EXAMPLES = "examples"
    TERMINOLOGY = "terminology"
    PACE = "pace"
    PAUSES = "pauses"
    FILLERS = "fillers"
    CLARITY = "clarity"


CONTENT = (
    Criterion.CORRECTNESS,
    Criterion.DEPTH,
    Criterion.RELEVANCE,
    Criterion.EXAMPLES,
    Criterion.TERMINOLOGY,
)


@dataclass(frozen=True)
class AnswerFacts:
    """What the rubric reads from an answer beyond its analysis."""

    transcript: str
    concepts: list[str]
    word_probabilities: list[float]


@dataclass(frozen=True)
class RubricScore:
    criterion: str  # a Criterion value
    area: str  # "content" or "delivery"
    score: int


@dataclass(frozen=True)
class NextPractice:
    track: str
    difficulty: str  # a Difficulty value
    question_ids: list[int]
    question_positions: list[int]
    reason: str


@dataclass(frozen=True)
class ReportExtras:
    """What a report adds to its questions' analyses."""

    rubric: list[RubricScore]
    # Recording time of every attempt with an answer, retries included.
    total_recorded_seconds: float
    next_practice: NextPractice | None
    # The latest answer's recording time, by question id.
    answer_seconds: dict[int, float]


def report_extras(
    track: str,
    difficulty: str,
    questions: Sequence[QuestionRecord],
    latest: dict[int, AttemptRecord],
    attempts: Sequence[AttemptRecord],
    analyses: dict[int, AnswerAnalysis],
) -> ReportExtras:
    """The rubric, time spent and next practice of an interview. CPU grows with the
    transcripts: run it off the event loop."""
    per_answer: list[dict[Criterion, int]] = []
    seconds: dict[int, float] = {}
    overall: list[tuple[int, int, int | None]] = []
    for question in questions:
        attempt = latest.get(question.id)
        analysis = analyses.get(attempt.id) if attempt is not None else None
        if attempt is None or analysis is None:
            overall.append((question.id, question.position, None))
            continue
        words = attempt.transcript_words or ()
        facts = AnswerFacts(
            attempt.transcript_text or "", list(question.concepts), [float(w[3]) for w in words]
        )
        per_answer.append(answer_scores(analysis, facts))
        seconds[question.id] = attempt.audio_duration_seconds or 0.0
        overall.append((question.id, question.position, analysis.overall_score))
    recorded = sum(a.audio_duration_seconds or 0.0 for a in attempts if a.transcribed_at)
    return ReportExtras(
        rubric=rubric(per_answer),
        total_recorded_seconds=round(recorded, 3),
        next_practice=next_practice(track, difficulty, overall),
        answer_seconds=seconds,
    )


def answer_scores(analysis: AnswerAnalysis, facts: AnswerFacts) -> dict[Criterion, int]:
    """One answer's score on every criterion. CPU grows with the transcript."""
    content, delivery = analysis.content, analysis.delivery
    probabilities = facts.word_probabilities
    return {
        Criterion.CORRECTNESS: content.coverage_score,
        Criterion.DEPTH: content.depth_score,
        Criterion.RELEVANCE: content.relevance_score,
        Criterion.EXAMPLES: (
            content.star.score
            if content.star is not None
            else cues.examples_score(facts.transcript)
        ),
        Criterion.TERMINOLOGY: (
            cues.terminology_score(facts.transcript, facts.concepts)
            if facts.concepts
            else content.relevance_score
        ),
        Criterion.PACE: _left(
            _pace_penalty(delivery.pace, delivery.words_per_minute), PACE_PENALTY_MAX
        ),
        Criterion.PAUSES: _left(
            min(
                LONG_PAUSES_MAX,
                sum(
                    min(
                        LONG_PAUSE_EACH_MAX,
                        LONG_PAUSE_BASE + LONG_PAUSE_PER_SECOND * (p.duration - 2),
                    )
                    for p in delivery.long_pauses
                ),
            ),
            LONG_PAUSES_MAX,
        ),
        Criterion.FILLERS: _left(
            min(
                FILLERS_MAX,
                FILLER_PENALTY_PER_RATE
                * max(0.0, delivery.fillers_per_minute - FILLERS_FREE_PER_MINUTE),
            ),
            FILLERS_MAX,
        ),
        Criterion.CLARITY: round(100 * sum(probabilities) / len(probabilities))
        if probabilities
        else 0,
    }


def _pace_penalty(pace: Pace, wpm: float) -> float:
    if pace is Pace.NOT_ENOUGH_SPEECH:
        return PACE_PENALTY_MAX
    off = max(SLOW_BELOW - wpm, wpm - FAST_ABOVE, 0.0)
    return min(PACE_PENALTY_MAX, PACE_PENALTY_PER_WPM * off)


def _left(penalty: float, cap: float) -> int:
    return round(100 * (1 - penalty / cap))


def rubric(answers: Sequence[dict[Criterion, int]]) -> list[RubricScore]:
    """Each criterion's mean over the answers; empty without answers."""
    if not answers:
        return []
    return [
        RubricScore(
            criterion.value,
            "content" if criterion in CONTENT else "delivery",
            round(sum(a[criterion] for a in answers) / len(answers)),
        )
        for criterion in Criterion
    ]


def next_practice(
    track: str, difficulty: str, scores: Sequence[tuple[int, int, int | None]]
) -> NextPractice | None:
    """`scores`: (question id, position, overall score or None when unanswered)."""
    answered = [(qid, pos, s) for qid, pos, s in scores if s is not None]
    if not answered:
        return None
    weak = sorted((s, pos, qid) for qid, pos, s in answered if s < RETRY_BELOW)[:MAX_RETRIES]
    weak.sort(key=lambda item: item[1])
    mean = sum(s for _, _, s in answered) / len(answered)
    level = LEVELS.index(difficulty) if difficulty in LEVELS else 1
    if mean >= LEVEL_UP_FROM and len(answered) == len(scores) and not weak:
        level, why = min(level + 1, len(LEVELS) - 1), f"you averaged {round(mean)}: go a level up"
    elif mean < LEVEL_DOWN_BELOW:
        level, why = max(level - 1, 0), f"you averaged {round(mean)}: a level down builds ground"
    else:
        why = f"you averaged {round(mean)}: stay at this level"
    positions = [pos for _, pos, _ in weak]
    if positions:
        named = ", ".join(str(p) for p in positions)
        why += f", and retry question{'s' if len(positions) > 1 else ''} {named} first"
    return NextPractice(
        track=track,
        difficulty=LEVELS[level],
        question_ids=[qid for _, _, qid in weak],
        question_positions=positions,
        reason=why[0].upper() + why[1:] + ".",
    )

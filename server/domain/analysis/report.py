"""The interview report: per-question results, averages, and advice across answers."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from server.domain.analysis.rubric import NextPractice, ReportExtras, RubricScore
from server.domain.analysis.types import AnswerAnalysis, Pace

# How many cross-answer points a report lists.
MAX_POINTS = 4


@dataclass(frozen=True)
class QuestionReport:
    question_id: int
    position: int
    question_text: str
    category: str
    answered: bool
    question_attempt_id: int
    attempt_count: int
    analysis: AnswerAnalysis | None
    # The latest answer's recording time; 0 when unanswered.
    answer_seconds: float = 0.0


@dataclass(frozen=True)
class InterviewReport:
    interview_id: int
    question_count: int
    answered_count: int
    overall_score: int
    delivery_score: int
    content_score: int
    questions: list[QuestionReport]
    strengths: list[str]
    improvements: list[str]
    next_steps: list[str]
    # Each rubric criterion over the answered questions (rubric.py).
    rubric: list[RubricScore] = field(default_factory=list)
    # The latest answers' recording time, and every answered attempt's, retries included.
    total_answer_seconds: float = 0.0
    total_recorded_seconds: float = 0.0
    next_practice: NextPractice | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InterviewReport:
        questions = [
            QuestionReport(
                **{
                    **q,
                    "analysis": AnswerAnalysis.from_json(q["analysis"]) if q["analysis"] else None,
                }
            )
            for q in data["questions"]
        ]
        practice = data.get("next_practice")
        return cls(
            **{
                **data,
                "questions": questions,
                "rubric": [RubricScore(**r) for r in data.get("rubric", [])],
                "next_practice": NextPractice(**practice) if practice else None,
            }
        )


def build_report(
    interview_id: int, questions: list[QuestionReport], extras: ReportExtras | None = None
) -> InterviewReport:
    if extras is not None:
        questions = [
            replace(q, answer_seconds=extras.answer_seconds.get(q.question_id, 0.0))
            if q.analysis is not None
            else q
            for q in questions
        ]
    analyses = [q.analysis for q in questions if q.analysis is not None]
    unanswered = [q for q in questions if not q.answered]
    return InterviewReport(
        interview_id=interview_id,
        question_count=len(questions),
        answered_count=len(analyses),
        overall_score=_mean(a.overall_score for a in analyses),
        delivery_score=_mean(a.delivery.score for a in analyses),
        content_score=_mean(a.content.score for a in analyses),
        questions=questions,
        strengths=_common_points(questions, strengths=True),
        improvements=_common_points(questions, strengths=False),
        next_steps=_next_steps(analyses, unanswered),
        rubric=extras.rubric if extras else [],
        total_answer_seconds=round(sum(q.answer_seconds for q in questions), 3),
        total_recorded_seconds=extras.total_recorded_seconds if extras else 0.0,
        next_practice=extras.next_practice if extras else None,
    )


def _mean(values: Any) -> int:
    items = list(values)
    return round(sum(items) / len(items)) if items else 0


def _common_points(questions: list[QuestionReport], *, strengths: bool) -> list[str]:
    """The aspects that come up in most answers, each with one answer's evidence, named as
    that answer's: a finding quotes one answer (its length, its skills), never all of them."""
    answered = [q for q in questions if q.analysis is not None]
    # One message per answer and aspect: an answer with two pause findings is
    # still one answer with a pause problem.
    by_aspect: dict[str, list[tuple[int, str]]] = {}
    for question in answered:
        assert question.analysis is not None
        findings = question.analysis.strengths if strengths else question.analysis.improvements
        first_by_aspect: dict[str, str] = {}
        for finding in findings:
            first_by_aspect.setdefault(finding.aspect, finding.message)
        for aspect, message in first_by_aspect.items():
            by_aspect.setdefault(aspect, []).append((question.position, message))
    ranked = sorted(by_aspect.items(), key=lambda item: len(item[1]), reverse=True)
    return [_point(aspect, evidence, len(answered)) for aspect, evidence in ranked[:MAX_POINTS]]


def _point(aspect: str, evidence: list[tuple[int, str]], answers: int) -> str:
    name = aspect.replace("_", " ").capitalize()
    position, message = evidence[0]
    if answers == 1:
        return f"{name}: {message}"
    if len(evidence) == 1:
        return f"{name} (question {position}): {message}"
    share = f"{len(evidence)} of {answers}" if len(evidence) < answers else f"all {answers}"
    share += " answers"
    return f"{name} ({share}), e.g. question {position}: {message}"


def _next_steps(analyses: list[AnswerAnalysis], unanswered: list[QuestionReport]) -> list[str]:
    steps: list[str] = []
    paces = Counter(a.delivery.pace for a in analyses)
    if paces[Pace.TOO_FAST] > len(analyses) / 3:
        steps.append(
            "Slow down: record a two-minute answer against a timer and aim for 130-160 words "
            "a minute, breathing at every full stop."
        )
    if paces[Pace.TOO_SLOW] > len(analyses) / 3:
        steps.append(
            "Pick up the pace: outline three points before you start, then speak to them "
            "without stopping to search for words; aim for 130-160 words a minute."
        )
    if sum(len(a.delivery.long_pauses) for a in analyses) >= max(2, len(analyses)):
        steps.append(
            "Before each answer, take five seconds to plan its first sentence and its three "
            "points, so that long silences do not break the answer up."
        )
    if _mean(a.delivery.fillers_per_minute for a in analyses) >= 4:
        steps.append(
            "Replace fillers with a silent pause: practise one answer a day, listen back, and "
            "count your 'um's and 'like's until they halve."
        )
    missing = Counter(c for a in analyses for c in a.content.missing_concepts)
    if missing:
        topics = ", ".join(concept for concept, _ in missing.most_common(5))
        steps.append(f"Review these concepts your answers left out: {topics}.")
    if any(a.content.relevance_score < 50 for a in analyses):
        steps.append(
            "Open each answer by restating the question in your own words, then stay on it."
        )
    if any(a.content.depth_score < 50 for a in analyses):
        steps.append(
            "Go deeper: give one concrete example with a number (latency, scale, accuracy) "
            "and say why you chose your approach over another."
        )
    if any(a.content.star is not None and a.content.star.score < 75 for a in analyses):
        steps.append(
            "Structure behavioral answers as STAR: the situation, your task, what you did, "
            "and the result with a number."
        )
    if unanswered:
        positions = ", ".join(str(q.position) for q in unanswered)
        steps.append(f"Answer the remaining questions ({positions}) to complete the interview.")
    if not steps and analyses:
        steps.append(
            "Raise the difficulty: these answers are strong, so practise the next level up."
        )
    return steps

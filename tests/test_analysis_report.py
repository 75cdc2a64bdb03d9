"""The report's aggregation, on analyses built by the real analysers."""

from __future__ import annotations

import re

from server.domain.analysis.delivery import analyse_delivery
from server.domain.analysis.report import QuestionReport, build_report
from server.domain.analysis.scoring import combine
from server.domain.analysis.types import (
    AnswerAnalysis,
    ContentFeedback,
    Finding,
    Word,
)


def _analysis(attempt_id: int, improvements: list[Finding]) -> AnswerAnalysis:
    words = [Word(f"w{i}", i * 0.4, i * 0.4 + 0.3) for i in range(40)]
    delivery = analyse_delivery(words, 20.0)
    content = ContentFeedback(
        score=60, coverage_score=50, relevance_score=70, depth_score=40, skills_score=50,
        covered_concepts=["precision"], missing_concepts=["recall", "f1 score"],
        skills_mentioned=[], star=None, analyzer="offline",
    )  # fmt: skip
    overall, strengths, _ = combine(delivery, content)
    return AnswerAnalysis(
        attempt_id, attempt_id, overall, delivery, content, strengths, improvements
    )


def _question(position: int, analysis: AnswerAnalysis | None) -> QuestionReport:
    return QuestionReport(
        question_id=position,
        position=position,
        question_text=f"Question {position}?",
        category="technical",
        answered=analysis is not None,
        question_attempt_id=position,
        attempt_count=1,
        analysis=analysis,
    )


def test_recurring_points_count_answers_not_findings() -> None:
    two_depth = [Finding("depth", "too short"), Finding("depth", "no example")]
    report = build_report(
        7,
        [
            _question(1, _analysis(1, two_depth)),
            _question(2, _analysis(2, [Finding("depth", "no numbers")])),
            _question(3, _analysis(3, [Finding("pauses", "a 3.0 s pause at 0:10 after 'so'")])),
            _question(4, None),
        ],
    )
    assert report.improvements[0] == "Depth (2 of 3 answers): too short"
    for point in report.improvements:
        shown, total = map(int, re.findall(r"\((\d+) of (\d+) answers\)", point)[0])
        assert shown <= total == 3


def test_scores_are_means_of_answered_questions_and_unanswered_are_named() -> None:
    answered = [_analysis(1, []), _analysis(2, [])]
    report = build_report(
        1, [_question(1, answered[0]), _question(2, None), _question(3, answered[1])]
    )
    assert (report.question_count, report.answered_count) == (3, 2)
    assert report.overall_score == round(sum(a.overall_score for a in answered) / 2)
    assert any("remaining questions (2)" in step for step in report.next_steps)
    assert any("recall" in step and "f1 score" in step for step in report.next_steps)


def test_an_interview_without_answers_has_zero_scores_and_says_what_to_do() -> None:
    report = build_report(1, [_question(1, None), _question(2, None)])
    assert (report.overall_score, report.answered_count) == (0, 0)
    assert report.strengths == []
    assert report.next_steps == ["Answer the remaining questions (1, 2) to complete the interview."]

"""The report's aggregation, on analyses built by the real analysers."""

from __future__ import annotations

from server.domain.analysis.delivery import analyse_delivery
from server.domain.analysis.report import QuestionReport, build_report
from server.domain.analysis.scoring import combine
from server.domain.analysis.types import (
    AnswerAnalysis,
    ContentFeedback,
    Finding,
    Word,
)


def _analysis(
    attempt_id: int, improvements: list[Finding], strengths: list[Finding] | None = None
) -> AnswerAnalysis:
    words = [Word(f"w{i}", i * 0.4, i * 0.4 + 0.3) for i in range(40)]
    delivery = analyse_delivery(words, 20.0)
    content = ContentFeedback(
        score=60, coverage_score=50, relevance_score=70, depth_score=40, skills_score=50,
        covered_concepts=["precision"], missing_concepts=["recall", "f1 score"],
        skills_mentioned=[], star=None, analyzer="offline",
    )  # fmt: skip
    overall, found, _ = combine(delivery, content)
    return AnswerAnalysis(
        attempt_id,
        attempt_id,
        overall,
        delivery,
        content,
        found if strengths is None else strengths,
        improvements,
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
    assert report.improvements[0] == "Depth (2 of 3 answers), e.g. question 1: too short"
    # A point from one answer names it rather than quoting it as the interview's.
    assert report.improvements[1] == "Pauses (question 3): a 3.0 s pause at 0:10 after 'so'"


def test_a_point_quotes_one_answer_and_says_which() -> None:
    """'no fillers in 0:05' is one answer's length: with three answers it is quoted as
    question 1's, and a point shared by every answer says so instead of '3 of 3'."""
    fillers = [Finding("fillers", "no fillers in 0:05")]
    three = build_report(2, [_question(p, _analysis(p, [], strengths=fillers)) for p in (1, 2, 3)])
    assert three.strengths == ["Fillers (all 3 answers), e.g. question 1: no fillers in 0:05"]
    one = build_report(3, [_question(1, _analysis(1, [], strengths=fillers)), _question(2, None)])
    assert one.strengths == ["Fillers: no fillers in 0:05"]  # not "(1 of 1 answers)"


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

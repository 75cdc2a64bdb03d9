"""The offline content analyser: rules, no network, the same verdict every time.

It is the whole analysis when no model is configured, and the fallback of the
OpenAI analyser. The measures are in `measures.py`, the findings in `findings.py`,
the weights in `server/domain/analysis/scoring.py`.
"""

from __future__ import annotations

import asyncio

from server.domain.analysis.content.findings import Findings
from server.domain.analysis.content.measures import (
    concept_covered,
    measure_depth,
    measure_relevance,
    measure_star,
    prepare,
    resume_skills_mentioned,
)
from server.domain.analysis.scoring import (
    BEHAVIORAL,
    NEUTRAL_SKILLS_SCORE,
    RELEVANCE_GATE,
    content_score,
    coverage_score,
    skills_score,
    star_assessment,
    weights_for,
)
from server.domain.analysis.types import ContentFeedback, Finding, QuestionContext
from server.domain.llm_fallback import OFFLINE
from server.domain.resume.taxonomy import Taxonomy, default_taxonomy


class OfflineContentAnalyser:
    """Deterministic content analysis, no network (the rules: `measures.py`, `scoring.py`)."""

    def __init__(self, taxonomy: Taxonomy | None = None) -> None:
        self.taxonomy = taxonomy or default_taxonomy()

    async def analyse(self, question: QuestionContext, transcript: str) -> ContentFeedback:
        # Skill matching runs hundreds of patterns: keep it off the event loop.
        return await asyncio.to_thread(self.analyse_now, question, transcript)

    def analyse_now(self, question: QuestionContext, transcript: str) -> ContentFeedback:
        answer = prepare(transcript)
        behavioral = question.category == BEHAVIORAL
        if not answer.all_words:
            return unheard(question, OFFLINE)
        covered = [c for c in question.concepts if concept_covered(c, answer.content)]
        missing = [c for c in question.concepts if c not in covered]
        relevance = measure_relevance(question, answer)
        coverage = (
            coverage_score(len(covered), len(question.concepts))
            if question.concepts
            else relevance.score
        )
        depth = measure_depth(answer)
        mentioned = resume_skills_mentioned(self.taxonomy, question.candidate_skills, transcript)
        has_skills = bool(question.candidate_skills)
        skills = skills_score(len(mentioned)) if has_skills else NEUTRAL_SKILLS_SCORE
        star = measure_star(answer) if behavioral else None
        score = content_score(
            question.category,
            coverage=coverage,
            relevance=relevance.score,
            depth=depth.score,
            skills=skills,
            star=star.assessment.score if star else None,
        )
        findings = Findings(weights_for(question.category))
        findings.coverage(question, covered, missing, coverage)
        findings.relevance(question, relevance)
        # Depth and structure are no strength in an answer to another question.
        on_topic = relevance.score >= RELEVANCE_GATE
        findings.depth(depth, on_topic=on_topic)
        findings.skills(question, mentioned, skills, self.taxonomy)
        if star is not None:
            findings.structure(star, on_topic=on_topic)
        return ContentFeedback(
            score=score,
            coverage_score=coverage,
            relevance_score=relevance.score,
            depth_score=depth.score,
            skills_score=skills,
            covered_concepts=covered,
            missing_concepts=missing,
            skills_mentioned=mentioned,
            star=star.assessment if star else None,
            analyzer=OFFLINE,
            strengths=findings.strengths(),
            improvements=findings.improvements(),
        )


def unheard(question: QuestionContext, analyzer: str) -> ContentFeedback:
    """The feedback on a transcript without words (no model is asked about it either)."""
    return ContentFeedback(
        score=0,
        coverage_score=0,
        relevance_score=0,
        depth_score=0,
        skills_score=0 if question.candidate_skills else NEUTRAL_SKILLS_SCORE,
        covered_concepts=[],
        missing_concepts=list(question.concepts),
        skills_mentioned=[],
        star=star_assessment(False, False, False, False)
        if question.category == BEHAVIORAL
        else None,
        analyzer=analyzer,
        strengths=[],
        improvements=[Finding("relevance", "no answer was heard: the transcript has no words")],
    )

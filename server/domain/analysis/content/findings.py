"""The strengths and improvements the offline content analyser reports.

Each finding quotes the answer where it can ("covered 'sharding' but not
'rebalancing'"), so a candidate sees what the score rests on.
"""

from __future__ import annotations

import re

from server.domain.analysis.content.measures import (
    IDEAL_WORDS,
    SHALLOW_WORDS,
    TOO_LONG_WORDS,
    Depth,
    Relevance,
    Star,
)
from server.domain.analysis.scoring import RELEVANCE_GATE, STAR_POINTS, Weights
from server.domain.analysis.text import plain_list, quote_list
from server.domain.analysis.types import Finding, QuestionContext
from server.domain.resume.taxonomy import Taxonomy


class Findings:
    """Findings ranked by the points at stake: weight x score (or x points lost)."""

    def __init__(self, weights: Weights) -> None:
        self._weights = weights
        self._strengths: list[tuple[float, Finding]] = []
        self._improvements: list[tuple[float, Finding]] = []

    def strengths(self) -> list[Finding]:
        return [f for _, f in sorted(self._strengths, key=lambda item: -item[0])]

    def improvements(self) -> list[Finding]:
        return [f for _, f in sorted(self._improvements, key=lambda item: -item[0])]

    def _good(self, weight: float, points: float, aspect: str, message: str) -> None:
        self._strengths.append((weight * points, Finding(aspect, message)))

    def _bad(self, weight: float, points_lost: float, aspect: str, message: str) -> None:
        self._improvements.append((weight * points_lost, Finding(aspect, message)))

    def coverage(
        self, question: QuestionContext, covered: list[str], missing: list[str], score: int
    ) -> None:
        w = self._weights.coverage
        total = len(question.concepts)
        if not total:
            return
        if covered and score >= 50:
            share = f"all {total}" if not missing else f"{len(covered)} of {total}"
            self._good(w, score, "coverage", f"covered {share} key concepts: {quote_list(covered)}")
        if missing and covered:
            self._bad(
                w,
                100 - score,
                "coverage",
                f"covered {quote_list(covered, limit=3)} but not {quote_list(missing, 'or', 3)}",
            )
        elif missing:
            self._bad(
                w,
                100 - score,
                "coverage",
                f"none of the key concepts came up: {quote_list(missing, 'or', 4)}",
            )

    def relevance(self, question: QuestionContext, relevance: Relevance) -> None:
        w = self._weights.relevance
        subject = question.topic or "the question"
        if relevance.score >= 70 and relevance.on_topic:
            self._good(
                w,
                relevance.score,
                "relevance",
                f"stays on {subject}: {quote_list(relevance.on_topic[:3])}",
            )
        elif relevance.score < RELEVANCE_GATE:
            about = (
                f"mostly about {quote_list(relevance.off_topic[:3])}, not {subject}"
                if relevance.off_topic
                else f"little of it is about {subject}"
            )
            self._bad(w, 100 - relevance.score, "relevance", f"strays from the question: {about}")

    def depth(self, depth: Depth, *, on_topic: bool) -> None:
        w = self._weights.depth
        lost = 100 - depth.score
        n = depth.word_count
        low, high = IDEAL_WORDS
        if n < SHALLOW_WORDS:
            self._bad(
                w,
                lost + 20,
                "depth",
                f"only {n} word{'s' * (n != 1)}: a full answer runs {low} to {high} words "
                "(1 to 3 minutes)",
            )
        elif n > TOO_LONG_WORDS:
            self._bad(w, lost, "depth", f"{n} words: keep to the essentials ({low} to {high})")
        if not depth.reasons:
            self._bad(
                w,
                lost,
                "depth",
                "no reasoning: say why ('because ...', 'so that ...', the trade-off)",
            )
        if not depth.examples and not depth.numbers:
            self._bad(
                w,
                lost * 0.8,
                "depth",
                "no example or number: ground it in a concrete case ('for example, ...')",
            )
        if on_topic and depth.reasons and (depth.examples or depth.numbers) and n >= SHALLOW_WORDS:
            backing = [f"reasons ({quote_list(depth.reasons[:2])})"]
            if depth.examples:
                backing.append(f"an example ({quote_list(depth.examples[:1])})")
            if depth.numbers:
                backing.append(f"numbers ({quote_list(depth.numbers[:2])})")
            self._good(w, depth.score, "depth", f"backs it up with {plain_list(backing)}")

    def skills(
        self, question: QuestionContext, mentioned: list[str], score: int, taxonomy: Taxonomy
    ) -> None:
        w = self._weights.skills
        if mentioned:
            self._good(w, score, "skills", f"mentioned {plain_list(mentioned)} from your resume")
            return
        if not question.candidate_skills:
            return
        topic = taxonomy.canonical(question.topic) if question.topic else None
        own = {(taxonomy.canonical(s) or s).casefold() for s in question.candidate_skills}
        if topic is not None and topic.casefold() in own:
            self._bad(
                w * 3,
                100,
                "skills",
                f"the question is about {question.topic} from your resume, "
                "but the answer never names it",
            )
        else:
            named = plain_list(list(question.candidate_skills[:3]), "or")
            self._bad(
                w,
                100,
                "skills",
                f"no skill from your resume came up: tie the answer to your work with {named}",
            )

    def structure(self, star: Star, *, on_topic: bool) -> None:
        w = self._weights.star
        evidence = star.evidence
        if on_topic and all(part in evidence for part in STAR_POINTS):
            cited = ", ".join(f"{part} ('{_spoken(evidence[part])}')" for part in STAR_POINTS)
            self._good(w, star.assessment.score, "structure", f"clear STAR structure: {cited}")
        advice = {
            "situation": "no situation: set the scene first (where you were, what was at stake)",
            "task": "no task: say what you had to achieve, and your role",
            "action": "no action: say what you did yourself ('I decided ...', 'I built ...')",
            "result": "no result: say how it turned out, with a number if you can",
        }
        for part, points in STAR_POINTS.items():
            if part not in evidence:
                self._bad(w, points * 3, "structure", advice[part])


def _spoken(cue: str) -> str:
    """A cue as it would be written: "i made" -> "I made"."""
    return re.sub(r"\bi\b", "I", cue)

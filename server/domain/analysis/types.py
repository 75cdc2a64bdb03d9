"""Values of answer analysis. Plain data: no gRPC, no SQL.

They are stored as JSON (`to_json`/`from_json`) and converted to protobuf in
`server/api/converters.py`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Pace(StrEnum):
    NOT_ENOUGH_SPEECH = "not_enough_speech"
    TOO_SLOW = "too_slow"
    GOOD = "good"
    TOO_FAST = "too_fast"


@dataclass(frozen=True)
class Word:
    """A transcribed word: seconds from the start of the recording."""

    text: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True)
class PaceWindow:
    start: float
    end: float
    words_per_minute: float
    pace: Pace


@dataclass(frozen=True)
class Pause:
    start: float
    duration: float
    after_word: str
    before_word: str


@dataclass(frozen=True)
class FillerCount:
    filler: str
    count: int


@dataclass(frozen=True)
class Finding:
    """A short reason that cites evidence from the answer."""

    aspect: (
        str  # pace, pauses, fillers, speaking_time, coverage, relevance, depth, skills, structure
    )
    message: str


@dataclass(frozen=True)
class DeliveryMetrics:
    word_count: int
    words_per_minute: float
    pace: Pace
    pace_windows: list[PaceWindow]
    pause_count: int
    long_pauses: list[Pause]
    longest_pause: float
    filler_count: int
    fillers_per_minute: float
    fillers: list[FillerCount]
    speaking_time: float
    silence_time: float
    speaking_ratio: float
    score: int
    strengths: list[Finding] = field(default_factory=list)
    improvements: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class StarAssessment:
    situation: bool
    task: bool
    action: bool
    result: bool
    score: int


@dataclass(frozen=True)
class ContentFeedback:
    score: int
    coverage_score: int
    relevance_score: int
    depth_score: int
    skills_score: int
    covered_concepts: list[str]
    missing_concepts: list[str]
    skills_mentioned: list[str]
    star: StarAssessment | None
    analyzer: str
    strengths: list[Finding] = field(default_factory=list)
    improvements: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class QuestionContext:
    """What the content analyser judges an answer against."""

    text: str
    topic: str
    category: str  # technical, applied, system_design, behavioral
    concepts: list[str]
    candidate_skills: list[str]


class ContentAnalyser(Protocol):
    """Judges the content of an answer (offline or by a model: `analysis/content/`)."""

    async def analyse(self, question: QuestionContext, transcript: str) -> ContentFeedback: ...


@dataclass(frozen=True)
class AnswerAnalysis:
    question_attempt_id: int
    question_id: int
    overall_score: int
    delivery: DeliveryMetrics
    content: ContentFeedback
    strengths: list[Finding]
    improvements: list[Finding]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnswerAnalysis:
        delivery = dict(data["delivery"])
        delivery["pace"] = Pace(delivery["pace"])
        delivery["pace_windows"] = [
            PaceWindow(**{**w, "pace": Pace(w["pace"])}) for w in delivery["pace_windows"]
        ]
        delivery["long_pauses"] = [Pause(**p) for p in delivery["long_pauses"]]
        delivery["fillers"] = [FillerCount(**f) for f in delivery["fillers"]]
        delivery["strengths"] = [Finding(**f) for f in delivery.get("strengths", [])]
        delivery["improvements"] = [Finding(**f) for f in delivery.get("improvements", [])]
        content = dict(data["content"])
        content["star"] = StarAssessment(**content["star"]) if content.get("star") else None
        content["strengths"] = [Finding(**f) for f in content.get("strengths", [])]
        content["improvements"] = [Finding(**f) for f in content.get("improvements", [])]
        return cls(
            question_attempt_id=data["question_attempt_id"],
            question_id=data["question_id"],
            overall_score=data["overall_score"],
            delivery=DeliveryMetrics(**delivery),
            content=ContentFeedback(**content),
            strengths=[Finding(**f) for f in data["strengths"]],
            improvements=[Finding(**f) for f in data["improvements"]],
        )

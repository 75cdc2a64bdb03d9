"""What the offline content analyser measures in an answer, each 0 to 100.

- coverage: 100 x concepts covered / concepts of the question. A concept is covered
  when its content words (stopwords off, stemmed, see `text.py`) occur within 12
  words of each other in the answer: all of them for one or two words, and for longer
  concepts all but one in three (3 words: 2, 4: 3, 6: 4). A word also matches its
  synonyms (`text.SYNONYM_GROUPS`: "outcome" ~ "result"), and words written together
  or apart meet ("trade-off" ~ "tradeoff", "data set" ~ "dataset"). So "class
  imbalance" is covered by "imbalanced classes". A question without concepts takes
  the relevance score.
- relevance: how much of the question's vocabulary the answer uses and how much of
  the answer is in it. The vocabulary is the content stems of the topic and concepts
  (weight 2, with synonyms) and of the question text (weight 1; words of how a
  question is asked, such as "explain", "describe", are left out).
  recall = weight found / total weight; density = share of the answer's content
  words in the vocabulary;
  relevance = 100 x min(1, 0.6 x min(1, recall / 0.5) + 0.4 x min(1, density / 0.2)).
- depth = 100 x (0.45 length + 0.40 specifics + 0.15 variety), where
  length is 0 to 0.4 up to 40 words, rising to 1 at 120, 1 up to 350, then falling
  to 0.7 at 600 words and beyond; specifics = 0.35 example (any of `EXAMPLE_CUES`)
  + 0.45 x min(1, reasoning cues / 3) (`REASONING_CUES`) + 0.2 x min(1, numbers / 2);
  variety is the moving-average type-token ratio over 40-word windows, 0 at 0.45
  and below, 1 at 0.7 and above.
- skills: resume skills (`QuestionContext.candidate_skills`) the answer names, found
  by the taxonomy matcher so that aliases count ("k8s" is Kubernetes); scored in
  `scoring.skills_score`.
- STAR (behavioral questions only): situation, task, action and result, each present
  when one of its cues is (`cues.STAR_CUES`; action is the first person with a
  past-tense verb, "I decided", "I rolled back"; result also counts a percentage);
  scored in `scoring.star_assessment`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from server.domain.analysis.content import cues
from server.domain.analysis.fillers import find_fillers
from server.domain.analysis.scoring import clamp_score, star_assessment
from server.domain.analysis.text import (
    QUESTION_STOPWORDS,
    StemmedText,
    is_content,
    stem,
    stemmed,
    synonyms,
    words,
)
from server.domain.analysis.types import QuestionContext, StarAssessment
from server.domain.resume.taxonomy import Taxonomy

CONCEPT_WINDOW_WORDS = 12
# Length of a spoken answer, in words (fillers off).
SHALLOW_WORDS = 40
IDEAL_WORDS = (120, 350)
RAMBLING_WORDS = 600
TOO_LONG_WORDS = 450
VARIETY_WINDOW = 40
VARIETY_RANGE = (0.45, 0.70)


@dataclass(frozen=True)
class Answer:
    all_words: list[str]  # normalised, fillers removed
    text: str  # the words joined by single spaces, for cue search
    content: StemmedText
    raw: str


def prepare(transcript: str) -> Answer:
    """The answer as the measures read it: fillers ("um", "you know") dropped first."""
    tokens = transcript.split()
    drop: set[int] = set()
    for hit in find_fillers(tokens):
        drop.update(range(hit.first, hit.last + 1))
    kept = " ".join(token for index, token in enumerate(tokens) if index not in drop)
    all_words = words(kept)
    return Answer(all_words, " ".join(all_words), stemmed(all_words), transcript)


def contains_cue(text: str, cue: str) -> bool:
    return re.search(rf"(?<![\w']){re.escape(cue)}(?![\w'])", text) is not None


def found_cues(text: str, phrases: Sequence[str]) -> list[str]:
    return [cue for cue in phrases if contains_cue(text, cue)]


# --- the measures -------------------------------------------------------------------------


def concept_covered(concept: str, answer: StemmedText) -> bool:
    """Whether `answer` covers `concept` (rule in the module docstring)."""
    concept_words = words(concept)
    content = [w for w in concept_words if is_content(w)] or concept_words
    units = list(dict.fromkeys(stem(w) for w in content))
    if not units:
        return False
    unit_of = {stem(w): units.index(stem(w)) for w in content}
    occurrences: list[tuple[int, int]] = []
    for index, unit in enumerate(units):
        alternatives = synonyms(unit)
        occurrences += [
            (position, index)
            for position, s in zip(answer.positions, answer.stems, strict=True)
            if s in alternatives
        ]
        occurrences += [(position, index) for position in answer.joined.get(unit, [])]
    for first, second in itertools.pairwise(concept_words):
        if not (first.isalpha() and second.isalpha()):
            continue
        covers = {unit_of[stem(w)] for w in (first, second) if stem(w) in unit_of}
        joined = stem(first + second)
        for position in answer.joined.get(joined, []) + [
            p for p, s in zip(answer.positions, answer.stems, strict=True) if s == joined
        ]:
            occurrences += [(position, index) for index in covers]
    needed = len(units) if len(units) <= 2 else len(units) - len(units) // 3
    return _within_window(sorted(occurrences), needed)


def _within_window(occurrences: list[tuple[int, int]], needed: int) -> bool:
    counts: dict[int, int] = {}
    left = 0
    for position, unit in occurrences:
        counts[unit] = counts.get(unit, 0) + 1
        while position - occurrences[left][0] > CONCEPT_WINDOW_WORDS:
            gone = occurrences[left][1]
            counts[gone] -= 1
            if not counts[gone]:
                del counts[gone]
            left += 1
        if len(counts) >= needed:
            return True
    return False


@dataclass(frozen=True)
class Relevance:
    score: int
    on_topic: list[str]  # answer words from the question's vocabulary, most used first
    off_topic: list[str]  # the answer's most used other words


def measure_relevance(question: QuestionContext, answer: Answer) -> Relevance:
    items: list[tuple[frozenset[str], float]] = []
    seen: set[str] = set()
    core_words = words(question.topic) + [w for c in question.concepts for w in words(c)]
    for word in core_words:
        s = stem(word)
        if is_content(word) and s not in seen:
            seen.add(s)
            items.append((synonyms(s), 2.0))
    for word in words(question.text):
        s = stem(word)
        if is_content(word) and word not in QUESTION_STOPWORDS and s not in seen:
            seen.add(s)
            items.append((frozenset({s}), 1.0))
    vocabulary = frozenset().union(*(alternatives for alternatives, _ in items))
    stems = answer.content.stems
    if not items or not stems:
        return Relevance(0, [], [])
    present = set(stems)
    found = sum(weight for alternatives, weight in items if alternatives & present)
    recall = found / sum(weight for _, weight in items)
    in_vocabulary = sum(1 for s in stems if s in vocabulary)
    density = in_vocabulary / len(stems)
    score = 100 * min(1.0, 0.6 * min(1.0, recall / 0.5) + 0.4 * min(1.0, density / 0.2))
    counts: dict[str, int] = {}
    for s in stems:
        counts[s] = counts.get(s, 0) + 1
    ranked = sorted(counts, key=lambda s: -counts[s])
    surface = answer.content.surface
    return Relevance(
        clamp_score(score),
        [surface[s] for s in ranked if s in vocabulary],
        [surface[s] for s in ranked if s not in vocabulary and not s.isdigit()],
    )


@dataclass(frozen=True)
class Depth:
    score: int
    word_count: int
    examples: list[str]
    reasons: list[str]
    numbers: list[str]


def measure_depth(answer: Answer) -> Depth:
    n = len(answer.all_words)
    if n < SHALLOW_WORDS:
        length = 0.4 * n / SHALLOW_WORDS
    elif n < IDEAL_WORDS[0]:
        length = 0.4 + 0.6 * (n - SHALLOW_WORDS) / (IDEAL_WORDS[0] - SHALLOW_WORDS)
    elif n <= IDEAL_WORDS[1]:
        length = 1.0
    else:
        length = 1.0 - 0.3 * min(1.0, (n - IDEAL_WORDS[1]) / (RAMBLING_WORDS - IDEAL_WORDS[1]))
    examples = found_cues(answer.text, cues.EXAMPLE_CUES)
    reasons = found_cues(answer.text, cues.REASONING_CUES)
    numbers = [w for w in answer.all_words if cues.NUMBER.match(w) or w in cues.NUMBER_WORDS]
    specifics = (
        0.35 * bool(examples) + 0.45 * min(1.0, len(reasons) / 3) + 0.2 * min(1.0, len(numbers) / 2)
    )
    low, high = VARIETY_RANGE
    variety = min(1.0, max(0.0, (_mattr(answer.all_words) - low) / (high - low)))
    score = 100 * (0.45 * length + 0.40 * specifics + 0.15 * variety)
    return Depth(clamp_score(score), n, examples, reasons, numbers)


def _mattr(all_words: list[str]) -> float:
    """Moving-average type-token ratio: vocabulary variety that does not fall with length."""
    if not all_words:
        return 0.0
    if len(all_words) <= VARIETY_WINDOW:
        return len(set(all_words)) / len(all_words)
    ratios = [
        len(set(all_words[i : i + VARIETY_WINDOW])) / VARIETY_WINDOW
        for i in range(len(all_words) - VARIETY_WINDOW + 1)
    ]
    return sum(ratios) / len(ratios)


def resume_skills_mentioned(
    taxonomy: Taxonomy, candidate_skills: Sequence[str], transcript: str
) -> list[str]:
    """Candidate skills the transcript names (any alias), in order of first mention."""
    mine: dict[str, str] = {}
    for skill in candidate_skills:
        canonical = taxonomy.canonical(skill) or skill
        mine.setdefault(canonical.casefold(), skill)
    mentioned: list[str] = []
    for mention in taxonomy.mentions(transcript):
        own = mine.get(mention.skill.casefold())
        if own is not None and own not in mentioned:
            mentioned.append(own)
    return mentioned


@dataclass(frozen=True)
class Star:
    assessment: StarAssessment
    evidence: dict[str, str]  # part -> the cue that showed it


def measure_star(answer: Answer) -> Star:
    evidence: dict[str, str] = {}
    for part in ("situation", "task"):
        shown = found_cues(answer.text, cues.STAR_CUES[part])
        if shown:
            evidence[part] = shown[0]
    for match in cues.ACTION.finditer(answer.text):
        verb = match.group(1)
        if verb in cues.ACTION_VERBS or (verb.endswith("ed") and verb not in cues.NOT_ACTIONS):
            evidence["action"] = match.group(0)
            break
    percent = cues.PERCENT.search(answer.raw)
    results = found_cues(answer.text, cues.STAR_CUES["result"])
    if results:
        evidence["result"] = results[0]
    elif percent:
        evidence["result"] = percent.group(0)
    return Star(
        star_assessment(
            "situation" in evidence, "task" in evidence, "action" in evidence, "result" in evidence
        ),
        evidence,
    )

"""Two rubric criteria read from the transcript: concrete examples and terminology."""

from __future__ import annotations

from server.domain.analysis.content import cues
from server.domain.analysis.content.measures import found_cues, prepare
from server.domain.analysis.text import is_content, stem, words

EXAMPLE_POINTS = 60
NUMBER_POINTS = 20
NUMBERS_COUNTED = 2


def examples_score(transcript: str) -> int:
    """60 for a concrete example, 20 for each number up to two."""
    answer = prepare(transcript)
    example = bool(found_cues(answer.text, cues.EXAMPLE_CUES))
    numbers = [w for w in answer.all_words if cues.NUMBER.match(w) or w in cues.NUMBER_WORDS]
    return EXAMPLE_POINTS * example + NUMBER_POINTS * min(NUMBERS_COUNTED, len(numbers))


def terminology_score(transcript: str, concepts: list[str]) -> int:
    """The share of the concepts' content words (stemmed) that the answer uses."""
    vocabulary = {stem(w) for concept in concepts for w in words(concept) if is_content(w)}
    if not vocabulary:
        return 0
    used = set(prepare(transcript).content.stems)
    return round(100 * len(vocabulary & used) / len(vocabulary))

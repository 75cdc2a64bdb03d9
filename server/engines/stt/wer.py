"""Word error rate, to measure transcripts against what was really said.

WER = (substitutions + deletions + insertions) / words in the reference, by
word-level Levenshtein distance after normalising both texts the same way:
lower case, punctuation and hyphens as spaces, so that "long-fresh" and
"long fresh" or "Next.js" and "next js" are the same words. Spelling still
counts: "sicket learn" for "scikit-learn" is one error in two words.
"""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[^\w']+")
FILLER_WORDS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "mm"})


def normalise_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    words = (word.strip("'") for word in _NOT_WORD.sub(" ", folded).split())
    return [word for word in words if word]


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Fewest word substitutions, deletions and insertions turning one list into the other."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(
                min(
                    previous[j] + 1,  # the reference word was dropped
                    current[j - 1] + 1,  # an extra word was heard
                    previous[j - 1] + (ref_word != hyp_word),  # kept or misheard
                )
            )
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref_words = normalise_words(reference)
    if not ref_words:
        raise ValueError("the reference has no words")
    return edit_distance(ref_words, normalise_words(hypothesis)) / len(ref_words)


def count_fillers(text: str) -> int:
    return sum(word in FILLER_WORDS for word in normalise_words(text))

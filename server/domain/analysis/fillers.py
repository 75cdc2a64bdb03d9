"""Filler words and phrases in a spoken answer.

Tokens are words as Whisper writes them ("Umm,", "uh...", "like,"): each is
normalised (lower case, punctuation off, as `server.engines.stt.wer.normalise_words`)
but the punctuation after it is kept, because it tells a filler from a word.

What counts, reported under a canonical name:

- hesitation sounds, whatever their length or punctuation: "um" (also "umm", "uhm",
  "ummm"), "uh" ("uhh"), "er", "erm", "ah", "hmm" ("hm", "hmmm"), "mm";
- "basically", "actually", "literally": always;
- "you know": when "know" is followed by punctuation ("you know, we..."), or the
  phrase starts a clause (see below) and is not followed by an object ("you know
  the answer", "you know how"); never after "do", "if", "what", "how", "would" ...
  ("do you know?", "if you know the schema");
- "I mean": unless after "what", "do", "if" ... ("what I mean is") or followed by an
  object without a pause ("I mean the average", "I mean to say");
- "kind of", "sort of": unless after a determiner or quantifier ("what kind of
  model", "a sort of cache", "this kind of problem");
- "like", only as a filler, when one of:
  1. it is followed by punctuation ("like,", "like...") and is not a verb or a
     comparison: not right after "I", "we", "you", "they", "would", "don't", "to",
     "looks", "sounds", "feel", "something", "just" ... ("the ones I like, ...");
  2. it starts a clause: first word, after a full stop, question or exclamation
     mark, after another filler ("um like"), or after "and", "but", "so", "or",
     "because", "then";
  3. it follows a comma and the next word is not capitalised ("it was, like
     slow"); a capitalised word after it is an example ("tools, like Kafka").
  So "I like Python", "looks like a queue" and "languages like Go" are not fillers.
  Limits: "tools, like message queues" counts; quotative "he was like" does not.

A clause starts at the first word, after punctuation, after a filler, or after
"and", "but", "so", "or", "because", "then".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from server.domain.analysis.text import word_set
from server.engines.stt.wer import FILLER_WORDS, normalise_words

_SOUND_NAMES = {"umm": "um", "uhm": "um", "uhh": "uh", "hm": "hmm", "ahh": "ah"}
_SOUNDS = frozenset(FILLER_WORDS) | frozenset(_SOUND_NAMES)
_ALWAYS = frozenset({"basically", "actually", "literally"})
_ELONGATED = re.compile(r"(.)\1{2,}")

_CONJUNCTIONS = frozenset({"and", "but", "so", "or", "because", "cause", "then"})
_SENTENCE_END = frozenset(".?!")
_PAUSE_MARKS = frozenset(",;:…—–-")

_YOU_KNOW_NOT_AFTER = word_set(
    "do did does don't didn't doesn't if whether what how as would could should will might "
    "can may that to who whatever"
)
_YOU_KNOW_OBJECTS = word_set(
    "that the what how why when where which who whom whether if about a an this these those "
    "it him her them me us everything anything something"
)
_I_MEAN_NOT_AFTER = word_set("what do did don't didn't if")
_I_MEAN_OBJECTS = word_set("to by that it the what this a an is was something anything")
_DETERMINERS = word_set(
    "a an the this that these those what which any some every each one same different other "
    "another all no many several various certain particular specific right wrong new my our "
    "your their his her its first second last only whatever"
)
# Before "like", these make it a verb ("I like") or a comparison ("looks like").
_LIKE_NOT_AFTER = word_set(
    "i we you they he she who would i'd we'd you'd they'd he'd she'd don't didn't doesn't do "
    "does did to really also just not look looks looked looking sound sounds sounded seem "
    "seems seemed feel feels felt something anything nothing everything things stuff exactly "
    "more less much lot lots alike unlike"
)


@dataclass(frozen=True)
class FillerHit:
    """A filler: its canonical name and the tokens it spans (inclusive)."""

    filler: str
    first: int
    last: int


@dataclass(frozen=True)
class _Unit:
    word: str
    token: int
    after: str  # punctuation that follows the word ("" inside a token such as "well-known")
    capitalised: bool


def _units(tokens: Sequence[str]) -> list[_Unit]:
    units: list[_Unit] = []
    for index, token in enumerate(tokens):
        parts = normalise_words(token)
        if not parts:
            # A token of punctuation only ("," or "..."): it follows the previous word.
            if units:
                last = units[-1]
                after = last.after + token.strip()
                units[-1] = _Unit(last.word, last.token, after, last.capitalised)
            continue
        stripped = token.strip()
        trailing = stripped[len(stripped.rstrip(".,;:!?…—–-\"')]")) :]
        first_letter = next((c for c in stripped if c.isalpha()), "")
        for position, part in enumerate(parts):
            last_part = position == len(parts) - 1
            units.append(
                _Unit(
                    part,
                    index,
                    trailing.replace("'", "").replace('"', "") if last_part else "",
                    position == 0 and first_letter.isupper(),
                )
            )
    return units


def sound_name(word: str) -> str | None:
    """The canonical name of a hesitation sound ("Ummm" -> "um"), or None."""
    collapsed = _ELONGATED.sub(r"\1\1", word.lower())
    if collapsed not in _SOUNDS:
        return None
    return _SOUND_NAMES.get(collapsed, collapsed)


def find_fillers(tokens: Sequence[str]) -> list[FillerHit]:
    """Fillers among `tokens` (words as transcribed, punctuation attached), in order."""
    units = _units(tokens)
    hits: list[FillerHit] = []
    filler_ends: set[int] = set()  # unit indices where a filler ends
    i = 0
    while i < len(units):
        found = _filler_at(units, i, filler_ends)
        if found is None:
            i += 1
            continue
        name, length = found
        hits.append(FillerHit(name, units[i].token, units[i + length - 1].token))
        filler_ends.add(i + length - 1)
        i += length
    return hits


def _filler_at(units: list[_Unit], i: int, filler_ends: set[int]) -> tuple[str, int] | None:
    word = units[i].word
    sound = sound_name(word)
    if sound is not None:
        return sound, 1
    if word in _ALWAYS:
        return word, 1
    nxt = units[i + 1] if i + 1 < len(units) else None
    if word == "like":
        return ("like", 1) if _like_is_filler(units, i, filler_ends) else None
    if nxt is None or units[i].after:
        return None  # the phrases below need two words with no pause between them
    pair = (word, nxt.word)
    after_phrase = units[i + 2] if i + 2 < len(units) else None
    tight_before = _previous_word_without_pause(units, i)
    if pair == ("you", "know"):
        if tight_before in _YOU_KNOW_NOT_AFTER:
            return None
        if nxt.after or after_phrase is None:
            return "you know", 2
        if _clause_start(units, i, filler_ends) and after_phrase.word not in _YOU_KNOW_OBJECTS:
            return "you know", 2
        return None
    if pair == ("i", "mean"):
        if tight_before in _I_MEAN_NOT_AFTER:
            return None
        if nxt.after or after_phrase is None or after_phrase.word not in _I_MEAN_OBJECTS:
            return "I mean", 2
        return None
    if pair in (("kind", "of"), ("sort", "of")):
        if tight_before in _DETERMINERS:
            return None
        return f"{word} of", 2
    return None


def _previous_word_without_pause(units: list[_Unit], i: int) -> str | None:
    """The word before unit i when nothing (no punctuation) separates them."""
    if i == 0 or units[i - 1].after:
        return None
    return units[i - 1].word


def _clause_start(units: list[_Unit], i: int, filler_ends: set[int]) -> bool:
    if i == 0:
        return True
    previous = units[i - 1]
    return bool(previous.after) or (i - 1) in filler_ends or previous.word in _CONJUNCTIONS


def _like_is_filler(units: list[_Unit], i: int, filler_ends: set[int]) -> bool:
    unit = units[i]
    tight_before = _previous_word_without_pause(units, i)
    nxt = units[i + 1] if i + 1 < len(units) else None
    # 1. followed by a pause mark, and not a verb or a comparison
    if any(mark in unit.after for mark in _PAUSE_MARKS) or "..." in unit.after:
        return tight_before not in _LIKE_NOT_AFTER
    if i == 0:
        return True
    previous = units[i - 1]
    # 2. at the start of a clause
    if (
        any(mark in previous.after for mark in _SENTENCE_END)
        or (i - 1) in filler_ends
        or (tight_before in _CONJUNCTIONS)
    ):
        return True
    # 3. after a comma, unless an example follows ("tools, like Kafka")
    if any(mark in previous.after for mark in _PAUSE_MARKS):
        return nxt is None or not nxt.capitalised or nxt.word == "i"
    return False


def count_by_name(hits: Sequence[FillerHit]) -> list[tuple[str, int]]:
    """(filler, count), most frequent first, then in order of first use."""
    counts: dict[str, int] = {}
    for hit in hits:
        counts[hit.filler] = counts.get(hit.filler, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])

"""The curated skills taxonomy (server/data/skills.json) and matching text against it.

Each skill has a canonical name and the spellings that mean it:

- `aliases` (and the name itself, unless listed below) match whatever the case:
  "sklearn" and "Scikit Learn" are scikit-learn, "k8s" is Kubernetes;
- `case_sensitive` spellings only match as written: "React" is the library,
  "react to incidents" is not;
- `guarded` spellings are ordinary words or names as well ("Go", "R", "Swift",
  "Ruby"): they match as written, and only where a list or a sentence about
  technology puts them (see `guarded.py`), so "go-to-market",
  "Karthik R" or "Ruby Chen" are not skills.

`implies` names more general skills that a skill entails (Django implies Python);
the knowledge set adds them after the skills found in the text.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from server.domain.resume.guarded import CORROBORATION_CHARS, context_window, reads_as_skill

# Words that make a hyphenated compound still mean the skill: "Java-based".
_COMPOUND_SUFFIXES = (
    "based|powered|native|driven|first|centric|related|specific|compatible|heavy|only|"
    "focused|friendly|backed|hosted|enabled|certified"
)
# A spelling must not be glued to a neighbouring word: "Go" is not in "go-to-market",
# "R" is not in "R&D", "C" is not in "C++" or "Objective-C". Hyphenated compounds
# with these words still mean the skill: "Java-based".
_COMPOUND_SUFFIX_WORDS = frozenset(_COMPOUND_SUFFIXES.split("|"))
_LONGEST_SUFFIX = max(map(len, _COMPOUND_SUFFIX_WORDS))

# Text is matched as a sequence of atoms: runs of word characters and single
# punctuation marks. Whitespace and hyphens only separate atoms; a spelling's words
# may be separated by any run of them ("scikit learn", "machine\nlearning"), the
# atoms inside one word of a spelling must touch ("Node.js", "C++", "CI/CD").
_ATOM = re.compile(r"\w+|[^\w\s-]")
_WORD_CHAR = re.compile(r"\w")
_TOUCHING = "~"  # key prefix: this atom touches the previous one
_APART = " "  # key prefix: whitespace or hyphens come between
_WORD_RUN = re.compile(r"\w+")
# Longer "skills" a model might answer are not looked up.
_MAX_TERM_CHARS = 200

# Links, e-mail addresses and bare domains name no skills ("https", "github.com").
# Each pattern starts only where a run of its characters starts and gives back at
# most one character per segment, so each is linear in the text whatever its shape.
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MAYBE_EMAIL = re.compile(r"(?<!\S)\S*@\S*")
_DOMAIN = re.compile(
    r"(?<![\w.-])(?:[a-z0-9-]++\.)+(?:com|org|dev|ai|me|in|co|app|info|xyz|tech)\b(?:/\S*+)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Skill:
    name: str
    category: str
    implies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mention:
    """One occurrence of a skill in a text."""

    skill: str
    start: int
    end: int
    guarded: bool


@dataclass(frozen=True)
class _Spelling:
    skill: str
    guarded: bool


class WorkCounter:
    """Counts the steps matching takes, so that tests can bound the work per character.

    A step is one character read by a linear scan, one atom or trie edge visited,
    one character of a guarded spelling's context window, or one comparison while
    looking for a corroborating mention.
    """

    def __init__(self) -> None:
        self.steps = 0


class _Node:
    """One node of a trie of spellings, keyed by atoms (see `_spelling_keys`)."""

    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.value: _Spelling | None = None


class Taxonomy:
    def __init__(self, entries: Iterable[dict[str, Any]]) -> None:
        self.skills: dict[str, Skill] = {}
        self._lookup: dict[str, str] = {}  # any normalised spelling -> canonical name
        self._loose = _Node()  # case-insensitive spellings, keyed in lower case
        self._exact = _Node()  # spellings that only match as written
        self._depth = 0  # atoms in the longest spelling
        for entry in entries:
            name = entry["name"]
            if name in self.skills:
                raise ValueError(f"skill {name!r} is listed twice")
            self.skills[name] = Skill(name, entry["category"], tuple(entry.get("implies", ())))
            case_sensitive = list(entry.get("case_sensitive", ()))
            guarded = list(entry.get("guarded", ()))
            written = set(case_sensitive) | set(guarded)
            for spelling in [name, *entry.get("aliases", ())]:
                if spelling not in written:
                    self._add(self._loose, spelling.lower(), _Spelling(name, guarded=False))
            for spelling in case_sensitive:
                self._add(self._exact, spelling, _Spelling(name, guarded=False), replace=True)
            for spelling in guarded:
                self._add(self._exact, spelling, _Spelling(name, guarded=True), replace=True)
            for spelling in [name, *entry.get("aliases", ()), *written]:
                self._lookup.setdefault(_normalise(spelling), name)
        for skill in self.skills.values():
            for target in skill.implies:
                if target not in self.skills:
                    raise ValueError(f"{skill.name} implies unknown skill {target!r}")

    def _add(self, trie: _Node, spelling: str, value: _Spelling, *, replace: bool = False) -> None:
        keys = _spelling_keys(spelling)
        if not keys:
            return
        node = trie
        for key in keys:
            node = node.children.setdefault(key, _Node())
        if node.value is None or replace:
            node.value = value
        self._depth = max(self._depth, len(keys))

    @classmethod
    def from_json(cls, text: str) -> Taxonomy:
        return cls(json.loads(text)["skills"])

    def canonical(self, term: str) -> str | None:
        """The canonical name of one skill as someone might write it, or None."""
        if len(term) > _MAX_TERM_CHARS:
            return None
        key = _normalise(term)
        if key in self._lookup:
            return self._lookup[key]
        without_version = re.sub(r"\s*v?\d+(?:\.\d+)*\+?$", "", key)
        if without_version in self._lookup:
            return self._lookup[without_version]
        # "Amazon Web Services (AWS)": the first skill named inside it.
        found = self.mentions(term)
        return found[0].skill if found else None

    def mentions(self, text: str, counter: WorkCounter | None = None) -> list[Mention]:
        """Every mention of a known skill in `text`, in order, overlaps resolved.

        Linear in the text whatever its shape: one pass blanks links and addresses,
        one tokenises, each atom starts at most two trie walks of bounded depth, and
        a guarded spelling's context is read from a bounded window around it.
        """
        counter = counter if counter is not None else WorkCounter()
        prose = _prose(text, counter)
        atoms = [(m.start(), m.end(), m.group()) for m in _ATOM.finditer(prose)]
        counter.steps += len(prose) + len(atoms)
        candidates: list[Mention] = []
        loose_starts, exact_starts = self._loose.children, self._exact.children
        for index, (start, _, atom) in enumerate(atoms):
            # Most words start no spelling: two dict lookups rule them out before
            # any context is read (a walk from them would visit no node).
            if atom.lower() not in loose_starts and atom not in exact_starts:
                continue
            if not _free_on_left(prose, start):
                continue
            loose = _walk(self._loose, atoms, index, prose, fold=True, counter=counter)
            if loose is not None:
                candidates.append(Mention(loose[0].skill, start, loose[1], guarded=False))
            exact = _walk(self._exact, atoms, index, prose, fold=False, counter=counter)
            if exact is not None:
                spelling, end = exact
                if not spelling.guarded or _guarded_in_context(prose, start, end, counter):
                    candidates.append(Mention(spelling.skill, start, end, spelling.guarded))
        kept = _without_overlaps(candidates)
        return _corroborated(kept, counter)

    def rank(self, text: str, limit: int, counter: WorkCounter | None = None) -> list[str]:
        """Skills named in `text`, most mentioned first, then in order of appearance."""
        counts: dict[str, int] = {}
        for mention in self.mentions(text, counter):
            counts[mention.skill] = counts.get(mention.skill, 0) + 1
        # dicts keep insertion order, so equal counts stay in order of first mention.
        ranked = sorted(counts, key=lambda skill: -counts[skill])
        return ranked[:limit]

    def with_implied(self, skills: Sequence[str]) -> list[str]:
        """`skills`, then the more general skills they imply (transitively), once each."""
        result = list(dict.fromkeys(skills))
        seen = set(result)
        queue = list(result)
        while queue:
            skill = self.skills.get(queue.pop(0))
            for target in skill.implies if skill else ():
                if target not in seen:
                    seen.add(target)
                    result.append(target)
                    queue.append(target)
        return result


def _normalise(term: str) -> str:
    return re.sub(r"[\s\-_]+", " ", term.strip().lower())


def _spelling_keys(spelling: str) -> list[str]:
    """Trie keys of a spelling: its atoms, each but the first prefixed with whether it
    touches the atom before (inside one word) or comes after a separator."""
    keys: list[str] = []
    for word in re.split(r"[\s\-]+", spelling.strip()):
        for position, atom in enumerate(_ATOM.findall(word)):
            if not keys:
                keys.append(atom)
            else:
                keys.append((_TOUCHING if position else _APART) + atom)
    return keys


def _walk(
    trie: _Node,
    atoms: list[tuple[int, int, str]],
    index: int,
    text: str,
    *,
    fold: bool,
    counter: WorkCounter,
) -> tuple[_Spelling, int] | None:
    """The longest spelling starting at atom `index` that is not glued on the right."""
    best: tuple[_Spelling, int] | None = None
    atom = atoms[index][2]
    node = trie.children.get(atom.lower() if fold else atom)
    while node is not None:
        counter.steps += 1
        end = atoms[index][1]
        if node.value is not None and _free_on_right(text, end, fold=fold):
            best = (node.value, end)
        index += 1
        if index == len(atoms) or not node.children:
            break
        start, _, atom = atoms[index]
        key = (_TOUCHING if start == end else _APART) + (atom.lower() if fold else atom)
        node = node.children.get(key)
    return best


def _is_word(char: str) -> bool:
    return _WORD_CHAR.match(char) is not None


def _free_on_left(text: str, start: int) -> bool:
    """Not glued to what precedes: no word, "$" or "@" right before, nor "x-", "x." ..."""
    if start == 0:
        return True
    before = text[start - 1]
    if before in "$@" or _is_word(before):
        return False
    return not (start >= 2 and before in "-.&'’" and _is_word(text[start - 2]))


def _free_on_right(text: str, end: int, *, fold: bool) -> bool:
    """Not glued to what follows, unless by a compound suffix: "Java-based"."""
    if end == len(text):
        return True
    after = text[end]
    if after in "+#" or _is_word(after):
        return False
    if after not in "-.&" or end + 1 == len(text) or not _is_word(text[end + 1]):
        return True
    if after != "-":
        return False
    # Read one character more than the longest suffix: a longer word is none of them.
    word = _WORD_RUN.match(text, end + 1, end + 2 + _LONGEST_SUFFIX)
    suffix = word.group() if word else ""
    return (suffix.lower() if fold else suffix) in _COMPOUND_SUFFIX_WORDS


def _prose(text: str, counter: WorkCounter) -> str:
    """`text` with links, e-mail addresses and bare domains blanked out.

    Where they overlap, the leftmost wins, then a link over an address over a domain."""
    found = [(m.start(), 0, m.end()) for m in _URL.finditer(text)]
    for chunk in _MAYBE_EMAIL.finditer(text):
        if length := _email_length(chunk.group()):
            found.append((chunk.start(), 1, chunk.start() + length))
    found.extend((m.start(), 2, m.end()) for m in _DOMAIN.finditer(text))
    counter.steps += 3 * len(text)
    if not found:
        return text
    pieces: list[str] = []
    position = 0
    for start, _, end in sorted(found):
        if start < position:
            continue
        pieces.append(text[position:start])
        pieces.append(" " * (end - start))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _email_length(chunk: str) -> int:
    """How much of a whitespace-free chunk is an e-mail address ("x@y.z"), from its
    start: up to the word after the last dot that follows an "@" by two or more."""
    at = chunk.find("@", 1)
    if at < 0:
        return 0
    dot = len(chunk)
    while (dot := chunk.rfind(".", at + 2, dot)) >= 0:
        word = _WORD_RUN.match(chunk, dot + 1)
        if word is not None:
            return word.end()
    return 0


def _guarded_in_context(text: str, start: int, end: int, counter: WorkCounter) -> bool:
    """Whether a list or a technical phrase surrounds a guarded spelling on its line."""
    before, after = context_window(text, start, end)
    counter.steps += len(before) + len(after)
    return reads_as_skill(before, after, single_letter=end - start == 1)


def _without_overlaps(candidates: list[Mention]) -> list[Mention]:
    kept: list[Mention] = []
    for mention in sorted(candidates, key=lambda m: (m.start, -(m.end - m.start))):
        if not kept or mention.start >= kept[-1].end:
            kept.append(mention)
    return kept


def _corroborated(kept: list[Mention], counter: WorkCounter) -> list[Mention]:
    """`kept` without guarded mentions that lack another skill, not guarded, close by.

    Mentions do not overlap, so at most 2 * CORROBORATION_CHARS + 1 of them start
    within reach of any one: the search around each is bounded."""
    plain = [m for m in kept if not m.guarded]
    starts = [m.start for m in plain]
    result: list[Mention] = []
    for mention in kept:
        if not mention.guarded:
            result.append(mention)
            continue
        index = bisect_left(starts, mention.start - CORROBORATION_CHARS)
        while index < len(plain) and plain[index].start <= mention.start + CORROBORATION_CHARS:
            counter.steps += 1
            if plain[index].skill != mention.skill:
                result.append(mention)
                break
            index += 1
    return result


@cache
def default_taxonomy() -> Taxonomy:
    """The taxonomy shipped with Samvaad, read once per process."""
    data = resources.files("server").joinpath("data", "skills.json").read_text("utf-8")
    return Taxonomy.from_json(data)

"""The curated skills taxonomy (server/data/skills.json) and matching text against it.

Each skill has a canonical name and the spellings that mean it:

- `aliases` (and the name itself, unless listed below) match whatever the case:
  "sklearn" and "Scikit Learn" are scikit-learn, "k8s" is Kubernetes;
- `case_sensitive` spellings only match as written: "React" is the library,
  "react to incidents" is not;
- `guarded` spellings are ordinary words or names as well ("Go", "R", "Swift",
  "Ruby"): they match as written, and only where a list or a sentence about
  technology puts them (see `_guarded_in_context`), so "go-to-market",
  "Karthik R" or "Ruby Chen" are not skills.

`implies` names more general skills that a skill entails (Django implies Python);
the knowledge set adds them after the skills found in the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

# Words that make a hyphenated compound still mean the skill: "Java-based".
_COMPOUND_SUFFIXES = (
    "based|powered|native|driven|first|centric|related|specific|compatible|heavy|only|"
    "focused|friendly|backed|hosted|enabled|certified"
)
# A spelling must not be glued to a neighbouring word: "Go" is not in "go-to-market",
# "R" is not in "R&D", "C" is not in "C++" or "Objective-C".
_LEFT = r"(?<![\w$@])(?<!\w[-.&'’])"
_RIGHT = rf"(?![\w+#])(?:(?![-.&]\w)|(?=-(?:{_COMPOUND_SUFFIXES})\b))"
_SEPARATOR = r"[\s\-]+"

# Links, e-mail addresses and bare domains name no skills ("https", "github.com").
_NOT_PROSE = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\S+@\S+\.\w+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|org|dev|ai|me|in|co|app|info|xyz|tech)\b(?:/\S*)?",
    re.IGNORECASE,
)

# Around a guarded spelling: what may come before and after it on its line.
_LIST_BEFORE = tuple(",/|;:(•·*–—-&+[>.!?")  # a full stop: a new sentence begins
_LIST_AFTER = tuple(",/|;:)(•·&+]")
_WORDS_BEFORE = frozenset(
    {
        "in",
        "with",
        "using",
        "and",
        "or",
        "including",
        "like",
        "of",
        "plus",
        "via",
        "also",
        "on",
    }
)
_WORDS_AFTER = frozenset(
    {
        "and",
        "or",
        "programming",
        "programmer",
        "developer",
        "developers",
        "development",
        "language",
        "code",
        "services",
        "microservices",
        "applications",
        "apps",
        "scripts",
        "scripting",
        "backend",
        "backends",
        "stack",
        "ecosystem",
        "modules",
        "libraries",
        "tooling",
        "tools",
        "sdk",
        "api",
        "apis",
        "runtime",
        "engineer",
        "engineers",
        "projects",
    }
)
_PLACE_AFTER = re.compile(r",\s*[A-Z]{2}\b")  # "Phoenix, AZ" is a city
# A guarded spelling also needs another skill this close by.
_CORROBORATION_CHARS = 150


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


class Taxonomy:
    def __init__(self, entries: Iterable[dict[str, Any]]) -> None:
        self.skills: dict[str, Skill] = {}
        self._lookup: dict[str, str] = {}  # any normalised spelling -> canonical name
        loose: dict[str, str] = {}  # normalised case-insensitive spelling -> name
        exact: dict[str, _Spelling] = {}  # spelling as written -> name
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
                    loose.setdefault(_normalise(spelling), name)
            for spelling in case_sensitive:
                exact[spelling] = _Spelling(name, guarded=False)
            for spelling in guarded:
                exact[spelling] = _Spelling(name, guarded=True)
            for spelling in [name, *entry.get("aliases", ()), *written]:
                self._lookup.setdefault(_normalise(spelling), name)
        for skill in self.skills.values():
            for target in skill.implies:
                if target not in self.skills:
                    raise ValueError(f"{skill.name} implies unknown skill {target!r}")
        self._loose_names = loose
        self._exact_spellings = exact
        self._loose = _alternation(loose, re.IGNORECASE)
        self._exact = _alternation(exact, 0)

    @classmethod
    def from_json(cls, text: str) -> Taxonomy:
        return cls(json.loads(text)["skills"])

    def canonical(self, term: str) -> str | None:
        """The canonical name of one skill as someone might write it, or None."""
        key = _normalise(term)
        if key in self._lookup:
            return self._lookup[key]
        without_version = re.sub(r"\s*v?\d+(?:\.\d+)*\+?$", "", key)
        if without_version in self._lookup:
            return self._lookup[without_version]
        # "Amazon Web Services (AWS)": the first skill named inside it.
        found = self.mentions(term)
        return found[0].skill if found else None

    def mentions(self, text: str) -> list[Mention]:
        """Every mention of a known skill in `text`, in order, overlaps resolved."""
        prose = _NOT_PROSE.sub(lambda m: " " * len(m.group()), text)
        # The pattern allows any spacing or hyphenation inside a spelling
        # ("scikit learn", "machine\nlearning"), so matches are looked up normalised.
        candidates = [
            Mention(self._loose_names[_normalise(m.group())], m.start(), m.end(), guarded=False)
            for m in self._loose.finditer(prose)
        ]
        for m in self._exact.finditer(prose):
            spelling = self._exact_spellings[m.group()]
            if not spelling.guarded or _guarded_in_context(prose, m.start(), m.end()):
                candidates.append(Mention(spelling.skill, m.start(), m.end(), spelling.guarded))
        kept = _without_overlaps(candidates)
        return [m for m in kept if not m.guarded or _corroborated(m, kept)]

    def rank(self, text: str, limit: int) -> list[str]:
        """Skills named in `text`, most mentioned first, then in order of appearance."""
        counts: dict[str, int] = {}
        for mention in self.mentions(text):
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


def _alternation(spellings: Iterable[str], flags: int) -> re.Pattern[str]:
    # Longest first, so "React Native" wins over "React" at the same place.
    ordered = sorted(set(spellings), key=len, reverse=True)
    body = "|".join(_pattern(spelling) for spelling in ordered)
    return re.compile(f"{_LEFT}(?:{body}){_RIGHT}", flags)


def _pattern(spelling: str) -> str:
    words = re.split(r"[\s\-]+", spelling.strip())
    return _SEPARATOR.join(re.escape(word) for word in words)


def _guarded_in_context(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    before = text[line_start:start].rstrip()
    after = text[end : len(text) if line_end < 0 else line_end].lstrip()
    return _fits_before(before) and _fits_after(after, single_letter=end - start == 1)


def _fits_before(before: str) -> bool:
    if not before or before.endswith(_LIST_BEFORE):
        return True
    last_word = before.rsplit(None, 1)[-1].lower()
    return last_word in _WORDS_BEFORE


def _fits_after(after: str, *, single_letter: bool) -> bool:
    if not after or after.startswith("-"):  # "-" here can only be an allowed compound
        return True
    if _PLACE_AFTER.match(after):
        return False
    if after.startswith(_LIST_AFTER):
        return True
    # A full stop ends a sentence ("written in Go."), unless the spelling is one
    # letter: then it is an initial ("R. Sharma").
    if after[0] in ".!?" and not single_letter:
        return len(after) == 1 or after[1].isspace()
    first_word = re.split(r"[^\w]+", after.lower(), maxsplit=1)[0]
    return first_word in _WORDS_AFTER


def _without_overlaps(candidates: list[Mention]) -> list[Mention]:
    kept: list[Mention] = []
    for mention in sorted(candidates, key=lambda m: (m.start, -(m.end - m.start))):
        if not kept or mention.start >= kept[-1].end:
            kept.append(mention)
    return kept


def _corroborated(mention: Mention, mentions: list[Mention]) -> bool:
    return any(
        not other.guarded
        and other.skill != mention.skill
        and abs(other.start - mention.start) <= _CORROBORATION_CHARS
        for other in mentions
    )


@cache
def default_taxonomy() -> Taxonomy:
    """The taxonomy shipped with Samvaad, read once per process."""
    data = resources.files("server").joinpath("data", "skills.json").read_text("utf-8")
    return Taxonomy.from_json(data)

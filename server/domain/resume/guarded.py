"""When a guarded spelling is a skill: the words and marks around it.

Guarded spellings are ordinary words or names as well ("Go", "R", "Swift",
"Ruby"). One counts only where a list or a sentence about technology puts it,
on its own line: after a list mark or "in", "with", "using" ...; before a list
mark, a full stop, or "programming", "developer", "services" ... So "go-to-market",
"Karthik R" and "Ruby Chen" are no skills, "Python, Go, Rust" and "written in Go."
are. The taxonomy also wants another skill nearby (`CORROBORATION_CHARS`).
"""

from __future__ import annotations

import re

# Context of a guarded spelling is read from this many characters on each side.
CONTEXT_WINDOW = 64
# Stands for a cut-off word at the edge of the window: a word character no
# listed word contains, so a cut-off word matches nothing.
CUT = "_"

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
CORROBORATION_CHARS = 150


def context_window(text: str, start: int, end: int) -> tuple[str, str]:
    """The line around text[start:end], at most CONTEXT_WINDOW characters each side;
    a side cut short ends in CUT, so a cut-off word matches nothing."""
    low = max(0, start - CONTEXT_WINDOW)
    before = text[low:start]
    if (newline := before.rfind("\n")) >= 0:
        before = before[newline + 1 :]
    elif low > 0:
        before = CUT + before
    high = end + CONTEXT_WINDOW
    after = text[end:high]
    if (newline := after.find("\n")) >= 0:
        after = after[:newline]
    elif high < len(text):
        after += CUT
    return before, after


def reads_as_skill(before: str, after: str, *, single_letter: bool) -> bool:
    """Whether a list or a technical phrase surrounds a guarded spelling."""
    return _fits_before(before.rstrip()) and _fits_after(
        after.lstrip(), single_letter=single_letter
    )


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

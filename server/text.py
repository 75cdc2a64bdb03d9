"""Client-sent display strings (file names, labels) made safe to store and show.

The same rules as the identity-string profiles of `server.domain.validation`
(RFC 8265 PRECIS): nothing invisible or unencodable survives. Shared by every layer
that takes such a string (resumes, audio uploads), so they are cleaned one way.
"""

from __future__ import annotations

import re
import unicodedata

ZWNJ, ZWJ = "\u200c", "\u200d"
# Categories never allowed in an identity or display string: controls, format
# characters (bidi overrides and isolates, zero-width spaces, BOM, ...), private use,
# surrogates (lone ones cannot be encoded) and unassigned code points.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_RUNS_OF_SPACE = re.compile(r"\s+")
# Only this many times the limit is looked at: a message may carry megabytes.
RAW_SLACK = 4


def joiner_allowed(text: str, index: int) -> bool:
    """RFC 5892's CONTEXTJ rules, simplified: ZWJ/ZWNJ after a virama (Indic conjuncts
    and half forms), and ZWNJ between two letters (Persian and other joining scripts)."""
    if index == 0:
        return False
    if unicodedata.combining(text[index - 1]) == 9:  # Virama
        return True
    if text[index] != ZWNJ or index == len(text) - 1:
        return False
    before, after = unicodedata.category(text[index - 1]), unicodedata.category(text[index + 1])
    return before[0] in "LM" and after[0] in "LM"


def clean_display_text(raw: str, *, max_chars: int = 255, fallback: str = "") -> str:
    """`raw` made safe to store and show: for file names and other client-sent labels.

    NFC; whitespace (tabs, newlines) as spaces; control, format (U+202E and the other
    bidi controls, zero-width characters), private-use, surrogate and unassigned code
    points removed (ZWJ/ZWNJ kept where `_joiner_allowed`); whitespace runs collapsed to
    one space; trimmed; cut to `max_chars`. Never raises: returns `fallback` when
    nothing visible is left.
    """
    text = "".join(
        " " if ch.isspace() else ch
        for ch in raw[: RAW_SLACK * max_chars]
        if not ("\ud800" <= ch <= "\udfff")
    )
    text = unicodedata.normalize("NFC", text)
    kept = [
        ch
        for index, ch in enumerate(text)
        if unicodedata.category(ch) not in REFUSED_CATEGORIES
        or (ch in (ZWJ, ZWNJ) and joiner_allowed(text, index))
    ]
    cleaned = _RUNS_OF_SPACE.sub(" ", "".join(kept)).strip()[:max_chars].strip()
    if not any(unicodedata.category(ch)[0] in "LNPS" for ch in cleaned):
        return fallback
    return cleaned


def clean_filename(raw: str, *, max_chars: int = 255, fallback: str = "upload") -> str:
    """A client-sent file name made safe to store and show: `clean_display_text` of its
    last path component (either slash), without leading dots, or `fallback`."""
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = clean_display_text(base, max_chars=max_chars).lstrip(". ")
    return cleaned or fallback

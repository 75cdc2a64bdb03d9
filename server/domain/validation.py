"""Validation of user-supplied account fields: the identity-string profiles.

One treatment for each kind of string, applied the same way on every path that
takes it (registration, login, display), after RFC 8265 (PRECIS) and NIST SP
800-63B section 5.1.1.2:

- **password**: the OpaqueString profile. Non-ASCII spaces become U+0020, the
  result is put in NFC, and control characters, surrogates, unassigned code
  points and invisible format characters are refused. Login applies the same
  mapping, so a password typed on a keyboard that composes characters (NFD)
  matches one set in NFC.
- **name**: after the Nickname profile. Spaces are mapped and collapsed, the
  result is put in NFKC, and names with control, format (bidi controls, zero-width
  characters), private-use, surrogate or unassigned code points, or with no letter
  or digit at all, are refused. ZWJ/ZWNJ are allowed after a virama and ZWNJ
  between letters, where Indic and Persian scripts need them.
- **email**: NFKC (so full-width and other compatibility forms are the same
  address as the plain one), then validated and lower-cased as a whole; the same
  invisible characters as in names are refused.

Display strings that are not identities (file names, labels) are cleaned by
`server.text`, which shares these rules.
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from server.errors import FieldViolation, InvalidArgument
from server.text import REFUSED_CATEGORIES as _REFUSED_CATEGORIES
from server.text import ZWJ, ZWNJ
from server.text import joiner_allowed as _joiner_allowed

MIN_PASSWORD_BYTES = 8
MAX_PASSWORD_BYTES = 1024
MAX_NAME_CHARS = 128
MAX_EMAIL_CHARS = 320

_RUNS_OF_SPACE = re.compile(r"\s+")
# Input longer than this many times a field's limit is refused before any
# per-character work: a message may carry megabytes, and this runs on the event loop.
RAW_SLACK = 4


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _map_spaces(text: str) -> str:
    """Every space separator (Zs) becomes U+0020, as PRECIS's additional mapping rule says."""
    return "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in text)


def invisible_problem(text: str, *, allow_joiners: bool = False) -> str | None:
    """What makes `text` unsafe as an identity string, or None."""
    for index, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category not in _REFUSED_CATEGORIES:
            continue
        if allow_joiners and ch in (ZWJ, ZWNJ) and _joiner_allowed(text, index):
            continue
        kind = {
            "Cc": "control characters",
            "Cf": "invisible or bidirectional format characters",
            "Co": "private-use characters",
            "Cs": "unpaired surrogates",
            "Cn": "unassigned code points",
        }[category]
        return f"must not contain {kind} (U+{ord(ch):04X})"
    return None


def canonical_email(raw: str) -> str:
    """The address an email is stored and looked up as; ValueError says what is wrong."""
    if len(raw) > RAW_SLACK * MAX_EMAIL_CHARS:
        raise ValueError(f"email is longer than {MAX_EMAIL_CHARS} characters")
    if _has_surrogate(raw):
        raise ValueError("email must not contain unpaired surrogates")
    candidate = unicodedata.normalize("NFKC", raw).strip()
    if not candidate:
        raise ValueError("email is required")
    if len(candidate) > MAX_EMAIL_CHARS:
        raise ValueError(f"email is longer than {MAX_EMAIL_CHARS} characters")
    if problem := invisible_problem(candidate):
        raise ValueError(f"email {problem}")
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"email is not valid: {exc}") from None
    return checked.normalized.lower()


# The name the old code used; kept for callers that import it.
normalise_email = canonical_email


def legacy_email(raw: str) -> str | None:
    """The form rows written before NFKC folding were stored under, when it differs."""
    if len(raw) > RAW_SLACK * MAX_EMAIL_CHARS:
        return None
    if _has_surrogate(raw) or "\x00" in raw:
        return None
    candidate = raw.strip()
    if not candidate or len(candidate) > MAX_EMAIL_CHARS:
        return None
    try:
        return validate_email(candidate, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def prepare_password(raw: str) -> str:
    """RFC 8265 OpaqueString: the form a password is hashed and checked as."""
    if len(raw) > RAW_SLACK * MAX_PASSWORD_BYTES:
        raise ValueError(f"password must be at most {MAX_PASSWORD_BYTES} bytes long")
    if _has_surrogate(raw):
        raise ValueError("password must not contain unpaired surrogates")
    prepared = unicodedata.normalize("NFC", _map_spaces(raw))
    if problem := invisible_problem(prepared, allow_joiners=True):
        raise ValueError(f"password {problem}")
    return prepared


def password_problem(password: str) -> str | None:
    """What is wrong with a new password (already prepared), or None."""
    size = len(password.encode("utf-8"))
    if size < MIN_PASSWORD_BYTES:
        return f"password must be at least {MIN_PASSWORD_BYTES} bytes long"
    if size > MAX_PASSWORD_BYTES:
        return f"password must be at most {MAX_PASSWORD_BYTES} bytes long"
    return None


def normalise_name(raw: str) -> str:
    """A display name after the PRECIS Nickname profile; ValueError says what is wrong."""
    if len(raw) > RAW_SLACK * MAX_NAME_CHARS:
        raise ValueError(f"name must be at most {MAX_NAME_CHARS} characters")
    if _has_surrogate(raw):
        raise ValueError("name must not contain unpaired surrogates")
    name = _RUNS_OF_SPACE.sub(" ", unicodedata.normalize("NFKC", _map_spaces(raw))).strip()
    if not name:
        raise ValueError("name is required")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"name must be at most {MAX_NAME_CHARS} characters")
    if problem := invisible_problem(name, allow_joiners=True):
        raise ValueError(f"name {problem}")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in name):
        raise ValueError("name must contain at least one letter or digit")
    return name


def check_registration(email: str, password: str, name: str) -> tuple[str, str, str]:
    """Normalised (email, password, name); InvalidArgument listing every bad field."""
    violations: list[FieldViolation] = []
    clean_email = clean_password = clean_name = ""
    try:
        clean_email = canonical_email(email)
    except ValueError as exc:
        violations.append(FieldViolation("email", str(exc)))
    try:
        clean_password = prepare_password(password)
    except ValueError as exc:
        violations.append(FieldViolation("password", str(exc)))
    else:
        if problem := password_problem(clean_password):
            violations.append(FieldViolation("password", problem))
    try:
        clean_name = normalise_name(name)
    except ValueError as exc:
        violations.append(FieldViolation("name", str(exc)))
    if violations:
        raise InvalidArgument("; ".join(v.description for v in violations), violations)
    return clean_email, clean_password, clean_name

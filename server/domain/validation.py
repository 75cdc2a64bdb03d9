"""Validation of user-supplied account fields."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from server.errors import FieldViolation, InvalidArgument

MIN_PASSWORD_BYTES = 8
MAX_PASSWORD_BYTES = 1024
MAX_NAME_CHARS = 128
MAX_EMAIL_CHARS = 320


def normalise_email(raw: str) -> str:
    """Trimmed, lower-cased email, or a description of what is wrong with it."""
    candidate = raw.strip()
    if not candidate:
        raise ValueError("email is required")
    if len(candidate) > MAX_EMAIL_CHARS:
        raise ValueError(f"email is longer than {MAX_EMAIL_CHARS} characters")
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"email is not valid: {exc}") from None
    return checked.normalized.lower()


def password_problem(password: str) -> str | None:
    size = len(password.encode("utf-8"))
    if size < MIN_PASSWORD_BYTES:
        return f"password must be at least {MIN_PASSWORD_BYTES} bytes long"
    if size > MAX_PASSWORD_BYTES:
        return f"password must be at most {MAX_PASSWORD_BYTES} bytes long"
    return None


def normalise_name(raw: str) -> str:
    name = unicodedata.normalize("NFC", raw.strip())
    if not name:
        raise ValueError("name is required")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"name must be at most {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ValueError("name must not contain control characters")
    return name


def check_registration(email: str, password: str, name: str) -> tuple[str, str]:
    """Normalised (email, name); InvalidArgument listing every bad field."""
    violations: list[FieldViolation] = []
    clean_email = clean_name = ""
    try:
        clean_email = normalise_email(email)
    except ValueError as exc:
        violations.append(FieldViolation("email", str(exc)))
    if problem := password_problem(password):
        violations.append(FieldViolation("password", problem))
    try:
        clean_name = normalise_name(name)
    except ValueError as exc:
        violations.append(FieldViolation("name", str(exc)))
    if violations:
        raise InvalidArgument("; ".join(v.description for v in violations), violations)
    return clean_email, clean_name

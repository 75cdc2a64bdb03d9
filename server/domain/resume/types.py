"""Resume values shared with the repositories (a domain type module: no other imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResumeFields:
    """What a successful upload stores as the user's resume."""

    filename: str
    content_type: str
    size_bytes: int
    text: str
    text_sha256: str
    skills: list[str]
    years_experience: float | None
    extractor: str

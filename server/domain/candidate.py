"""What the rest of Samvaad needs to know about a candidate from their resume."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CandidateProfile:
    """Normalised skills (most relevant first) and years of experience, if known."""

    skills: list[str] = field(default_factory=list)
    years_experience: float | None = None

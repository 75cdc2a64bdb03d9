"""What the rest of Samvaad needs to know about a candidate: from their resume, and what
they say about themselves in their profile."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CandidateProfile:
    """Normalised skills (most relevant first) and years of experience, if known."""

    skills: list[str] = field(default_factory=list)
    years_experience: float | None = None
    # From the account's profile (UpdateProfile), when set.
    target_role: str = ""
    graduation_year: int | None = None
    # Skills only the target role names, not the resume (they lead `skills`).
    role_skills: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Profile:
    """What a candidate says about themselves (AuthService.UpdateProfile)."""

    degree: str = ""
    institution: str = ""
    graduation_year: int | None = None
    target_role: str = ""
    onboarded: bool = False

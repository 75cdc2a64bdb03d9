"""The candidate's profile, and how it tailors questions. Knows nothing of gRPC.

`UpdateProfile` follows AIP-134: the update mask names the fields to set; an empty
mask sets every field the request gives a value (a field left at its default is
left alone, so clearing one takes the mask). The target role and graduation year
then tailor questions as a resume does: skills the target role names (found with the
skills taxonomy, "Backend engineer (Go, Kafka)") come first among the skills the
applied questions draw on, and without a resume's years of experience the years
since graduating stand in for them (none before graduating).
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace

from server.clock import utcnow
from server.domain.auth import UserProfile, user_profile
from server.domain.candidate import CandidateProfile, Profile
from server.domain.resume.taxonomy import Taxonomy, default_taxonomy
from server.domain.validation import RAW_SLACK, invisible_problem
from server.errors import FieldViolation, InvalidArgument, Unauthenticated
from server.repositories.unit_of_work import Database

FIELDS = ("degree", "institution", "graduation_year", "target_role", "onboarded")
MAX_CHARS = {"degree": 128, "institution": 200, "target_role": 128}
FIRST_GRADUATION_YEAR = 1950
# Students give the year they expect to graduate.
YEARS_AHEAD = 10


class ProfileService:
    def __init__(self, database: Database, taxonomy: Taxonomy | None = None) -> None:
        self._db = database
        self._taxonomy = taxonomy or default_taxonomy()

    async def update(self, user_id: int, profile: Profile, paths: list[str]) -> UserProfile:
        values = _values(profile, paths or _given(profile))
        async with self._db.transaction() as uow:
            if values:
                await uow.users.update_profile(user_id, values)
            found = await uow.users.get_with_resume_flag(user_id)
        if found is None:
            raise Unauthenticated("this account no longer exists", reason="ACCOUNT_NOT_FOUND")
        return user_profile(*found)

    async def profile(self, user_id: int) -> Profile | None:
        async with self._db.transaction(read_only=True) as uow:
            found = await uow.users.get_with_resume_flag(user_id)
        return user_profile(*found).profile if found is not None else None

    async def tailored(
        self, user_id: int, resume: CandidateProfile | None
    ) -> CandidateProfile | None:
        """What questions for this user are tailored to: `resume` with their profile."""
        profile = await self.profile(user_id)
        return self.tailor(resume, profile) if profile is not None else resume

    def tailor(self, resume: CandidateProfile | None, profile: Profile) -> CandidateProfile | None:
        """The resume's profile (or none) with the profile's target role and graduation
        year worked in; `resume` as it is when the profile says neither."""
        if not profile.target_role and profile.graduation_year is None:
            return resume
        base = resume or CandidateProfile()
        # A role is at most 128 characters: matching it is a few trie walks.
        named = [m.skill for m in self._taxonomy.mentions(profile.target_role)]
        skills = list(dict.fromkeys([*named, *base.skills]))
        years = base.years_experience
        if years is None and profile.graduation_year is not None:
            years = float(max(0, utcnow().year - profile.graduation_year))
        return replace(
            base,
            skills=skills,
            years_experience=years,
            target_role=profile.target_role,
            graduation_year=profile.graduation_year,
            role_skills=[skill for skill in named if skill not in base.skills],
        )


def _given(profile: Profile) -> list[str]:
    """The fields an unmasked update sets: those with a value."""
    return [name for name in FIELDS if getattr(profile, name) not in ("", None, False)]


def _text(name: str, raw: str) -> tuple[str | None, str | None]:
    """(the text as stored or None when empty, what is wrong with it or None): whitespace
    runs as one space, NFC, and no control, format, private-use or unassigned characters
    (a NUL would not even reach PostgreSQL)."""
    limit = MAX_CHARS[name]
    # Checked before any per-character work: a message may carry megabytes.
    if len(raw) > RAW_SLACK * limit:
        return None, f"{name} is at most {limit} characters"
    text = unicodedata.normalize("NFC", " ".join(raw.split()))
    if len(text) > limit:
        return None, f"{name} is at most {limit} characters"
    if problem := invisible_problem(text, allow_joiners=True):
        return None, f"{name} {problem}"
    return text or None, None


def _values(profile: Profile, paths: list[str]) -> dict[str, object]:
    violations: list[FieldViolation] = []
    values: dict[str, object] = {}
    for path in dict.fromkeys(paths):
        name = path.removeprefix("profile.")
        if name not in FIELDS:
            violations.append(
                FieldViolation(
                    "update_mask", f"{path!r} is not a Profile field ({', '.join(FIELDS)})"
                )
            )
            continue
        value = getattr(profile, name)
        if isinstance(value, str):
            value, problem = _text(name, value)
            if problem:
                violations.append(FieldViolation(f"profile.{name}", problem))
        if name == "graduation_year" and value is not None:
            latest = utcnow().year + YEARS_AHEAD
            if not FIRST_GRADUATION_YEAR <= int(value) <= latest:
                violations.append(
                    FieldViolation(
                        "profile.graduation_year",
                        f"graduation_year must be between {FIRST_GRADUATION_YEAR} and {latest}"
                        " (0 to clear it)",
                    )
                )
        values[name] = value
    if violations:
        raise InvalidArgument(violations[0].description, violations)
    return values

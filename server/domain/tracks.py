"""Interview tracks: curated ones by name or alias, anything else as a slug."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from server.errors import InvalidArgument

MAX_TRACK_LENGTH = 64
_NON_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(raw: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    return _NON_SLUG.sub("_", ascii_text.lower()).strip("_")


def normalise_track(raw: str, aliases: Mapping[str, str]) -> str:
    """The canonical slug of a track. `aliases` maps slugs of known names to tracks."""
    slug = slugify(raw)
    if not slug:
        raise InvalidArgument.for_field(
            "track", "track is required, for example data_science, ml_engineering or backend"
        )
    if len(slug) > MAX_TRACK_LENGTH:
        raise InvalidArgument.for_field(
            "track", f"track must be at most {MAX_TRACK_LENGTH} characters as a slug"
        )
    return aliases.get(slug, slug)

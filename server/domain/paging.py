"""AIP-158 pagination: page sizes and signed, opaque page tokens.

A token carries a keyset cursor (the sort key of the last row returned), so
rows added while a client pages are never skipped or repeated. It is signed
with a server key and bound to the caller, the collection and the request's
other fields: it cannot be forged, replayed by another user, or reused with
different filters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from server.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_SIGNATURE_BYTES = 16


def page_size(requested: int) -> int:
    """0 means the default; above the maximum is coerced down (AIP-158); negative is an error."""
    if requested < 0:
        raise InvalidArgument.for_field("page_size", "page_size must not be negative")
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


@dataclass(frozen=True)
class PageScope:
    """What a token is valid for: who asked, which list, with which other fields."""

    user_id: int
    collection: str
    filters: tuple[tuple[str, Any], ...] = ()

    def digest(self) -> str:
        raw = json.dumps([self.user_id, self.collection, list(self.filters)], sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


class PageTokenCodec:
    def __init__(self, secret: bytes) -> None:
        # A key of its own, so a page token can never double as anything else.
        self._key = hmac.new(secret, b"samvaad/page-token/v1", hashlib.sha256).digest()

    def encode(self, scope: PageScope, cursor: list[Any]) -> str:
        payload = _b64(
            json.dumps({"s": scope.digest(), "c": cursor}, separators=(",", ":")).encode()
        )
        return f"{payload}.{_b64(self._sign(payload))}"

    def decode(self, token: str, scope: PageScope) -> list[Any] | None:
        """The cursor in `token`, or None for the first page."""
        if not token:
            return None
        payload, _, signature = token.partition(".")
        try:
            valid = hmac.compare_digest(_unb64(signature), self._sign(payload))
            body = json.loads(_unb64(payload)) if valid else None
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("c"), list):
            raise InvalidArgument.for_field(
                "page_token",
                "page_token is not a token this server issued",
                reason="PAGE_TOKEN_INVALID",
            )
        if body.get("s") != scope.digest():
            raise InvalidArgument.for_field(
                "page_token",
                "page_token belongs to a different request; keep every field but page_size "
                "the same while paging, or start again without a token",
                reason="PAGE_TOKEN_MISMATCH",
            )
        return list(body["c"])

    def _sign(self, payload: str) -> bytes:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

"""Access tokens (JWT) and refresh tokens (opaque, stored as hashes)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from server.db.types import utcnow
from server.errors import Unauthenticated

ACCESS_TOKEN_TYPE = "access"
_REQUIRED_CLAIMS = ["sub", "iat", "exp", "jti", "typ", "iss", "aud"]


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


class AccessTokenCodec:
    """Issues and checks access tokens with one pinned algorithm.

    Only the configured algorithm is accepted, so `alg: none` and algorithm
    confusion are refused by construction.
    """

    def __init__(
        self, secret: str, algorithm: str, issuer: str, audience: str, ttl: timedelta
    ) -> None:
        self._secret = secret
        self._algorithm = algorithm
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl

    def issue(self, user_id: int, now: datetime | None = None) -> IssuedToken:
        issued_at = now or utcnow()
        expires_at = issued_at + self._ttl
        claims = {
            "sub": str(user_id),
            "iat": issued_at,
            "exp": expires_at,
            "jti": uuid.uuid4().hex,
            "typ": ACCESS_TOKEN_TYPE,
            "iss": self._issuer,
            "aud": self._audience,
        }
        token = jwt.encode(claims, self._secret, algorithm=self._algorithm)
        return IssuedToken(token, expires_at.replace(microsecond=0))

    def user_id_of(self, token: str) -> int:
        """The user id in a valid access token; Unauthenticated for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": _REQUIRED_CLAIMS},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(
                "the access token has expired; call AuthService.RefreshToken",
                reason="TOKEN_EXPIRED",
            ) from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("the access token is not valid", reason="TOKEN_INVALID") from None
        if claims.get("typ") != ACCESS_TOKEN_TYPE:
            raise Unauthenticated("this is not an access token", reason="TOKEN_INVALID")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.isdigit():
            raise Unauthenticated("the access token is not valid", reason="TOKEN_INVALID")
        return int(subject)


def new_refresh_token() -> str:
    # 256 bits of randomness; the prefix makes leaked tokens easy to grep for.
    return "smv_rt_" + secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    # A fast hash is right here: the token is random, not a guessable password.
    return hashlib.sha256(token.encode()).hexdigest()

"""Access tokens (JWT) and refresh tokens (opaque, stored as hashes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from server.clock import utcnow
from server.errors import Unauthenticated

ACCESS_TOKEN_TYPE = "access"
REFRESH_TOKEN_PREFIX = "smv_rt_"
# A user id in `sub`: ASCII digits, no sign or leading zero, within int64's positive range.
_SUBJECT = re.compile(r"[1-9][0-9]{0,18}")
MAX_USER_ID = 2**63 - 1
# The prefix and 43 base64url characters (32 bytes, unpadded), as issued.
_REFRESH_TOKEN = re.compile(r"smv_rt_[A-Za-z0-9_-]{43}")
_REQUIRED_CLAIMS = ["sub", "iat", "exp", "jti", "typ", "iss", "aud"]
LEEWAY_SECONDS = 5
# Verified access tokens remembered per process (token -> user id, expiry): a client
# sends the same token on every call until it expires, and verifying it (PyJWT:
# base64, JSON, HMAC, claim checks) cost about 5 % of a GetMe. Bounded, least
# recently used out; a hit still checks the expiry, so it never outlives the token.
VERIFIED_CACHE_SIZE = 4096


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
        self._verified: OrderedDict[str, tuple[int, float]] = OrderedDict()

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
        """The user id in a valid access token; Unauthenticated for anything else.

        A token verified before is not verified again until it expires (its signature
        and claims cannot change: the cache is keyed by the whole token).
        """
        known = self._verified.get(token)
        if known is not None:
            user_id, expires = known
            if time.time() <= expires + LEEWAY_SECONDS:
                self._verified.move_to_end(token)
                return user_id
            del self._verified[token]
            raise _expired()
        user_id, expires = self._verify(token)
        self._verified[token] = (user_id, expires)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return user_id

    def _verify(self, token: str) -> tuple[int, float]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": _REQUIRED_CLAIMS},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise _expired() from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("the access token is not valid", reason="TOKEN_INVALID") from None
        if claims.get("typ") != ACCESS_TOKEN_TYPE:
            raise Unauthenticated("this is not an access token", reason="TOKEN_INVALID")
        return _user_id_in(claims["sub"]), float(claims["exp"])


def _expired() -> Unauthenticated:
    return Unauthenticated(
        "the access token has expired; call AuthService.RefreshToken", reason="TOKEN_EXPIRED"
    )


def _user_id_in(subject: object) -> int:
    """`sub` as a user id; anything but a canonical ASCII int64 above 0 is refused.

    `str.isdigit` and `int` accept other scripts' digits ("\u0663") and superscripts,
    and a value past int64 would overflow the database's id column.
    """
    if (
        not isinstance(subject, str)
        or not subject.isascii()
        or not _SUBJECT.fullmatch(subject)
        or int(subject) > MAX_USER_ID
    ):
        raise Unauthenticated(
            "the access token's subject is not a valid user id", reason="TOKEN_INVALID"
        )
    return int(subject)


def new_refresh_token() -> str:
    # 256 bits of randomness; the prefix makes leaked tokens easy to grep for.
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


def is_well_formed_refresh_token(token: str) -> bool:
    """True for a string shaped like an issued token: ASCII, prefix, 43 base64url characters.

    Checked before any hashing or SQL, so a lone surrogate, a NUL or a megabyte of
    text is refused without touching the database.
    """
    return len(token) == len(REFRESH_TOKEN_PREFIX) + 43 and bool(_REFRESH_TOKEN.fullmatch(token))


def successor_refresh_token(key: bytes, token: str) -> str:
    """The token that rotating `token` issues: HMAC-SHA256(key, token), recomputable.

    Deterministic, so a client that retries a rotation (its reply was lost) can be
    handed the same successor again, although only hashes of tokens are stored.
    Without `key`, a successor cannot be derived from the token it replaces.
    """
    digest = hmac.new(key, token.encode("ascii"), hashlib.sha256).digest()
    return REFRESH_TOKEN_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def hash_refresh_token(token: str) -> str:
    # A fast hash is right here: the token is random, not a guessable password.
    return hashlib.sha256(token.encode()).hexdigest()

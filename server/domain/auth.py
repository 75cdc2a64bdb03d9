"""Accounts, sign-in and token rotation. Knows nothing of gRPC."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from server.db.database import Database, UnitOfWork
from server.db.models import User
from server.db.types import utcnow
from server.domain.passwords import PasswordHasher
from server.domain.tokens import AccessTokenCodec, hash_refresh_token, new_refresh_token
from server.domain.validation import (
    MAX_PASSWORD_BYTES,
    check_registration,
    normalise_email,
)
from server.errors import (
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
)

log = logging.getLogger(__name__)

BAD_CREDENTIALS = "the email or password is incorrect"


@dataclass(frozen=True)
class UserProfile:
    id: int
    email: str
    name: str
    created_at: datetime
    has_resume: bool


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    token_type: str = "Bearer"


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    window: timedelta
    lockout: timedelta


class AuthService:
    def __init__(
        self,
        database: Database,
        hasher: PasswordHasher,
        access_tokens: AccessTokenCodec,
        refresh_ttl: timedelta,
        login_policy: LoginPolicy,
    ) -> None:
        self._db = database
        self._hasher = hasher
        self._access = access_tokens
        self._refresh_ttl = refresh_ttl
        self._policy = login_policy

    async def register(self, email: str, password: str, name: str) -> tuple[UserProfile, TokenPair]:
        clean_email, clean_name = check_registration(email, password, name)
        async with self._db.transaction() as uow:
            if await uow.users.get_by_email(clean_email) is not None:
                raise _email_taken()
        # Hash outside any transaction: it takes tens of milliseconds.
        password_hash = await self._hasher.hash(password)
        try:
            async with self._db.transaction() as uow:
                user = await uow.users.add(clean_email, clean_name, password_hash)
                tokens = await self._issue(uow, user.id, family_id=None)
                profile = await _profile(uow, user)
        except IntegrityError:
            # Lost a race with a concurrent registration of the same email.
            raise _email_taken() from None
        log.info("user registered", extra={"user_id": profile.id})
        return profile, tokens

    async def login(self, email: str, password: str) -> tuple[UserProfile, TokenPair]:
        _require_login_fields(email, password)
        try:
            clean_email = normalise_email(email)
        except ValueError:
            raise Unauthenticated(BAD_CREDENTIALS, reason="BAD_CREDENTIALS") from None
        now = utcnow()
        async with self._db.transaction() as uow:
            throttle = await uow.login_throttles.get(clean_email)
            if throttle is not None and throttle.locked_until and throttle.locked_until > now:
                raise _locked(throttle.locked_until - now)
            user = await uow.users.get_by_email(clean_email)
            stored_hash = user.password_hash if user else None
        if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
            matched = False
        else:
            matched = await self._hasher.verify(stored_hash, password)
        if not matched or user is None:
            await self._record_failure(clean_email)
            raise Unauthenticated(BAD_CREDENTIALS, reason="BAD_CREDENTIALS")
        new_hash = (
            await self._hasher.hash(password)
            if self._hasher.needs_rehash(stored_hash or "")
            else None
        )
        async with self._db.transaction() as uow:
            await uow.login_throttles.clear(clean_email)
            if new_hash is not None:
                await uow.users.set_password_hash(user.id, new_hash)
            tokens = await self._issue(uow, user.id, family_id=None)
            profile = await _profile(uow, user)
        return profile, tokens

    async def refresh(self, refresh_token: str) -> TokenPair:
        if not refresh_token:
            raise InvalidArgument.for_field("refresh_token", "refresh_token is required")
        now = utcnow()
        reused = False
        async with self._db.transaction() as uow:
            row = await uow.refresh_tokens.get_by_hash_for_update(hash_refresh_token(refresh_token))
            if row is None:
                raise Unauthenticated(
                    "the refresh token is not valid", reason="REFRESH_TOKEN_INVALID"
                )
            if row.revoked_at is not None:
                if row.revoke_reason == "rotated":
                    # A rotated token came back: someone holds a stolen copy.
                    await uow.refresh_tokens.revoke_family(row.family_id, "reuse_detected", now)
                    reused = True
            elif row.expires_at <= now:
                raise Unauthenticated(
                    "the refresh token has expired; sign in again", reason="REFRESH_TOKEN_EXPIRED"
                )
            elif await uow.refresh_tokens.revoke(row.id, "rotated", now):
                return await self._issue(uow, row.user_id, family_id=row.family_id)
        if reused:
            log.warning("refresh token reuse; family revoked", extra={"family_id": row.family_id})
        raise Unauthenticated(
            "the refresh token was revoked; sign in again", reason="REFRESH_TOKEN_REVOKED"
        )

    async def logout(self, user_id: int, refresh_token: str) -> None:
        if not refresh_token:
            raise InvalidArgument.for_field("refresh_token", "refresh_token is required")
        async with self._db.transaction() as uow:
            row = await uow.refresh_tokens.get_by_hash_for_update(hash_refresh_token(refresh_token))
            if row is None or row.user_id != user_id:
                raise NotFound(
                    "no such refresh token for this account", reason="REFRESH_TOKEN_NOT_FOUND"
                )
            await uow.refresh_tokens.revoke_family(row.family_id, "logout", utcnow())

    async def get_me(self, user_id: int) -> UserProfile:
        async with self._db.transaction() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise Unauthenticated("the account no longer exists", reason="USER_NOT_FOUND")
            return await _profile(uow, user)

    async def authenticate(self, access_token: str) -> int:
        """The user id behind a valid access token of an existing account."""
        user_id = self._access.user_id_of(access_token)
        async with self._db.transaction() as uow:
            if not await uow.users.exists(user_id):
                raise Unauthenticated("the account no longer exists", reason="USER_NOT_FOUND")
        return user_id

    async def _record_failure(self, email: str) -> None:
        now = utcnow()
        async with self._db.transaction() as uow:
            row = await uow.login_throttles.lock_row(email, now)
            if now - row.window_started_at > self._policy.window:
                row.failure_count, row.window_started_at, row.locked_until = 0, now, None
            row.failure_count += 1
            if row.failure_count >= self._policy.max_failures:
                row.locked_until = now + self._policy.lockout
                row.failure_count, row.window_started_at = 0, now
                log.warning("login locked after repeated failures")

    async def _issue(self, uow: UnitOfWork, user_id: int, family_id: str | None) -> TokenPair:
        access = self._access.issue(user_id)
        refresh = new_refresh_token()
        expires_at = utcnow() + self._refresh_ttl
        await uow.refresh_tokens.add(
            user_id, family_id or str(uuid.uuid4()), hash_refresh_token(refresh), expires_at
        )
        return TokenPair(
            access.token, access.expires_at, refresh, expires_at.replace(microsecond=0)
        )


async def _profile(uow: UnitOfWork, user: User) -> UserProfile:
    return UserProfile(
        id=user.id,
        email=user.email,
        name=user.name,
        created_at=user.created_at,
        has_resume=await uow.users.has_resume(user.id),
    )


def _require_login_fields(email: str, password: str) -> None:
    violations = [
        FieldViolation(name, f"{name} is required")
        for name, value in (("email", email.strip()), ("password", password))
        if not value
    ]
    if violations:
        raise InvalidArgument("; ".join(v.description for v in violations), violations)


def _email_taken() -> AlreadyExists:
    return AlreadyExists("an account with this email already exists", reason="EMAIL_TAKEN")


def _locked(remaining: timedelta) -> ResourceExhausted:
    seconds = max(1, int(remaining.total_seconds() + 0.999))
    return ResourceExhausted(
        f"too many failed sign-in attempts; try again in {seconds} s",
        reason="LOGIN_THROTTLED",
        retry_after_seconds=seconds,
    )

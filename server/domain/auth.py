"""Accounts, sign-in and token rotation. Knows nothing of gRPC.

Every password check is paid for first with a reservation in the database (see
`server/domain/throttles.py` and docs/api.md, "Throttles"), so no concurrency, in
one process or many, gets more checks than the budgets allow.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from server.clock import utcnow
from server.domain.candidate import Profile
from server.domain.passwords import PasswordHasher
from server.domain.records import UserRecord
from server.domain.throttles import Throttles, address_bucket
from server.domain.tokens import (
    AccessTokenCodec,
    hash_refresh_token,
    is_well_formed_refresh_token,
    new_refresh_token,
    successor_refresh_token,
)
from server.domain.validation import (
    MAX_PASSWORD_BYTES,
    canonical_email,
    check_registration,
    legacy_email,
    prepare_password,
)
from server.errors import (
    AlreadyExists,
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from server.repositories.unit_of_work import Database, UnitOfWork

if TYPE_CHECKING:
    from server.config import Settings

log = logging.getLogger(__name__)

BAD_CREDENTIALS = "the email or password is incorrect"
# Expired throttle rows deleted per write: the table stays bounded by live budgets.


@dataclass(frozen=True)
class UserProfile:
    id: int
    email: str
    name: str
    created_at: datetime
    has_resume: bool
    profile: Profile = field(default_factory=Profile)


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


@dataclass(frozen=True)
class AuthPolicy:
    """Every limit of the auth service; 0 turns an address or overall budget off."""

    login: LoginPolicy
    refresh_ttl: timedelta
    refresh_grace: timedelta = timedelta(seconds=30)
    login_address_max_failures: int = 20
    login_global_max_failures_per_minute: int = 600
    register_max_per_address: int = 20
    register_address_window: timedelta = timedelta(hours=1)
    register_global_max_per_minute: int = 120
    # How long an "account exists" answer is trusted (docs/architecture.md).
    principal_ttl: timedelta = timedelta(seconds=5)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthPolicy:
        return cls(
            login=LoginPolicy(
                max_failures=settings.login_max_failures,
                window=timedelta(seconds=settings.login_failure_window_seconds),
                lockout=timedelta(seconds=settings.login_lockout_seconds),
            ),
            refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
            refresh_grace=timedelta(seconds=settings.refresh_reuse_grace_seconds),
            login_address_max_failures=settings.login_address_budget,
            login_global_max_failures_per_minute=settings.login_global_budget,
            register_max_per_address=settings.register_address_budget,
            register_address_window=timedelta(seconds=settings.register_address_window_seconds),
            register_global_max_per_minute=settings.register_global_budget,
            principal_ttl=timedelta(seconds=settings.auth_principal_ttl_seconds),
        )


class AuthService:
    def __init__(
        self,
        database: Database,
        hasher: PasswordHasher,
        access_tokens: AccessTokenCodec,
        policy: AuthPolicy,
        secret: bytes,
    ) -> None:
        self._db = database
        self._hasher = hasher
        self._access = access_tokens
        self._policy = policy
        self._refresh_ttl = policy.refresh_ttl
        self._throttles = Throttles(database, secret, policy)
        self._successor_key = hmac.new(
            secret, b"samvaad refresh successor v1", hashlib.sha256
        ).digest()
        self._principals = PrincipalCache(policy.principal_ttl.total_seconds())

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        database: Database,
        hasher: PasswordHasher,
        access_tokens: AccessTokenCodec,
    ) -> AuthService:
        return cls(
            database,
            hasher,
            access_tokens,
            AuthPolicy.from_settings(settings),
            settings.jwt_secret_key.get_secret_value().encode("utf-8"),
        )

    # --- registration --------------------------------------------------------

    async def register(
        self, email: str, password: str, name: str, peer: str = ""
    ) -> tuple[UserProfile, TokenPair]:
        clean_email, clean_password, clean_name = check_registration(email, password, name)
        address = address_bucket(peer)
        await self._throttles.reserve(self._throttles.registration_budgets(address))
        async with self._db.transaction() as uow:
            await self._throttles.purge_expired(uow, utcnow())
            if await uow.users.get_by_email(clean_email) is not None:
                raise _email_taken()
        # Hash outside any transaction: it takes tens of milliseconds.
        password_hash = await self._hasher.hash(clean_password)
        try:
            async with self._db.transaction() as uow:
                user = await uow.users.add(clean_email, clean_name, password_hash)
                await self._throttles.trust(uow, clean_email, address)
                tokens = await self._issue(uow, user.id, family_id=None)
                profile = await _profile(uow, user)
        except Conflict:
            # Lost a race with a concurrent registration of the same email.
            raise _email_taken() from None
        log.info("user registered", extra={"user_id": profile.id})
        return profile, tokens

    # --- sign-in -------------------------------------------------------------

    async def login(
        self, email: str, password: str, peer: str = ""
    ) -> tuple[UserProfile, TokenPair]:
        _require_login_fields(email, password)
        try:
            clean_email = canonical_email(email)
        except ValueError:
            raise Unauthenticated(BAD_CREDENTIALS, reason="BAD_CREDENTIALS") from None
        address = address_bucket(peer)
        now = utcnow()
        async with self._db.transaction() as uow:
            # Bounded, and never waits: this transaction takes no other lock.
            await self._throttles.purge_expired(uow, now)
            trusted_until = await self._throttles.trusted_until(uow, clean_email, address, now)
            user = await uow.users.get_by_email(clean_email)
            old_form = legacy_email(email)
            if user is None and old_form is not None and old_form != clean_email:
                user = await uow.users.get_by_email(old_form)
        stored_hash = user.password_hash if user else None
        budgets = self._throttles.login_budgets(clean_email, address, trusted_until is not None)
        # Every check is paid for before it runs: the legacy fallback (a hash made
        # before passwords were prepared) costs a second unit, never a free guess.
        candidates = _password_candidates(password)
        checks = 0
        matched: str | None = None
        attempts: list[str | None] = [*candidates] if candidates else [None]
        for candidate in attempts:
            await self._throttles.reserve(budgets)
            checks += 1
            if candidate is not None and await self._hasher.verify(stored_hash, candidate):
                matched = candidate
                break
        if matched is None or user is None:
            raise Unauthenticated(BAD_CREDENTIALS, reason="BAD_CREDENTIALS")
        prepared = candidates[0]
        new_hash = None
        if prepared != matched or self._hasher.needs_rehash(stored_hash or ""):
            new_hash = await self._hasher.hash(prepared or matched)
        async with self._db.transaction() as uow:
            await self._throttles.settle_success(uow, budgets, checks, now)
            if trusted_until is None or trusted_until - now < self._refresh_ttl / 2:
                await self._throttles.trust(uow, clean_email, address)
            if new_hash is not None:
                await uow.users.set_password_hash(user.id, new_hash)
            tokens = await self._issue(uow, user.id, family_id=None)
            profile = await _profile(uow, user)
        return profile, tokens

    # --- refresh tokens ------------------------------------------------------

    async def refresh(self, refresh_token: str) -> TokenPair:
        if not refresh_token:
            raise InvalidArgument.for_field("refresh_token", "refresh_token is required")
        if not is_well_formed_refresh_token(refresh_token):
            raise Unauthenticated("the refresh token is not valid", reason="REFRESH_TOKEN_INVALID")
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
                    successor = successor_refresh_token(self._successor_key, refresh_token)
                    if now - row.revoked_at <= self._policy.refresh_grace:
                        # A retry of a rotation whose reply was lost: the same successor.
                        next_row = await uow.refresh_tokens.get_by_hash_for_update(
                            hash_refresh_token(successor)
                        )
                        if (
                            next_row is not None
                            and next_row.revoked_at is None
                            and next_row.expires_at > now
                        ):
                            return self._pair(next_row.user_id, successor, next_row.expires_at)
                    # A rotated token came back: someone holds a stolen copy.
                    await uow.refresh_tokens.revoke_family(row.family_id, "reuse_detected", now)
                    reused = True
            elif row.expires_at <= now:
                raise Unauthenticated(
                    "the refresh token has expired; sign in again", reason="REFRESH_TOKEN_EXPIRED"
                )
            elif await uow.refresh_tokens.revoke(row.id, "rotated", now):
                successor = successor_refresh_token(self._successor_key, refresh_token)
                expires_at = now + self._refresh_ttl
                await uow.refresh_tokens.add(
                    row.user_id, row.family_id, hash_refresh_token(successor), expires_at
                )
                return self._pair(row.user_id, successor, expires_at)
        if reused:
            log.warning("refresh token reuse; family revoked", extra={"family_id": row.family_id})
        raise Unauthenticated(
            "the refresh token was revoked; sign in again", reason="REFRESH_TOKEN_REVOKED"
        )

    async def logout(self, user_id: int, refresh_token: str) -> None:
        if not refresh_token:
            raise InvalidArgument.for_field("refresh_token", "refresh_token is required")
        if not is_well_formed_refresh_token(refresh_token):
            raise NotFound(
                "no such refresh token for this account", reason="REFRESH_TOKEN_NOT_FOUND"
            )
        async with self._db.transaction() as uow:
            row = await uow.refresh_tokens.get_by_hash_for_update(hash_refresh_token(refresh_token))
            if row is None or row.user_id != user_id:
                raise NotFound(
                    "no such refresh token for this account", reason="REFRESH_TOKEN_NOT_FOUND"
                )
            await uow.refresh_tokens.revoke_family(row.family_id, "logout", utcnow())

    async def get_me(self, user_id: int) -> UserProfile:
        """One statement: the account and whether it has a resume. Never stale."""
        async with self._db.transaction(read_only=True) as uow:
            found = await uow.users.get_with_resume_flag(user_id)
        if found is None:
            self._principals.forget(user_id)
            raise _account_gone()
        user, has_resume = found
        self._principals.confirm(user_id)
        return user_profile(user, has_resume)

    async def authenticate(self, access_token: str, *, reads_account: bool = False) -> int:
        """The user id behind a valid access token of an existing account.

        Whether the account exists is asked of the database at most once per
        `principal_ttl` per process and user (PrincipalCache). A call that reads the
        account itself (`reads_account`, GetMe) refuses a gone account there instead,
        so it costs no transaction of its own.
        """
        user_id = self._access.user_id_of(access_token)
        if reads_account or self._principals.is_fresh(user_id):
            return user_id
        async with self._db.transaction(read_only=True) as uow:
            exists = await uow.users.exists(user_id)
        if not exists:
            self._principals.forget(user_id)
            raise _account_gone()
        self._principals.confirm(user_id)
        return user_id

    # --- tokens --------------------------------------------------------------

    def _pair(self, user_id: int, refresh: str, refresh_expires_at: datetime) -> TokenPair:
        access = self._access.issue(user_id)
        return TokenPair(
            access.token, access.expires_at, refresh, refresh_expires_at.replace(microsecond=0)
        )

    async def _issue(self, uow: UnitOfWork, user_id: int, family_id: str | None) -> TokenPair:
        refresh = new_refresh_token()
        expires_at = utcnow() + self._refresh_ttl
        await uow.refresh_tokens.add(
            user_id, family_id or str(uuid.uuid4()), hash_refresh_token(refresh), expires_at
        )
        return self._pair(user_id, refresh, expires_at)


class PrincipalCache:
    """User ids whose account was seen to exist, each trusted for `ttl_seconds`.

    Per process, bounded (least recently confirmed out), on the monotonic clock.
    A deleted account is refused by every call at most `ttl_seconds` after it is
    deleted (at once by GetMe, which reads the account); 0 disables the cache.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._confirmed: OrderedDict[int, float] = OrderedDict()

    def is_fresh(self, user_id: int) -> bool:
        seen = self._confirmed.get(user_id)
        return seen is not None and self._clock() - seen < self._ttl

    def confirm(self, user_id: int) -> None:
        if self._ttl <= 0:
            return
        self._confirmed[user_id] = self._clock()
        self._confirmed.move_to_end(user_id)
        if len(self._confirmed) > self.MAX_ENTRIES:
            self._confirmed.popitem(last=False)

    def forget(self, user_id: int) -> None:
        self._confirmed.pop(user_id, None)


def _account_gone() -> Unauthenticated:
    return Unauthenticated("the account no longer exists", reason="USER_NOT_FOUND")


def _password_candidates(password: str) -> list[str]:
    """The forms of a sign-in password to check, best first.

    The OpaqueString-prepared form first (every hash made since is of that form),
    then the password as sent, when it differs: hashes made before preparation
    were of the raw password, and are replaced on the next successful sign-in.
    Forms that could never have been hashed (too long, unpaired surrogates) are left out.
    """
    if len(password) > MAX_PASSWORD_BYTES:  # characters are at least a byte each
        return []
    forms: list[str] = []
    with contextlib.suppress(ValueError):
        forms.append(prepare_password(password))
    if password not in forms:
        forms.append(password)
    return [
        form
        for form in forms
        if len(form.encode("utf-8", "surrogatepass")) <= MAX_PASSWORD_BYTES
        and not any("\ud800" <= ch <= "\udfff" for ch in form)
    ]


async def _profile(uow: UnitOfWork, user: UserRecord) -> UserProfile:
    return user_profile(user, await uow.users.has_resume(user.id))


def user_profile(user: UserRecord, has_resume: bool) -> UserProfile:
    return UserProfile(
        id=user.id,
        email=user.email,
        name=user.name,
        created_at=user.created_at,
        has_resume=has_resume,
        profile=Profile(
            degree=user.degree or "",
            institution=user.institution or "",
            graduation_year=user.graduation_year,
            target_role=user.target_role or "",
            onboarded=user.onboarded,
        ),
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

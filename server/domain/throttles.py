"""Throttles on sign-in and registration, kept in the database so that they hold
across worker processes (docs/api.md, "Throttles").

Every password check is paid for first with a reservation, one conditional UPDATE
per budget, all or none:

- per account, `max_failures` checks per window, then a lockout. A stranger's
  failures lock the account only for addresses that have not signed in to it
  before; an address the account signed in from (within the refresh-token
  lifetime) has its own budget of the same size, so the owner is not kept out.
- per client address and overall, budgets of failed sign-ins and of registrations.

A success gives back its own reservation of the address and overall budgets
(only failures count there) and clears the account budget it used. Keys are
HMAC-SHA256 of the scope and subject: fixed-size, and they name no email.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from server.clock import utcnow
from server.domain.records import ThrottleRecord
from server.errors import ResourceExhausted
from server.repositories.unit_of_work import Database, UnitOfWork

if TYPE_CHECKING:
    from server.domain.auth import AuthPolicy

# Expired rows deleted per write, so the table stays bounded without a sweeper.
PURGE_BATCH = 50
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Budget:
    key: str
    limit: int
    window: timedelta
    lockout: timedelta | None
    reason: str
    message: str


def address_bucket(peer: str) -> str:
    """The throttles' notion of one client: an IPv4 address, or an IPv6 /64.

    An IPv6 user is usually given a whole /64, so single IPv6 addresses are free
    to an attacker. Anything that is not an IP address shares one bucket.
    """
    try:
        address = ipaddress.ip_address(peer.strip().strip("[]"))
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class Throttles:
    """The budgets of one auth service, and their reservations in the database."""

    def __init__(self, database: Database, secret: bytes, policy: AuthPolicy) -> None:
        self._db = database
        self._policy = policy
        self._throttle_key = hmac.new(secret, b"samvaad auth throttle v1", hashlib.sha256).digest()

    def key(self, *parts: str) -> str:
        """A fixed-size key that names no email: HMAC-SHA256 of the scope and subject."""
        message = "\x1f".join(parts).encode("utf-8", "surrogatepass")
        return hmac.new(self._throttle_key, message, hashlib.sha256).hexdigest()

    def login_budgets(self, email: str, address: str, trusted: bool) -> list[Budget]:
        policy = self._policy.login
        account_key = (
            self.key("login-account-address", email, address)
            if trusted
            else self.key("login-account", email)
        )
        budgets = [
            Budget(
                account_key,
                policy.max_failures,
                policy.window,
                policy.lockout,
                "LOGIN_THROTTLED",
                "too many failed sign-in attempts for this account",
            ),
            Budget(
                self.key("login-address", address),
                self._policy.login_address_max_failures,
                policy.window,
                None,
                "LOGIN_RATE_LIMITED",
                "too many failed sign-in attempts from this address",
            ),
            Budget(
                self.key("login-global"),
                self._policy.login_global_max_failures_per_minute,
                MINUTE,
                None,
                "LOGIN_RATE_LIMITED",
                "too many failed sign-in attempts on this service right now",
            ),
        ]
        return [budget for budget in budgets if budget.limit > 0]

    def registration_budgets(self, address: str) -> list[Budget]:
        budgets = [
            Budget(
                self.key("register-address", address),
                self._policy.register_max_per_address,
                self._policy.register_address_window,
                None,
                "REGISTRATION_RATE_LIMITED",
                "too many registrations from this address",
            ),
            Budget(
                self.key("register-global"),
                self._policy.register_global_max_per_minute,
                MINUTE,
                None,
                "REGISTRATION_RATE_LIMITED",
                "too many registrations on this service right now",
            ),
        ]
        return [budget for budget in budgets if budget.limit > 0]

    async def reserve(self, budgets: list[Budget]) -> None:
        """One unit of every budget, all or none; ResourceExhausted when one is used up."""
        now = utcnow()
        async with self._db.transaction() as uow:
            for budget in sorted(budgets, key=lambda b: b.key):
                reserved = await uow.login_throttles.reserve(
                    budget.key,
                    now,
                    limit=budget.limit,
                    window=budget.window,
                    lockout=budget.lockout,
                )
                if not reserved:
                    row = await uow.login_throttles.get(budget.key)
                    # Raising rolls back the units already taken in this transaction.
                    remaining = _retry_after(row, budget.window, now)
                    raise _throttled(budget, min(remaining, budget.lockout or budget.window))

    async def trust(self, uow: UnitOfWork, email: str, address: str) -> None:
        """Remember that `address` signed in to `email`: a stranger's lockout spares it."""
        now = utcnow()
        await uow.login_throttles.mark(
            self.key("trusted", email, address), now, now + self._policy.refresh_ttl
        )

    async def trusted_until(
        self, uow: UnitOfWork, email: str, address: str, now: datetime
    ) -> datetime | None:
        """Until when `address` counts as one the account signs in from; None if it does not."""
        return await uow.login_throttles.marked_until(self.key("trusted", email, address), now)

    async def settle_success(
        self, uow: UnitOfWork, budgets: list[Budget], checks: int, now: datetime
    ) -> None:
        """A sign-in succeeded: clear the account budget, give back the others' units."""
        # In key order, as reservations lock them, so no two calls wait on each other.
        for budget in sorted(budgets, key=lambda b: b.key):
            if budget.lockout is not None:
                await uow.login_throttles.reset(budget.key, now)
            else:
                for _ in range(checks):
                    await uow.login_throttles.release(budget.key)

    async def purge_expired(self, uow: UnitOfWork, now: datetime) -> None:
        """Delete a bounded batch of expired rows; never waits on rows others hold."""
        await uow.login_throttles.purge_expired(now, PURGE_BATCH)


def _retry_after(row: ThrottleRecord | None, window: timedelta, now: datetime) -> timedelta:
    if row is None:
        return timedelta(seconds=1)
    if row.locked_until is not None and row.locked_until > now:
        return row.locked_until - now
    return row.window_started_at + window - now


def _in_words(seconds: int) -> str:
    """300 -> "5 minutes", 90 -> "2 minutes", 45 -> "45 seconds" (rounded up, never less)."""
    if seconds < 60:
        return f"{seconds} second{'s' * (seconds != 1)}"
    minutes = -(-seconds // 60)
    if minutes < 120:
        return f"{minutes} minute{'s' * (minutes != 1)}"
    return f"{-(-minutes // 60)} hours"


def _throttled(budget: Budget, remaining: timedelta) -> ResourceExhausted:
    seconds = max(1, int(remaining.total_seconds() + 0.999))
    return ResourceExhausted(
        f"{budget.message}; try again in {_in_words(seconds)}",
        reason=budget.reason,
        retry_after_seconds=seconds,
    )

"""SQL for users, refresh tokens and login throttles."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AuthThrottle, RefreshToken, Resume, User
from server.db.types import UtcDateTime
from server.db.upsert import insert_for
from server.domain.records import RefreshTokenRecord, ThrottleRecord, UserRecord
from server.errors import Conflict
from server.repositories.driver import DriverQuery, fetch_one, utc


def _user(row: User) -> UserRecord:
    return UserRecord(
        id=row.id,
        email=row.email,
        name=row.name,
        password_hash=row.password_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
        degree=row.degree,
        institution=row.institution,
        graduation_year=row.graduation_year,
        target_role=row.target_role,
        onboarded=bool(row.onboarded),
    )


# The calls every request makes (server/repositories/driver.py).
_PROFILE = DriverQuery(
    "SELECT u.id, u.email, u.name, u.password_hash, u.created_at, u.updated_at,"
    " EXISTS (SELECT 1 FROM resumes r WHERE r.user_id = u.id),"
    " u.degree, u.institution, u.graduation_year, u.target_role, u.onboarded"
    " FROM users u WHERE u.id = $1"
)
_EXISTS = DriverQuery("SELECT 1 FROM users WHERE id = $1")


def _user_or_none(row: User | None) -> UserRecord | None:
    return _user(row) if row is not None else None


def _token(row: RefreshToken) -> RefreshTokenRecord:
    return RefreshTokenRecord(
        id=row.id,
        user_id=row.user_id,
        family_id=row.family_id,
        token_hash=row.token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoke_reason=row.revoke_reason,
    )


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, email: str, name: str, password_hash: str) -> UserRecord:
        """Conflict when the email is taken (a concurrent registration got there first)."""
        user = User(email=email, name=name, password_hash=password_hash)
        self._session.add(user)
        try:
            await self._session.flush()
        except IntegrityError as error:
            raise Conflict("a user with this email exists") from error
        return _user(user)

    async def get(self, user_id: int) -> UserRecord | None:
        return _user_or_none(await self._session.get(User, user_id))

    async def get_by_email(self, email: str) -> UserRecord | None:
        return _user_or_none(await self._session.scalar(select(User).where(User.email == email)))

    async def exists(self, user_id: int) -> bool:
        return await fetch_one(self._session, _EXISTS, user_id) is not None

    async def get_with_resume_flag(self, user_id: int) -> tuple[UserRecord, bool] | None:
        """The user and whether they have a resume, in one statement; None when gone."""
        row = await fetch_one(self._session, _PROFILE, user_id)
        if row is None:
            return None
        user = UserRecord(
            id=row[0],
            email=row[1],
            name=row[2],
            password_hash=row[3],
            created_at=utc(row[4]),
            updated_at=utc(row[5]),
            degree=row[7],
            institution=row[8],
            graduation_year=row[9],
            target_role=row[10],
            onboarded=bool(row[11]),
        )
        return user, bool(row[6])

    async def update_profile(self, user_id: int, values: dict[str, object]) -> None:
        """Set these profile columns (degree, institution, graduation_year, target_role,
        onboarded) of the user."""
        await self._session.execute(update(User).where(User.id == user_id).values(**values))

    async def has_resume(self, user_id: int) -> bool:
        found = await self._session.scalar(select(Resume.id).where(Resume.user_id == user_id))
        return found is not None

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self._session.execute(
            update(User).where(User.id == user_id).values(password_hash=password_hash)
        )


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, user_id: int, family_id: str, token_hash: str, expires_at: datetime
    ) -> RefreshTokenRecord:
        """Conflict when a token with this hash is stored already."""
        row = RefreshToken(
            user_id=user_id, family_id=family_id, token_hash=token_hash, expires_at=expires_at
        )
        self._session.add(row)
        try:
            await self._session.flush()
        except IntegrityError as error:
            raise Conflict("this refresh token is stored already") from error
        return _token(row)

    async def get_by_hash_for_update(self, token_hash: str) -> RefreshTokenRecord | None:
        row = await self._session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        )
        return _token(row) if row is not None else None

    async def revoke(self, token_id: int, reason: str, now: datetime) -> bool:
        """Revoke one live token; False when it was already revoked (a lost race)."""
        result = await self._session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def revoke_family(self, family_id: str, reason: str, now: datetime) -> None:
        await self._session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )

    async def live_in_family(self, family_id: str) -> list[RefreshTokenRecord]:
        rows = await self._session.scalars(
            select(RefreshToken).where(
                RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None)
            )
        )
        return [_token(row) for row in rows]


class LoginThrottleRepository:
    """The throttles' budgets (`AuthThrottle` rows), each updated atomically in SQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> ThrottleRecord | None:
        row = await self._session.scalar(
            select(AuthThrottle)
            .where(AuthThrottle.key == key)
            .execution_options(populate_existing=True)
        )
        if row is None:
            return None
        return ThrottleRecord(
            key=row.key,
            hits=row.hits,
            window_started_at=row.window_started_at,
            locked_until=row.locked_until,
            expires_at=row.expires_at,
        )

    async def reserve(
        self,
        key: str,
        now: datetime,
        *,
        limit: int,
        window: timedelta,
        lockout: timedelta | None,
    ) -> bool:
        """Take one unit of the budget `key` if any is left; False when it is used up.

        One statement, an upsert whose update is conditional: the database, not this
        process, decides, so parallel calls in any number of workers cannot overdraw
        the budget (PostgreSQL locks the conflicting row and evaluates the WHERE on its
        latest version; SQLite runs one writer at a time). A window that has passed,
        or a lock that has ended, starts the count again. Reaching the limit locks
        the key for `lockout` (None: refused until the window ends).
        """
        row = AuthThrottle
        lock_over = and_(row.locked_until.is_not(None), row.locked_until <= now)
        fresh = or_(row.window_started_at <= now - window, lock_over)
        new_hits = case((fresh, literal(1)), else_=row.hits + 1)
        expires_at = now + max(window, lockout or timedelta(0))
        locks_at_once = lockout is not None and limit <= 1
        statement = (
            insert_for(self._session)(AuthThrottle)
            .values(
                key=key,
                hits=1,
                window_started_at=now,
                locked_until=now + lockout if locks_at_once and lockout else None,
                expires_at=expires_at,
            )
            .on_conflict_do_update(
                index_elements=[AuthThrottle.key],
                set_={
                    "hits": new_hits,
                    "window_started_at": case(
                        (fresh, literal(now, UtcDateTime())), else_=row.window_started_at
                    ),
                    "locked_until": (
                        case(
                            (new_hits >= limit, literal(now + lockout, UtcDateTime())),
                            else_=literal(None, UtcDateTime()),
                        )
                        if lockout is not None
                        else literal(None, UtcDateTime())
                    ),
                    "expires_at": expires_at,
                },
                where=and_(
                    or_(row.locked_until.is_(None), row.locked_until <= now),
                    or_(fresh, row.hits < limit),
                ),
            )
            .returning(row.hits)
        )
        result = await self._session.execute(statement)
        return result.first() is not None

    async def reset(self, key: str, now: datetime) -> None:
        """Forget the units taken from `key` (a successful sign-in); the row stays for reuse."""
        await self._session.execute(
            update(AuthThrottle)
            .where(AuthThrottle.key == key)
            .values(hits=0, window_started_at=now, locked_until=None)
            .execution_options(synchronize_session=False)
        )

    async def release(self, key: str) -> None:
        """Give back one unit (a reservation that turned out not to count)."""
        await self._session.execute(
            update(AuthThrottle)
            .where(AuthThrottle.key == key, AuthThrottle.hits > 0)
            .values(hits=AuthThrottle.hits - 1)
            .execution_options(synchronize_session=False)
        )

    async def clear(self, key: str) -> None:
        await self._session.execute(
            delete(AuthThrottle)
            .where(AuthThrottle.key == key)
            .execution_options(synchronize_session=False)
        )

    async def mark(self, key: str, now: datetime, until: datetime) -> None:
        """A flag row (no budget) that lasts until `until`."""
        await self._session.execute(
            insert_for(self._session)(AuthThrottle)
            .values(key=key, hits=0, window_started_at=now, locked_until=None, expires_at=until)
            .on_conflict_do_update(index_elements=[AuthThrottle.key], set_={"expires_at": until})
        )

    async def marked_until(self, key: str, now: datetime) -> datetime | None:
        """When the flag row `key` expires; None when there is none (or it has expired)."""
        found: datetime | None = await self._session.scalar(
            select(AuthThrottle.expires_at).where(
                AuthThrottle.key == key, AuthThrottle.expires_at > now
            )
        )
        return found

    async def purge_expired(self, now: datetime, limit: int) -> int:
        """Delete at most `limit` rows past their expiry; rows others hold locked are skipped."""
        expired = (
            select(AuthThrottle.key)
            .where(AuthThrottle.expires_at < now)
            .order_by(AuthThrottle.expires_at)
            .limit(limit)
        )
        if self._session.get_bind().dialect.name == "postgresql":
            expired = expired.with_for_update(skip_locked=True)
        result = await self._session.execute(
            delete(AuthThrottle)
            .where(AuthThrottle.key.in_(expired.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

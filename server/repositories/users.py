"""SQL for users, refresh tokens and login throttles."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import LoginThrottle, RefreshToken, Resume, User
from server.db.upsert import insert_for


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, email: str, name: str, password_hash: str) -> User:
        user = User(email=email, name=name, password_hash=password_hash)
        self._session.add(user)
        await self._session.flush()
        return user

    async def get(self, user_id: int) -> User | None:
        return await self._session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        return await self._session.scalar(select(User).where(User.email == email))

    async def exists(self, user_id: int) -> bool:
        found = await self._session.scalar(select(User.id).where(User.id == user_id))
        return found is not None

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
    ) -> RefreshToken:
        row = RefreshToken(
            user_id=user_id, family_id=family_id, token_hash=token_hash, expires_at=expires_at
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def get_by_hash_for_update(self, token_hash: str) -> RefreshToken | None:
        return await self._session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        )

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

    async def live_in_family(self, family_id: str) -> Sequence[RefreshToken]:
        rows = await self._session.scalars(
            select(RefreshToken).where(
                RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None)
            )
        )
        return rows.all()


class LoginThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, email: str) -> LoginThrottle | None:
        return await self._session.get(LoginThrottle, email)

    async def lock_row(self, email: str, now: datetime) -> LoginThrottle:
        """The throttle row of `email`, created if missing, locked for this transaction."""
        await self._session.execute(
            insert_for(self._session)(LoginThrottle)
            .values(email=email, failure_count=0, window_started_at=now)
            .on_conflict_do_nothing(index_elements=[LoginThrottle.email])
        )
        row = await self._session.scalar(
            select(LoginThrottle)
            .where(LoginThrottle.email == email)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert row is not None
        return row

    async def clear(self, email: str) -> None:
        row = await self.get(email)
        if row is not None:
            await self._session.delete(row)

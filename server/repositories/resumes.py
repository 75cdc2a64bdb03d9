"""SQL for resumes and the knowledge-set cache."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Row, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import KnowledgeSet, Resume
from server.db.types import utcnow
from server.db.upsert import insert_for
from server.domain.records import KnowledgeSetRecord, ResumeRecord
from server.domain.resume.types import ResumeFields

_RESUMES: Table = Resume.__table__  # type: ignore[assignment]
_KNOWLEDGE_SETS: Table = KnowledgeSet.__table__  # type: ignore[assignment]


def _resume(row: Resume | Row[Any]) -> ResumeRecord:
    """A record from an ORM row or a Core row of the resumes table (same attribute names)."""
    return ResumeRecord(
        id=row.id,
        user_id=row.user_id,
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        text=row.text,
        text_sha256=row.text_sha256,
        skills=tuple(row.skills),
        years_experience=row.years_experience,
        extractor=row.extractor,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class ResumeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: int) -> ResumeRecord | None:
        row = await self._session.scalar(select(Resume).where(Resume.user_id == user_id))
        return _resume(row) if row is not None else None

    async def exists(self, user_id: int) -> bool:
        found = await self._session.scalar(select(Resume.id).where(Resume.user_id == user_id))
        return found is not None

    async def replace(self, user_id: int, fields: ResumeFields) -> ResumeRecord:
        """Store `fields` as the user's one resume, atomically, whether or not one exists.

        One Core statement, INSERT ... ON CONFLICT DO UPDATE ... RETURNING (SQLite 3.35+
        and PostgreSQL), on the session's connection: no ORM bulk-insert machinery and
        no second SELECT to read the row back.
        """
        now = utcnow()
        values = asdict(fields)
        insert = insert_for(self._session)
        statement = (
            insert(_RESUMES)
            .values(user_id=user_id, created_at=now, updated_at=now, **values)
            .on_conflict_do_update(
                index_elements=[_RESUMES.c.user_id], set_={**values, "updated_at": now}
            )
            .returning(*_RESUMES.c)
        )
        connection = await self._session.connection()
        row = (await connection.execute(statement)).one()
        return _resume(row)


class KnowledgeSetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: int, text_sha256: str) -> KnowledgeSetRecord | None:
        row = await self._session.get(KnowledgeSet, (user_id, text_sha256))
        if row is None:
            return None
        return KnowledgeSetRecord(
            user_id=row.user_id,
            text_sha256=row.text_sha256,
            items=tuple(row.items),
            extractor=row.extractor,
            created_at=row.created_at,
        )

    async def save_if_current(
        self, user_id: int, text_sha256: str, items: list[str], extractor: str
    ) -> None:
        """Cache `items` unless the resume changed meanwhile or another worker cached first."""
        # Locking the resume row orders this against a concurrent upload, which
        # replaces the row and then clears the cache: it either sees this entry
        # and deletes it, or this transaction sees the new text and skips.
        current = await self._session.scalar(
            select(Resume.text_sha256).where(Resume.user_id == user_id).with_for_update()
        )
        if current != text_sha256:
            return
        insert = insert_for(self._session)
        await self._session.execute(
            insert(KnowledgeSet)
            .values(
                user_id=user_id,
                text_sha256=text_sha256,
                items=items,
                extractor=extractor,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=[KnowledgeSet.user_id, KnowledgeSet.text_sha256])
        )

    async def delete_for_user(self, user_id: int) -> None:
        connection = await self._session.connection()
        await connection.execute(
            delete(_KNOWLEDGE_SETS).where(_KNOWLEDGE_SETS.c.user_id == user_id)
        )

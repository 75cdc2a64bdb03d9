"""SQL for resumes and the knowledge-set cache."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import KnowledgeSet, Resume
from server.db.types import utcnow
from server.db.upsert import insert_for
from server.domain.records import KnowledgeSetRecord, ResumeRecord
from server.domain.resume.types import ResumeFields
from server.repositories.driver import DriverQuery, fetch_one, json_param, json_value, utc

_COLUMNS = (
    "id, user_id, filename, content_type, size_bytes, text, text_sha256, skills,"
    " years_experience, extractor, created_at, updated_at"
)
# The upload's one statement (server/repositories/driver.py). Updating the row fires
# the trigger that clears the user's cached knowledge sets (migration 0007), so the
# replacement is atomic without BEGIN and COMMIT.
_REPLACE = DriverQuery(
    "INSERT INTO resumes (user_id, filename, content_type, size_bytes, text, text_sha256,"
    " skills, years_experience, extractor, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (user_id) DO UPDATE SET filename = excluded.filename,"
    " content_type = excluded.content_type, size_bytes = excluded.size_bytes,"
    " text = excluded.text, text_sha256 = excluded.text_sha256, skills = excluded.skills,"
    " years_experience = excluded.years_experience, extractor = excluded.extractor,"
    " updated_at = excluded.updated_at"
    f" RETURNING {_COLUMNS}"
)


def _resume(row: Resume) -> ResumeRecord:
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


def _driver_resume(row: Any) -> ResumeRecord:
    """A record from a driver row of `_COLUMNS`."""
    return ResumeRecord(
        id=row[0],
        user_id=row[1],
        filename=row[2],
        content_type=row[3],
        size_bytes=row[4],
        text=row[5],
        text_sha256=row[6],
        skills=tuple(json_value(row[7])),
        years_experience=row[8],
        extractor=row[9],
        created_at=utc(row[10]),
        updated_at=utc(row[11]),
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
        """Store `fields` as the user's one resume and clear its cached knowledge sets.

        One statement, INSERT ... ON CONFLICT DO UPDATE ... RETURNING (SQLite 3.35+ and
        PostgreSQL), atomic on its own: it may run in a one-statement unit of work.
        """
        now = utcnow()
        row = await fetch_one(
            self._session,
            _REPLACE,
            user_id,
            fields.filename,
            fields.content_type,
            fields.size_bytes,
            fields.text,
            fields.text_sha256,
            json_param(list(fields.skills)),
            fields.years_experience,
            fields.extractor,
            now,
            now,
        )
        assert row is not None  # RETURNING always returns the row written
        return _driver_resume(row)


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

"""INSERT ... ON CONFLICT for whichever database the session is bound to."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession) -> Any:
    """The dialect's `insert`, whose ON CONFLICT clauses both dialects spell the same way."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert

"""transcripts and audio details on question attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("transcript_text", sa.Text(), nullable=True),
        sa.Column("transcript_words", sa.JSON(), nullable=True),
        sa.Column("transcript_language", sa.String(16), nullable=True),
        sa.Column("transcript_engine", sa.String(32), nullable=True),
        sa.Column("transcript_model", sa.String(128), nullable=True),
        sa.Column("audio_format", sa.String(16), nullable=True),
        sa.Column("audio_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("audio_duration_seconds", sa.Float(), nullable=True),
        sa.Column("audio_filename", sa.String(255), nullable=True),
        sa.Column("audio_mime_type", sa.String(64), nullable=True),
        sa.Column("processing_seconds", sa.Float(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("question_attempts") as batch:
        for column in _columns():
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("question_attempts") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)

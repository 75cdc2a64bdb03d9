"""interview reports keep their scores and top next steps in columns

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08

ListInterviews shows each interview's scores and top three next steps in its one
statement; reading them out of the report's JSON payload there would fetch every
answer's analysis. The columns are filled from the payloads of the reports stored
so far (scores stay null for a report with nothing answered).
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOP_NEXT_STEPS = 3


def upgrade() -> None:
    # Plain ADD COLUMNs, never a batch copy of the table (see 0008).
    op.add_column("interview_reports", sa.Column("overall_score", sa.Integer(), nullable=True))
    op.add_column("interview_reports", sa.Column("content_score", sa.Integer(), nullable=True))
    op.add_column("interview_reports", sa.Column("delivery_score", sa.Integer(), nullable=True))
    op.add_column("interview_reports", sa.Column("top_next_steps", sa.JSON(), nullable=True))
    reports = sa.table(
        "interview_reports",
        sa.column("interview_id", sa.BigInteger()),
        sa.column("payload", sa.JSON()),
        sa.column("overall_score", sa.Integer()),
        sa.column("content_score", sa.Integer()),
        sa.column("delivery_score", sa.Integer()),
        sa.column("top_next_steps", sa.JSON()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(reports.c.interview_id, reports.c.payload)).all()
    raw: Any
    for interview_id, raw in rows:
        payload: dict[str, Any] = json.loads(raw) if isinstance(raw, str | bytes) else dict(raw)
        answered = int(payload.get("answered_count") or 0) > 0
        connection.execute(
            reports.update()
            .where(reports.c.interview_id == interview_id)
            .values(
                overall_score=payload.get("overall_score") if answered else None,
                content_score=payload.get("content_score") if answered else None,
                delivery_score=payload.get("delivery_score") if answered else None,
                top_next_steps=list(payload.get("next_steps") or [])[:TOP_NEXT_STEPS],
            )
        )


def downgrade() -> None:
    for column in ("top_next_steps", "delivery_score", "content_score", "overall_score"):
        op.drop_column("interview_reports", column)

"""answer analyses and interview reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.db.types import BigIntId, UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "answer_analyses",
        sa.Column("question_attempt_id", BigIntId, nullable=False),
        sa.Column("analyzer", sa.String(128), nullable=False),
        sa.Column("overall_score", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_attempt_id"],
            ["question_attempts.id"],
            name=op.f("fk_answer_analyses_question_attempt_id_question_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("question_attempt_id", name=op.f("pk_answer_analyses")),
    )
    op.create_table(
        "interview_reports",
        sa.Column("interview_id", BigIntId, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_interview_reports_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("interview_id", name=op.f("pk_interview_reports")),
    )


def downgrade() -> None:
    op.drop_table("interview_reports")
    op.drop_table("answer_analyses")

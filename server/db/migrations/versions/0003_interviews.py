"""interviews, questions and question attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.db.types import BigIntId, UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_table(
        "interviews",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("user_id", BigIntId, nullable=False),
        sa.Column("track", sa.String(64), nullable=False),
        sa.Column("difficulty", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("generator", sa.String(128), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_interviews_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interviews")),
    )
    op.create_index(
        "uq_interviews_active_user_track",
        "interviews",
        ["user_id", "track"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_index("ix_interviews_user_id_id", "interviews", ["user_id", "id"])
    op.create_table(
        "questions",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("interview_id", BigIntId, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("difficulty", sa.String(16), nullable=False),
        sa.Column("concepts", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_questions_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
        sa.UniqueConstraint("interview_id", "position", name=op.f("uq_questions_interview_id")),
    )
    op.create_table(
        "question_attempts",
        sa.Column("id", BigIntId, primary_key=True),
        sa.Column("question_id", BigIntId, nullable=False),
        sa.Column("interview_id", BigIntId, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("transcribed_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_question_attempts_question_id_questions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_question_attempts_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_attempts")),
    )
    op.create_index(op.f("ix_question_attempts_question_id"), "question_attempts", ["question_id"])
    op.create_index(
        op.f("ix_question_attempts_interview_id"), "question_attempts", ["interview_id"]
    )


def downgrade() -> None:
    op.drop_table("question_attempts")
    op.drop_table("questions")
    op.drop_index("ix_interviews_user_id_id", table_name="interviews")
    op.drop_index("uq_interviews_active_user_track", table_name="interviews")
    op.drop_table("interviews")

"""follow-up questions: a question may follow up on another, at most one each

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

Existing questions are all base questions: the new column is null for them.
The unique index on `parent_question_id` is what keeps a follow-up to one
per base question under concurrent calls (NULLs never clash).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN and an index, on both databases. No foreign key: on SQLite adding
    # one means copying `questions` into a new table (batch mode) and dropping the old
    # one, and with foreign keys on, that drop deletes every attempt and analysis (ON
    # DELETE CASCADE). A follow-up lives in its parent's interview and is deleted with it.
    op.add_column("questions", sa.Column("parent_question_id", sa.BigInteger(), nullable=True))
    op.create_index(
        op.f("uq_questions_parent_question_id"), "questions", ["parent_question_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index(op.f("uq_questions_parent_question_id"), table_name="questions")
    op.drop_column("questions", "parent_question_id")

"""follow-up questions: a question may follow up on another, at most one each

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

Existing questions are all base questions: the new column is null for them.
The unique constraint on `parent_question_id` is what keeps a follow-up to one
per base question under concurrent calls (NULLs never clash).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.db.types import BigIntId

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("parent_question_id", BigIntId, nullable=True))
        batch.create_foreign_key(
            op.f("fk_questions_parent_question_id_questions"),
            "questions",
            ["parent_question_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_unique_constraint(
            op.f("uq_questions_parent_question_id"), ["parent_question_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.drop_constraint(op.f("uq_questions_parent_question_id"), type_="unique")
        batch.drop_constraint(op.f("fk_questions_parent_question_id_questions"), type_="foreignkey")
        batch.drop_column("parent_question_id")

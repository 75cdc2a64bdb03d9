"""users gain a profile: degree, institution, graduation year, target role, onboarded

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

Existing accounts keep everything; their profile fields are null and `onboarded`
is false (a server default, so the column can be added NOT NULL to a full table).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs: a batch copy of `users` on SQLite would drop the old table, and
    # with foreign keys on that deletes everything that cascades from a user (see 0008).
    op.add_column("users", sa.Column("degree", sa.String(128), nullable=True))
    op.add_column("users", sa.Column("institution", sa.String(200), nullable=True))
    op.add_column("users", sa.Column("graduation_year", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("target_role", sa.String(128), nullable=True))
    op.add_column(
        "users", sa.Column("onboarded", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    for column in ("onboarded", "target_role", "graduation_year", "institution", "degree"):
        op.drop_column("users", column)

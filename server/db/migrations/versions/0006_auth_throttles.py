"""auth throttles: hashed, expiring budgets replace the per-email login throttle

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

The old `login_throttles` rows (keyed by plain email, never deleted) are dropped:
they hold only short-lived counters, so at worst a lockout in progress ends early.
Existing users' emails, names and password hashes are left as they are: login
looks an email up in its NFKC form and then in the form it was stored under
before, and a password hashed before OpaqueString preparation is checked as sent
and rehashed in the prepared form on its next successful login
(server/domain/auth.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.db.types import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("login_throttles")
    op.create_table(
        "auth_throttles",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UtcDateTime(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_auth_throttles")),
    )
    op.create_index(op.f("ix_auth_throttles_expires_at"), "auth_throttles", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_throttles_expires_at"), table_name="auth_throttles")
    op.drop_table("auth_throttles")
    op.create_table(
        "login_throttles",
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UtcDateTime(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_login_throttles")),
    )

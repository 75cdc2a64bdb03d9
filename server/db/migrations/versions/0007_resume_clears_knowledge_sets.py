"""a replaced resume clears its knowledge sets, in the database

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

UploadResume used to replace the resume and then delete the user's cached
knowledge sets, two statements inside BEGIN ... COMMIT (six thread hops on
SQLite, four round trips on PostgreSQL). A trigger on `resumes` now does the
delete as part of the one upsert statement, so an upload is a single statement
that the database makes atomic on its own, with no BEGIN or COMMIT.

On PostgreSQL the trigger runs after the row is updated, so after the row lock
is taken: a knowledge set that a concurrent GetKnowledgeSet cached for the old
text (it holds that lock while it checks the text) has been committed by then,
and the trigger's DELETE, a new statement with a fresh snapshot under READ
COMMITTED, sees it and removes it. On SQLite writers are serialised anyway.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGER = "resumes_clear_knowledge_sets"
FUNCTION = "samvaad_clear_knowledge_sets"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER UPDATE ON resumes FOR EACH ROW "
            "BEGIN DELETE FROM knowledge_sets WHERE user_id = NEW.user_id; END"
        )
        return
    op.execute(
        f"CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM knowledge_sets WHERE user_id = NEW.user_id; RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {TRIGGER} AFTER UPDATE ON resumes FOR EACH ROW "
        f"EXECUTE FUNCTION {FUNCTION}()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON resumes")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")

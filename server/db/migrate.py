"""Apply Alembic migrations: `python -m server.db.migrate` (what `make migrate` runs)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on a % in a password.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_to_head(url: str) -> None:
    """Migrate the database at `url` to the latest revision.

    env.py drives the async engine with asyncio.run, which cannot nest inside
    a running loop; from async code the migration runs in its own thread.
    """
    config = alembic_config(url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(config, "head")
        return
    errors: list[BaseException] = []

    def run() -> None:
        try:
            command.upgrade(config, "head")
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="alembic-upgrade")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def heads() -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def main() -> None:
    from server.config import Settings
    from server.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    upgrade_to_head(settings.database_url)
    print(f"database at {settings.database_url.split('@')[-1]} is at {', '.join(heads())}")


if __name__ == "__main__":
    main()

"""Apply pending Alembic migrations at start, safely when several instances start at once."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Any constant works; it only has to be the same for every instance of this bot.
_PG_MIGRATION_LOCK_ID = 7_311_042_001


def alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Run `alembic upgrade head` on this engine, one instance at a time."""
    with _migration_lock(engine), engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            _pg_lock(connection)
            try:
                yield
            finally:
                connection.execute(text(f"SELECT pg_advisory_unlock({_PG_MIGRATION_LOCK_ID})"))
                connection.commit()
        return
    with _file_lock(_sqlite_lock_path(engine)):
        yield


def _pg_lock(connection: Connection) -> None:
    connection.execute(text(f"SELECT pg_advisory_lock({_PG_MIGRATION_LOCK_ID})"))
    connection.commit()


def _sqlite_lock_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        return Path("/tmp/zoombot-memory.migrate.lock")  # noqa: S108 - an in-memory DB has no file
    return Path(database).with_suffix(".migrate.lock")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

"""The database check: DATABASE_URL answers a query and its Alembic revision is the code's head."""

from __future__ import annotations

from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.check.report import CheckResult, failed, passed
from bot.config import Settings
from bot.db.migrate import alembic_config
from bot.db.session import make_engine

NAME = "Database"
MIGRATE_FIX = "run `zoombot migrate` (the bot also migrates at start unless AUTO_MIGRATE=false)"
CONNECT_TIMEOUT_SECONDS = 10


def check_database(settings: Settings) -> tuple[CheckResult, Engine | None]:
    """The result, and an engine on the migrated database (the caller disposes of it) so later
    checks may read it; None when it is not reachable or not migrated."""
    shown = shown_url(settings.database_url)
    missing = _missing_sqlite_file(settings.database_url)
    if missing is not None:
        return missing, None
    try:
        engine = _engine(settings.database_url)
    except ArgumentError as exc:
        return failed(NAME, f"DATABASE_URL ({shown}) is not usable: {exc}", _URL_FIX), None
    result = _check(engine, shown)
    if not result.ok:
        engine.dispose()
        return result, None
    return result, engine


def shown_url(database_url: str) -> str:
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "an unreadable URL"


_URL_FIX = (
    "DATABASE_URL is a SQLAlchemy URL: sqlite:///path/zoombot.db or postgresql://user@host/db"
)


def _engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        return make_engine(database_url)
    # A server that drops packets would otherwise keep the check waiting for minutes.
    return make_engine(database_url, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})


def _missing_sqlite_file(database_url: str) -> CheckResult | None:
    """Connecting would create the file (or fail on a missing folder): say which, first."""
    if not database_url.startswith("sqlite"):
        return None
    database = make_url(database_url).database
    if not database or database == ":memory:":
        return failed(
            NAME,
            "DATABASE_URL is an in-memory SQLite database: every request is lost at exit",
            _URL_FIX,
        )
    path = Path(database)
    if not path.parent.is_dir():
        return failed(
            NAME,
            f"cannot open the SQLite database {path}: its folder {path.parent} does not exist",
            "create the folder (on a disk that persists) or fix DATABASE_URL",
        )
    if not path.exists():
        return failed(NAME, f"no SQLite database at {path} yet", MIGRATE_FIX)
    return None


def _check(engine: Engine, shown: str) -> CheckResult:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        return failed(
            NAME,
            f"cannot use DATABASE_URL ({shown}): {_reason(exc)}",
            "check DATABASE_URL, that the database server runs and accepts this user, "
            "and the network to it",
        )
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    if current == heads:
        return passed(NAME, f"{shown} answers, migrated to {', '.join(sorted(heads))} (head)")
    if current - heads:
        return failed(
            NAME,
            f"{shown} is at revision {', '.join(sorted(current))}, unknown to this code",
            "deploy the version of zoombot that migrated it (or a newer one)",
        )
    at = ", ".join(sorted(current)) if current else "no revision (empty)"
    return failed(
        NAME, f"{shown} is at {at}; the code needs {', '.join(sorted(heads))}", MIGRATE_FIX
    )


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's first line: it names host and port, never the password."""
    original = getattr(exc, "orig", None) or exc
    first_line = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {first_line}" if first_line else type(original).__name__

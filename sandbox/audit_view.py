"""Reads the bot's audit log for the sandbox's side panel: the contract's columns of
`subaccount_requests` and `request_events`, never the password ciphertext, never a write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Engine, Table, event, select

from bot.config import normalize_database_url
from bot.db.models import RequestEvent, SubaccountRequest
from bot.db.session import make_engine

REQUEST_COLUMNS = (
    "id",
    "status",
    "requester_id",
    "channel_id",
    "first_name",
    "last_name",
    "email",
    "account_name",
    "reason",
    "approver_id",
    "zoom_http_status",
    "zoom_error_code",
    "zoom_error_message",
    "zoom_account_id",
    "created_at",
    "updated_at",
)
EVENT_COLUMNS = ("id", "request_id", "at", "actor_id", "kind", "detail")
MAX_REQUESTS = 50
MAX_EVENTS = 200

Row = dict[str, Any]


class AuditReader:
    """Newest-first rows as JSON-ready dicts (datetimes as ISO strings, `detail` as stored)."""

    def __init__(self, database_url: str) -> None:
        self._engine = make_engine(normalize_database_url(database_url), pool_size=2)
        self._reads = _read_only(self._engine)

    def requests(self, limit: int = MAX_REQUESTS) -> list[Row]:
        return self._newest(_table(SubaccountRequest.__table__), REQUEST_COLUMNS, limit)

    def events(self, limit: int = MAX_EVENTS) -> list[Row]:
        return self._newest(_table(RequestEvent.__table__), EVENT_COLUMNS, limit)

    def snapshot(self) -> dict[str, list[Row]]:
        return {"requests": self.requests(), "events": self.events()}

    def close(self) -> None:
        self._engine.dispose()

    def _newest(self, table: Table, names: tuple[str, ...], limit: int) -> list[Row]:
        columns: list[Column[Any]] = [table.c[name] for name in names]
        query = select(*columns).order_by(table.c["id"].desc()).limit(limit)
        with self._reads.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [{name: _jsonable(row[name]) for name in names} for row in rows]


def _table(table: Any) -> Table:
    # Declarative models type __table__ as FromClause; these two are plain Tables.
    assert isinstance(table, Table)
    return table


def _read_only(engine: Engine) -> Engine:
    """Connections that refuse writes, so a bug here cannot alter the audit trail."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_query_only)
        return engine
    if engine.dialect.name == "postgresql":
        return engine.execution_options(postgresql_readonly=True)
    return engine


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value

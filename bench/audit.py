"""The databases behind the bots: a throwaway PostgreSQL database per run, and the reads the
benchmark makes from the audit log (posted requests, `zoom_called` times, rate-limit waits)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from bench.payloads import Message
from bot.config import normalize_database_url
from bot.db.models import RequestEvent, SubaccountRequest
from bot.db.session import make_engine

ADMIN_URL_VARIABLE = "ZOOMBOT_BENCH_POSTGRES"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    return os.environ.get(ADMIN_URL_VARIABLE, DEFAULT_ADMIN_URL)


@contextmanager
def throwaway_postgres(admin_url: str) -> Iterator[str]:
    """A fresh database for this run, dropped afterwards (even if a bot still holds it)."""
    name = f"zoombot_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@dataclass(frozen=True)
class Posted:
    request_id: int
    email: str
    message: Message


class AuditReader:
    """Read-only queries on one bot's audit log."""

    def __init__(self, database_url: str) -> None:
        self.engine: Engine = make_engine(normalize_database_url(database_url), pool_size=2)

    def posted(self, emails: list[str]) -> list[Posted]:
        """Requests with these emails that have been posted for approval."""
        query = select(
            SubaccountRequest.id,
            SubaccountRequest.email,
            SubaccountRequest.approval_channel_id,
            SubaccountRequest.approval_ts,
        ).where(
            SubaccountRequest.email.in_(emails),
            SubaccountRequest.approval_ts.is_not(None),
        )
        with self.engine.connect() as connection:
            return [
                Posted(
                    int(row.id),
                    str(row.email),
                    Message(row.approval_channel_id, row.approval_ts, int(row.id)),
                )
                for row in connection.execute(query)
            ]

    def zoom_called_at(self, request_ids: list[int]) -> dict[int, float]:
        """When each request's `zoom_called` event was written (just before the Zoom call)."""
        query = select(RequestEvent.request_id, RequestEvent.at).where(
            RequestEvent.kind == "zoom_called", RequestEvent.request_id.in_(request_ids)
        )
        with self.engine.connect() as connection:
            return {int(row.request_id): row.at.timestamp() for row in connection.execute(query)}

    def rate_limit_waits(self, request_ids: list[int]) -> dict[int, float]:
        """Seconds each request's Zoom calls waited for their rate-limit slots: the bot's
        `rate_limit_wait_ms` in `zoom_result` and `requeued` details (absent: no wait)."""
        query = select(RequestEvent.request_id, RequestEvent.detail).where(
            RequestEvent.kind.in_(("zoom_result", "requeued")),
            RequestEvent.request_id.in_(request_ids),
        )
        waits: dict[int, float] = {}
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                wait_ms = float((row.detail or {}).get("rate_limit_wait_ms") or 0.0)
                request_id = int(row.request_id)
                waits[request_id] = waits.get(request_id, 0.0) + wait_ms / 1000
        return waits

    def count_events_for(self, kind: str, request_ids: list[int]) -> int:
        query = (
            select(func.count())
            .select_from(RequestEvent)
            .where(RequestEvent.kind == kind, RequestEvent.request_id.in_(request_ids))
        )
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def close(self) -> None:
        self.engine.dispose()

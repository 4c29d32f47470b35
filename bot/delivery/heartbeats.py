"""The delivery workers' heartbeats: each worker beats its row in `worker_heartbeats` every few
seconds (worker.HEARTBEAT_SECONDS) and deletes it when it stops. A holder whose beat went
silent (killed) loses its claims without waiting out their lease (see claimable.py); /healthz
reads the newest beat (store.health)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, exists
from sqlalchemy.dialects import postgresql, sqlite

from bot.db.models import WorkerHeartbeat

BEATS = cast(Table, WorkerHeartbeat.__table__)
HOLDER_SILENT_SECONDS = 12.0  # over two missed heartbeats (worker.HEARTBEAT_SECONDS = 5)


class Heartbeats:
    def __init__(self, engine: Engine, *, worker_id: str) -> None:
        self._engine = engine
        self.worker_id = worker_id
        self._postgres = engine.dialect.name == "postgresql"

    def beat(self, *, pid: int) -> None:
        now = datetime.now(UTC)
        dialect = postgresql if self._postgres else sqlite
        statement = dialect.insert(BEATS).values(
            worker_id=self.worker_id, pid=pid, started_at=now, beat_at=now
        )
        with self._engine.begin() as connection:
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[BEATS.c.worker_id], set_={"beat_at": now}
                )
            )

    def stop_beating(self) -> None:
        with self._engine.begin() as connection:
            connection.execute(BEATS.delete().where(BEATS.c.worker_id == self.worker_id))


def beating(worker_id: Any, now: datetime) -> Any:
    """SQL: the worker `worker_id` (a column or a value) beat within HOLDER_SILENT_SECONDS."""
    return exists().where(
        BEATS.c.worker_id == worker_id,
        BEATS.c.beat_at > now - timedelta(seconds=HOLDER_SILENT_SECONDS),
    )

"""Waking the worker the moment there is work: PostgreSQL's LISTEN/NOTIFY across processes,
and, in one process (`python app.py`), the engine's commit of a transaction that owed a row."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine, event

from bot.delivery.outbox import NOTIFY_CHANNEL, WAKE_FLAG

logger = logging.getLogger(__name__)
RECONNECT_SECONDS = 2.0


class Wakeup:
    """Every waiter's event is set by a wake; one per loop (delivery, Zoom jobs)."""

    def __init__(self) -> None:
        self._events: list[threading.Event] = []
        self._lock = threading.Lock()

    def event(self) -> threading.Event:
        waiter = threading.Event()
        with self._lock:
            self._events.append(waiter)
        return waiter

    def wake(self) -> None:
        with self._lock:
            for waiter in self._events:
                waiter.set()


def wake_on_commit(engine: Engine, wakeup: Wakeup) -> None:
    """A transaction of this process that owed Slack something (outbox.wake_after_commit) wakes
    this process's worker once it commits."""

    @event.listens_for(engine, "commit")
    def _on_commit(connection: Any) -> None:
        if connection.info.pop(WAKE_FLAG, False):
            # "commit" fires just before the COMMIT: the worker's claim may run a moment early
            # and find nothing, so it claims once more shortly after (see worker.CATCH_UP).
            wakeup.wake()

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Any) -> None:
        connection.info.pop(WAKE_FLAG, None)


class Listener:
    """LISTEN on PostgreSQL in a thread of its own; every NOTIFY wakes this process's loops."""

    def __init__(self, database_url: str, wakeup: Wakeup) -> None:
        self._url = _psycopg_url(database_url)
        self._wakeup = wakeup
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=3.0)

    def _run(self) -> None:
        import psycopg  # noqa: PLC0415 - only deployments on PostgreSQL have a listener

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._wakeup.wake()  # whatever was owed while we were not listening
                    while not self._stopping.is_set():
                        for _notice in connection.notifies(timeout=1.0, stop_after=1):
                            self._wakeup.wake()
            except psycopg.Error as exc:
                logger.warning(
                    "outbox LISTEN connection lost (%s); reconnecting", type(exc).__name__
                )
                self._stopping.wait(RECONNECT_SECONDS)


def _psycopg_url(database_url: str) -> str:
    """SQLAlchemy's `postgresql+psycopg://` as libpq's `postgresql://`."""
    scheme, _, rest = database_url.partition("://")
    return f"{scheme.split('+', 1)[0]}://{rest}"

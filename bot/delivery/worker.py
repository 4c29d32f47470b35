"""The delivery loop of the worker process: claim due outbox rows, deliver each on a small
thread pool, beat a heartbeat, and run the periodic upkeep (repairs, reaction read-back).

Wakes on a NOTIFY or a local commit (wakeup.py), else when the soonest retry or post slot is
due, else every `poll_seconds`. A row whose delivery raised something unforeseen is logged with
a reference and retried after a backoff; a holder that died leaves its rows to the lease.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot.delivery.heartbeats import Heartbeats
from bot.delivery.sender import Sender
from bot.delivery.store import OutboxRow, OutboxStore, backoff_seconds
from bot.observability.context import log_context
from bot.runtime.tasks import reference_id

logger = logging.getLogger(__name__)

CATCH_UP_SECONDS = 0.02  # a wake may come a moment before its COMMIT: look once more after it
HEARTBEAT_SECONDS = 5.0


@dataclass(frozen=True)
class Upkeep:
    """A periodic task of the worker (its first run is at start)."""

    name: str
    run: Callable[[], object]
    every_seconds: float


class DeliveryWorker:
    def __init__(
        self,
        *,
        store: OutboxStore,
        heartbeats: Heartbeats,
        sender: Sender,
        wake: threading.Event,
        parallel: int = 8,
        poll_seconds: float = 1.0,
        upkeep: tuple[Upkeep, ...] = (),
    ) -> None:
        self._store = store
        self._heartbeats = heartbeats
        self._sender = sender
        self._wake = wake
        self._parallel = parallel
        self._poll_seconds = poll_seconds
        self._upkeep = upkeep
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="deliver")
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._claiming = 0
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        # Beat before the first claim: a claim by a holder with no heartbeat is free to take.
        with contextlib.suppress(SQLAlchemyError):
            self._heartbeats.beat(pid=os.getpid())
        for target, name in (
            (self._loop, "deliver-poll"),
            (self._heartbeat, "deliver-beat"),
            (self._upkeep_loop, "deliver-upkeep"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout_seconds)
        self._pool.shutdown(wait=True)
        with contextlib.suppress(SQLAlchemyError):  # else the heartbeat lapses by itself
            self._heartbeats.stop_beating()

    def idle(self) -> bool:
        """Nothing in flight here and nothing due within a few seconds (tests wait on it)."""
        with self._lock:
            if self._in_flight or self._claiming:
                return False
        return not self._store.has_due(within_seconds=3.0)

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            if self._claim():
                continue
            if self._wake.wait(self._wait_seconds()):
                # A local wake fires just before its COMMIT: give the commit a moment.
                self._stopping.wait(CATCH_UP_SECONDS)

    def _claim(self) -> list[OutboxRow]:
        with self._lock:
            free = self._parallel - len(self._in_flight)
            if free <= 0:
                return []
            self._claiming += 1
            in_flight = frozenset(self._in_flight)
        try:
            rows = self._store.claim(free, in_flight=in_flight)
            with self._lock:
                self._in_flight.update(row.id for row in rows)
        except SQLAlchemyError as exc:
            logger.warning("outbox claim failed (%s); retrying", type(exc).__name__)
            self._stopping.wait(1.0)
            rows = []
        finally:
            with self._lock:
                self._claiming -= 1
        for row in rows:
            self._pool.submit(self._deliver, row)
        return rows

    def _wait_seconds(self) -> float:
        try:
            return max(CATCH_UP_SECONDS, self._store.next_due_in(self._poll_seconds))
        except SQLAlchemyError:
            return self._poll_seconds

    def _deliver(self, row: OutboxRow) -> None:
        try:
            with log_context(outbox_id=row.id, request_id=row.request_id):
                self._sender.deliver(row)
        except SQLAlchemyError as exc:
            # Still held by this worker: its next claim takes it again (store.claim).
            logger.warning("outbox row %s: database error (%s)", row.id, type(exc).__name__)
        except Exception:
            ref = reference_id()
            logger.exception("outbox row %s: delivery failed unexpectedly (ref %s)", row.id, ref)
            self._retry_later(row, error=f"unexpected:{ref}")
        finally:
            with self._lock:
                self._in_flight.discard(row.id)
            self._wake.set()  # a slot is free; the queue's next row may be due

    def _retry_later(self, row: OutboxRow, *, error: str) -> None:
        with contextlib.suppress(SQLAlchemyError):  # else the lease lapses instead
            self._store.retry(
                row,
                delay_seconds=backoff_seconds(row.attempts + 1),
                maybe_sent=True,  # unknown where it failed: look before posting again
                error=error,
            )

    # -- heartbeat and upkeep ---------------------------------------------------------------

    def _heartbeat(self) -> None:
        while not self._stopping.is_set():
            try:
                self._heartbeats.beat(pid=os.getpid())
            except SQLAlchemyError as exc:
                logger.warning("worker heartbeat failed (%s)", type(exc).__name__)
            self._stopping.wait(HEARTBEAT_SECONDS)

    def _upkeep_loop(self) -> None:
        last_run: dict[str, float] = {}
        while not self._stopping.is_set():
            now = time.monotonic()
            for task in self._upkeep:
                if now - last_run.get(task.name, -1e9) >= task.every_seconds:
                    last_run[task.name] = now
                    self._run_upkeep(task)
            self._stopping.wait(1.0)

    def _run_upkeep(self, task: Upkeep) -> None:
        try:
            task.run()
        except SQLAlchemyError as exc:
            logger.warning("%s failed (%s); retrying later", task.name, type(exc).__name__)
        except Exception:
            logger.exception("%s failed (ref %s)", task.name, reference_id())

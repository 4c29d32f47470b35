"""Durable provisioning: the Zoom call is driven by the request row, not by a thread's memory.

A request in `provisioning` is a job. Each instance polls for due jobs and claims them with one
conditional UPDATE (one winner across instances), holds a lease it renews while the call runs,
and gives it up by finishing it. A job whose holder died is claimed again once its lease lapses;
the workflow then looks Zoom up before sending anything twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import RequestStatus, SubaccountRequest
from bot.observability.context import log_context

logger = logging.getLogger(__name__)


def new_instance_id() -> str:
    return f"instance-{uuid.uuid4().hex[:12]}"


def _due(now: datetime | None = None) -> ColumnElement[bool]:
    now = now or datetime.now(UTC)
    return and_(
        SubaccountRequest.status == RequestStatus.PROVISIONING,
        or_(SubaccountRequest.claimed_by.is_(None), SubaccountRequest.claim_expires_at < now),
    )


class ProvisioningWorker:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        run_job: Callable[[int], None],
        instance_id: str,
        lease_seconds: float = 60.0,
        poll_seconds: float = 2.0,
        max_parallel: int = 4,
        sweep: Callable[[], None] | None = None,
        wake: threading.Event | None = None,
    ) -> None:
        self.instance_id = instance_id
        self._sessions = sessions
        self._run_job = run_job
        self._lease = timedelta(seconds=lease_seconds)
        self._poll_seconds = poll_seconds
        self._max_parallel = max_parallel
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="provision")
        self._wake = wake or threading.Event()  # also set by NOTIFY (bot/delivery/wakeup.py)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._claiming = 0  # claims under way: their jobs may have left "due" already
        self._threads: list[threading.Thread] = []
        # Pending-request upkeep (reminders, escalation, expiry) rides on this loop: it is
        # already durable, polled on every instance, and stopped with the bot.
        self._sweep = sweep

    def start(self) -> None:
        for target, name in ((self._loop, "provision-poll"), (self._heartbeat, "provision-lease")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """A job just became due here: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout_seconds: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout_seconds)
        self._pool.shutdown(wait=True)

    def idle(self) -> bool:
        with self._lock:
            return not self._in_flight and not self._claiming

    def has_due_jobs(self) -> bool:
        with self._sessions() as session:
            return session.scalar(select(SubaccountRequest.id).where(_due()).limit(1)) is not None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                claimed = self.claim_due()
            except SQLAlchemyError as exc:
                logger.warning("provisioning poll failed (%s); retrying", type(exc).__name__)
                claimed = []
            for request_id in claimed:
                self._pool.submit(self._run, request_id)
            self._run_sweep()
            if not claimed:
                self._wake.wait(self._poll_seconds)

    def _run_sweep(self) -> None:
        if self._sweep is None:
            return
        try:
            self._sweep()
        except SQLAlchemyError as exc:
            logger.warning("pending-request sweep failed (%s); retrying", type(exc).__name__)
        except Exception:
            # Provisioning must not stop because the upkeep of pending requests broke.
            logger.exception("pending-request sweep failed")

    def claim_due(self) -> list[int]:
        # Counted as claiming before the UPDATE commits, so no observer ever sees a job neither
        # due nor held (the test harness and shutdown wait on exactly that).
        with self._lock:
            free = self._max_parallel - len(self._in_flight)
            if free <= 0:
                return []
            self._claiming += 1
        claimed: list[int] = []
        try:
            claimed = self._claim(free)
        finally:
            with self._lock:
                self._in_flight.update(claimed)
                self._claiming -= 1
        return claimed

    def _claim(self, limit: int) -> list[int]:
        """Claim up to `limit` due jobs in one statement. Of instances claiming the same job, the
        UPDATE that waits for another's row lock re-checks `_due()` on the committed row and
        skips it (PostgreSQL); SQLite runs one writer at a time."""
        now = datetime.now(UTC)
        due_ids = (
            select(SubaccountRequest.id)
            .where(_due(now))
            .order_by(SubaccountRequest.id)
            .limit(limit)
            .scalar_subquery()
        )
        with self._sessions.begin() as session:
            claimed = session.scalars(
                update(SubaccountRequest)
                .where(SubaccountRequest.id.in_(due_ids), _due(now))
                .values(claimed_by=self.instance_id, claim_expires_at=now + self._lease)
                .returning(SubaccountRequest.id)
                .execution_options(synchronize_session=False)
            )
            return sorted(claimed)

    def _run(self, request_id: int) -> None:
        try:
            with log_context(request_id=request_id):  # every log line of the job names it
                self._run_job(request_id)
        except Exception:
            # The job's row keeps its lease; it is retried (and reconciled) when the lease lapses.
            logger.exception("provisioning job for request %s failed", request_id)
        finally:
            with self._lock:
                self._in_flight.discard(request_id)
            self._wake.set()

    def _heartbeat(self) -> None:
        interval_seconds = self._lease.total_seconds() / 3
        while not self._stopping.wait(interval_seconds):
            try:
                self.renew_leases()
            except SQLAlchemyError as exc:
                logger.warning("lease renewal failed (%s)", type(exc).__name__)

    def renew_leases(self) -> None:
        with self._lock:
            held = sorted(self._in_flight)
        if not held:
            return
        with self._sessions.begin() as session:
            session.execute(
                update(SubaccountRequest)
                .where(
                    SubaccountRequest.id.in_(held),
                    SubaccountRequest.claimed_by == self.instance_id,
                    SubaccountRequest.status == RequestStatus.PROVISIONING,
                )
                .values(claim_expires_at=datetime.now(UTC) + self._lease)
            )

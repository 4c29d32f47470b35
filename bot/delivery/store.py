"""The outbox's SQL (the procrastinate `manager` of this package): claim due rows (which are
claimable: claimable.py), mark a send under way and pace its queue, settle rows, and the figures
/healthz reads. The worker loop is in worker.py, its heartbeats in heartbeats.py, the events of
each attempt in settling.py.

One UPDATE claims; on PostgreSQL its candidate SELECT takes `FOR UPDATE SKIP LOCKED`, so any
number of workers claim side by side without waiting on each other.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.delivery.claimable import (
    OUTBOX,
    PACING,
    PENDING,
    POSTING_VALUES,
    claimable,
    first_of_its_queue,
    unclaimed,
)
from bot.delivery.heartbeats import BEATS

DELIVERED, FAILED = "delivered", "failed"
MAX_BACKOFF_SECONDS = 300.0


@dataclass(frozen=True)
class OutboxRow:
    """A claimed row, as the sender needs it."""

    id: int
    kind: str
    queue: str
    request_id: int | None
    channel_id: str | None
    user_id: str | None
    payload: dict[str, Any]
    attempts: int
    maybe_sent: bool
    deadline_at: datetime
    created_at: datetime


def backoff_seconds(attempts: int, *, rng: random.Random | None = None) -> float:
    """Exponential with full jitter (1 s, 2 s, 4 s … capped at 5 minutes): many rows failing
    together do not come back together."""
    ceiling = min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, attempts - 1))
    return max(0.5, (rng or random).uniform(ceiling / 2, ceiling))


class OutboxStore:
    def __init__(self, engine: Engine, *, instance_id: str, lease_seconds: float = 60.0) -> None:
        self._engine = engine
        self.instance_id = instance_id
        self._lease = timedelta(seconds=lease_seconds)
        self._postgres = engine.dialect.name == "postgresql"

    # -- claiming ---------------------------------------------------------------------------

    def claim(self, limit: int, *, in_flight: frozenset[int] = frozenset()) -> list[OutboxRow]:
        """Up to `limit` claimable rows, now held by this instance. Rows this instance holds
        but is not delivering (`in_flight` are those it is) are claimable again: a delivery cut
        short by a database error left them held, and the lease would block their queue."""
        now = datetime.now(UTC)
        not_in_flight = OUTBOX.c.id.not_in(list(in_flight))
        mine_idle = and_(OUTBOX.c.claimed_by == self.instance_id, not_in_flight)
        candidates = (
            select(OUTBOX.c.id)
            .where(*claimable(now, mine_idle=mine_idle), not_in_flight)
            .order_by(OUTBOX.c.id)
            .limit(limit)
        )
        if self._postgres:
            candidates = candidates.with_for_update(skip_locked=True)
        claim = (
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(candidates.scalar_subquery()))
            .values(claimed_by=self.instance_id, claim_expires_at=now + self._lease)
            .returning(*OUTBOX.c)
        )
        with self._engine.begin() as connection:
            found = connection.execute(claim).mappings().all()
        return sorted((_row(values) for values in found), key=lambda row: row.id)

    def next_due_in(self, cap_seconds: float) -> float:
        """Seconds until a row may become claimable: the soonest of each queue's first row's
        retry time and (for a post) its queue's next slot. A row behind another, or held by a
        delivery under way, is not counted: that delivery's end wakes the loop."""
        now = datetime.now(UTC)
        heads = (
            select(OUTBOX.c.next_attempt_at, OUTBOX.c.kind, PACING.c.next_slot_epoch)
            .select_from(OUTBOX.outerjoin(PACING, PACING.c.queue == OUTBOX.c.queue))
            .where(OUTBOX.c.status == PENDING, unclaimed(now), first_of_its_queue())
            .order_by(OUTBOX.c.next_attempt_at)
            .limit(100)
        )
        with self._engine.connect() as connection:
            found = connection.execute(heads).all()
        waits = [cap_seconds]
        for retry_at, kind, slot in found:
            due = _aware(retry_at).timestamp()
            if kind in POSTING_VALUES and slot is not None:
                due = max(due, float(slot))
            waits.append(due - now.timestamp())
        return max(0.0, min(waits))

    def has_due(self, *, within_seconds: float = 0.0) -> bool:
        """A pending row is due now or within `within_seconds` (tests wait for none)."""
        horizon = datetime.now(UTC) + timedelta(seconds=within_seconds)
        with self._engine.connect() as connection:
            found = connection.scalar(
                select(OUTBOX.c.id)
                .where(OUTBOX.c.status == PENDING, OUTBOX.c.next_attempt_at <= horizon)
                .limit(1)
            )
        return found is not None

    # -- before and after a send ------------------------------------------------------------

    def mark_sending(self, row: OutboxRow, *, pace_seconds: float | None) -> None:
        """Committed before a post leaves: a crash from here on makes the next holder look the
        message up first. The queue's next post slot is taken in the same transaction."""
        with self._engine.begin() as connection:
            connection.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == row.id)
                .values(maybe_sent=True, attempts=OUTBOX.c.attempts + 1)
            )
            if pace_seconds is not None:
                self._reserve_slot(connection, row.queue, time.time() + pace_seconds)

    def pause_queue(self, queue: str, seconds: float) -> None:
        """Slack said 429 for this queue's channel: nothing of it leaves before `seconds`."""
        with self._engine.begin() as connection:
            self._reserve_slot(connection, queue, time.time() + seconds)

    def _reserve_slot(self, connection: Connection, queue: str, epoch: float) -> None:
        dialect = postgresql if self._postgres else sqlite
        statement = dialect.insert(PACING).values(queue=queue, next_slot_epoch=epoch)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[PACING.c.queue], set_={"next_slot_epoch": epoch}
            )
        )

    def delivered(
        self, connection: Connection, row: OutboxRow, *, ts: str | None, channel_id: str | None
    ) -> None:
        """Within the caller's transaction, which records what the delivery made true."""
        self._settle(
            connection, row, status=DELIVERED, slack_ts=ts, channel_id=channel_id or row.channel_id
        )

    def failed(self, connection: Connection, row: OutboxRow, *, error: str) -> None:
        self._settle(connection, row, status=FAILED, last_error=error)

    def retry(
        self,
        row: OutboxRow,
        *,
        delay_seconds: float,
        maybe_sent: bool,
        error: str,
        counted: bool = True,
    ) -> None:
        """Due again after `delay_seconds`, its claim given up. `counted`: False for a deferral
        (waiting for another row), which is no attempt."""
        values: dict[str, Any] = {
            "next_attempt_at": datetime.now(UTC) + timedelta(seconds=delay_seconds),
            "maybe_sent": maybe_sent,
            "claimed_by": None,
            "claim_expires_at": None,
        }
        if counted:
            values["last_error"] = error[:96]
        with self._engine.begin() as connection:
            connection.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == row.id, OUTBOX.c.claimed_by == self.instance_id)
                .values(**values)
            )

    def set_channel(self, row: OutboxRow, channel_id: str) -> None:
        """A DM's channel, once conversations.open named it (the look-up needs it later)."""
        with self._engine.begin() as connection:
            connection.execute(
                update(OUTBOX).where(OUTBOX.c.id == row.id).values(channel_id=channel_id)
            )

    def remember(self, row: OutboxRow, **fields: Any) -> None:
        """Facts of a send in progress (a file's id), kept on the row for its next attempt."""
        row.payload.update(fields)
        with self._engine.begin() as connection:
            connection.execute(
                update(OUTBOX).where(OUTBOX.c.id == row.id).values(payload=dict(row.payload))
            )

    def _settle(self, connection: Connection, row: OutboxRow, **values: Any) -> None:
        connection.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == row.id)
            .values(finished_at=datetime.now(UTC), claimed_by=None, claim_expires_at=None, **values)
        )


def health(engine: Engine) -> dict[str, float | None]:
    """Seconds since any worker's last beat, and how long the oldest due row has waited."""
    now = datetime.now(UTC)
    with engine.connect() as connection:
        beat = connection.scalar(select(func.max(BEATS.c.beat_at)))
        oldest = connection.scalar(
            select(func.min(OUTBOX.c.next_attempt_at)).where(
                OUTBOX.c.status == PENDING, OUTBOX.c.next_attempt_at <= now
            )
        )
    return {
        "worker_seconds": None if beat is None else (now - _aware(beat)).total_seconds(),
        "oldest_due_seconds": 0.0 if oldest is None else (now - _aware(oldest)).total_seconds(),
    }


def _row(values: Any) -> OutboxRow:
    return OutboxRow(
        id=values["id"],
        kind=values["kind"],
        queue=values["queue"],
        request_id=values["request_id"],
        channel_id=values["channel_id"],
        user_id=values["user_id"],
        payload=dict(values["payload"] or {}),
        attempts=values["attempts"],
        maybe_sent=bool(values["maybe_sent"]),
        deadline_at=_aware(values["deadline_at"]),
        created_at=_aware(values["created_at"]),
    )


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

"""A Zoom rate limit shared by every instance: each call reserves the next free slot in one row.

Zoom's limits are per account and shared by all apps on it, so a per-process bucket would let
three instances send three times the rate. One locked row hands out slots in order, and
the Zoom client waits for its slot right before each request goes out (see runtime/parts.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import ZoomRateSlot

_SLOT_ROW = 1
_MAX_LATE_WAKEUPS = 3  # then go anyway: a machine this late cannot keep any schedule
_tallies = threading.local()


@dataclass
class WaitTally:
    seconds: float = 0.0


@contextmanager
def counting_waits() -> Iterator[WaitTally]:
    """Add up the slot waits of this thread inside the block. The Zoom client waits in an httpx
    request hook (same thread), where the value acquire() returns cannot reach the caller."""
    tally, outer = WaitTally(), getattr(_tallies, "current", None)
    _tallies.current = tally
    try:
        yield tally
    finally:
        _tallies.current = outer


class SharedRateLimiter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        rate_per_second: float,
        arrival_jitter_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`arrival_jitter_seconds`: how far apart in time calls sent exactly on their slots may
        still arrive at Zoom (thread wake-ups, the HTTP client, the network). Zoom counts the
        calls that arrive in any second, so `rate_per_second` slots are spread over one second
        plus this: a call arriving that much early beside one arriving late draws no 429."""
        self._sessions = sessions
        self._interval_seconds = (1.0 + arrival_jitter_seconds) / rate_per_second
        self._clock = clock
        self._sleep = sleep

    def acquire(self) -> float:
        """Wait for this caller's slot; returns the seconds waited."""
        waited_seconds = 0.0
        for _ in range(_MAX_LATE_WAKEUPS):
            slot = self._reserve()
            # Measured after the reservation: the database round trip (or a wait for the row
            # lock) must not be added to the wait, or calls drift late unevenly and bunch up.
            wait_seconds = max(0.0, slot - self._clock())
            if wait_seconds:
                self._sleep(wait_seconds)
            waited_seconds += wait_seconds
            # A caller that wakes more than half a slot late (a busy machine, a fresh process)
            # would land on the next caller's slot: give this one up and take a new one, which
            # leaves a gap instead of a burst.
            if self._clock() - slot <= self._interval_seconds / 2:
                break
        tally: WaitTally | None = getattr(_tallies, "current", None)
        if tally is not None:
            tally.seconds += waited_seconds
        return waited_seconds

    def _reserve(self) -> float:
        for _ in range(3):
            with self._sessions.begin() as session:
                # The row is locked before the clock is read: time spent connecting or queued
                # behind other instances must not make "now" stale, or the slot handed out is
                # already past and the call goes out too close to the next one.
                if _lock(session):
                    next_slot = _advance(session, self._clock(), self._interval_seconds)
                    return next_slot - self._interval_seconds
            # The first call ever creates the row, then reserves through it like any other: a
            # slot handed out by the INSERT itself would be stale by the time it commits.
            with suppress(IntegrityError), self._sessions.begin() as session:
                session.add(ZoomRateSlot(id=_SLOT_ROW, next_slot_epoch=0.0))
        raise RuntimeError("could not reserve a Zoom rate-limit slot")


def _lock(session: Session) -> bool:
    """Lock the slot row (PostgreSQL); False when it does not exist yet."""
    query = select(ZoomRateSlot.id).where(ZoomRateSlot.id == _SLOT_ROW).with_for_update()
    return session.scalar(query) is not None


def _advance(session: Session, now: float, interval_seconds: float) -> float:
    """Move the next free slot on; returns it. One statement, so it stays atomic where FOR
    UPDATE is not available (SQLite), and RETURNING saves reading our own write back."""
    start = case((ZoomRateSlot.next_slot_epoch > now, ZoomRateSlot.next_slot_epoch), else_=now)
    next_slot = session.scalar(
        update(ZoomRateSlot)
        .where(ZoomRateSlot.id == _SLOT_ROW)
        .values(next_slot_epoch=start + interval_seconds)
        .returning(ZoomRateSlot.next_slot_epoch)
    )
    return float(next_slot or 0.0)

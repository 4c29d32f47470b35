"""A Zoom rate limit shared by every instance: each call reserves the next free slot in one row.

Zoom's limits are per account and shared by all apps on it, so a per-process bucket would let
three instances send three times the rate. One conditional UPDATE hands out slots in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import ZoomRateSlot

_SLOT_ROW = 1


class SharedRateLimiter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        rate_per_second: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sessions = sessions
        self._interval_seconds = 1.0 / rate_per_second
        self._clock = clock
        self._sleep = sleep

    def acquire(self) -> float:
        """Wait for this caller's slot; returns the seconds waited."""
        now = self._clock()
        slot = self._reserve(now)
        wait_seconds = max(0.0, slot - now)
        if wait_seconds:
            self._sleep(wait_seconds)
        return wait_seconds

    def _reserve(self, now: float) -> float:
        for _ in range(3):
            with self._sessions.begin() as session:
                if _advance(session, now, self._interval_seconds):
                    return _next_slot(session) - self._interval_seconds
            try:
                with self._sessions.begin() as session:
                    session.add(
                        ZoomRateSlot(id=_SLOT_ROW, next_slot_epoch=now + self._interval_seconds)
                    )
                return now
            except IntegrityError:
                continue  # another instance created the row first; reserve through it
        raise RuntimeError("could not reserve a Zoom rate-limit slot")


def _advance(session: Session, now: float, interval_seconds: float) -> bool:
    start = case((ZoomRateSlot.next_slot_epoch > now, ZoomRateSlot.next_slot_epoch), else_=now)
    result = session.execute(
        update(ZoomRateSlot)
        .where(ZoomRateSlot.id == _SLOT_ROW)
        .values(next_slot_epoch=start + interval_seconds)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _next_slot(session: Session) -> float:
    # Same transaction as the UPDATE, which holds the row lock: this reads our own write.
    return float(
        session.scalar(select(ZoomRateSlot.next_slot_epoch).where(ZoomRateSlot.id == _SLOT_ROW))
        or 0.0
    )

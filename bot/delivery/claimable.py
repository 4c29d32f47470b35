"""Which outbox rows may be claimed now, as SQL conditions for the store's queries (store.py).

A row is claimable when it is pending, due, unclaimed (or its holder's lease lapsed, or its
holder stopped beating), the first pending row of its queue, and, for a post, its queue's pace
allows one now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, exists, or_

from bot.db.models import SlackOutbox, SlackPacing
from bot.delivery.heartbeats import beating
from bot.delivery.outbox import POSTING_KINDS

OUTBOX = cast(Table, SlackOutbox.__table__)
PACING = cast(Table, SlackPacing.__table__)
PENDING = "pending"
POSTING_VALUES = frozenset(kind.value for kind in POSTING_KINDS)


def claimable(now: datetime, *, mine_idle: Any = None) -> list[Any]:
    unclaimed_now = unclaimed(now) if mine_idle is None else or_(unclaimed(now), mine_idle)
    return [
        OUTBOX.c.status == PENDING,
        OUTBOX.c.next_attempt_at <= now,
        unclaimed_now,
        first_of_its_queue(),
        slot_open(now),
    ]


def unclaimed(now: datetime) -> Any:
    return or_(
        OUTBOX.c.claimed_by.is_(None),
        OUTBOX.c.claim_expires_at < now,
        # Its holder stopped beating (killed): its rows need not wait out the lease, which
        # would hold up every row queued behind them.
        ~beating(OUTBOX.c.claimed_by, now),
    )


def first_of_its_queue() -> Any:
    """The first pending row of its queue: a queue's rows leave one by one, in order."""
    earlier = OUTBOX.alias("earlier")
    return ~exists().where(
        earlier.c.queue == OUTBOX.c.queue,
        earlier.c.status == PENDING,
        earlier.c.id < OUTBOX.c.id,
    )


def slot_open(now: datetime) -> Any:
    """Not a post, or its queue may post now."""
    return or_(
        OUTBOX.c.kind.not_in(POSTING_VALUES),
        ~exists().where(
            and_(
                PACING.c.queue == OUTBOX.c.queue,
                PACING.c.next_slot_epoch > now.timestamp(),
            )
        ),
    )

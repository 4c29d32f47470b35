"""Pending requests do not rot: after REMIND_AFTER a reminder, after ESCALATE_AFTER an
escalation, after APPROVAL_TTL expiry. The provisioning worker's loop runs the sweep.

Each step is one conditional UPDATE plus its `request_events` row in the same transaction, so
of several instances (or one restarted) exactly one takes each step; only that one tells Slack.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import RequestStatus, SubaccountRequest
from bot.durations import describe
from bot.requests.events import EventKind
from bot.requests.transitions import Cause, move_accounts
from bot.requests.workflow import add_event

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SWEEP_INTERVAL = timedelta(seconds=60)  # the steps are hours apart; a minute late is on time
BATCH = 100  # requests per step per sweep; the rest are taken at the next sweep


def utc_now() -> datetime:
    return datetime.now(UTC)


class Step(enum.StrEnum):
    EXPIRED = "expired"
    ESCALATED = "escalated"
    REMINDED = "reminded"


# The audit row each step writes.
STEP_KINDS = {
    Step.EXPIRED: EventKind.EXPIRED,
    Step.ESCALATED: EventKind.ESCALATED,
    Step.REMINDED: EventKind.REMINDED,
}


@dataclass(frozen=True)
class PendingSchedule:
    approval_ttl: timedelta
    remind_after: timedelta | None = None
    escalate_after: timedelta | None = None


@dataclass(frozen=True)
class SweepStep:
    step: Step
    request_id: int


# What a step owes Slack, added to the transaction that takes the step.
OweStep = Callable[[Session, SweepStep], None]


def _no_notices(_session: Session, _taken: SweepStep) -> None:
    return None


def sweep(
    factory: sessionmaker[Session],
    *,
    schedule: PendingSchedule,
    now: datetime,
    owe: OweStep = _no_notices,
) -> list[SweepStep]:
    """Take every step that is due at `now`; returns the ones this call took."""
    taken = _take(factory, Step.EXPIRED, schedule.approval_ttl, now, owe)
    if schedule.escalate_after is not None:
        taken += _take(factory, Step.ESCALATED, schedule.escalate_after, now, owe)
    if schedule.remind_after is not None:
        taken += _take(factory, Step.REMINDED, schedule.remind_after, now, owe)
    return taken


def _take(
    factory: sessionmaker[Session], step: Step, after: timedelta, now: datetime, owe: OweStep
) -> list[SweepStep]:
    conditions = _due(step, now - after)
    with factory() as session:
        candidates = list(
            session.scalars(
                select(SubaccountRequest.id)
                .where(*conditions)
                .order_by(SubaccountRequest.id)
                .limit(BATCH)
            )
        )
    detail = {"after": describe(after)}
    return [
        SweepStep(step, request_id)
        for request_id in candidates
        if _claim(
            factory,
            SweepStep(step, request_id),
            conditions=conditions,
            now=now,
            detail=detail,
            owe=owe,
        )
    ]


def _due(step: Step, cutoff: datetime) -> list[ColumnElement[bool]]:
    conditions = [
        SubaccountRequest.status == RequestStatus.PENDING_APPROVAL,
        SubaccountRequest.created_at <= cutoff,
        # Rows of a bulk request expire with their batch (bot/provisioning/batch_progress.py),
        # not one by one.
        SubaccountRequest.batch_id.is_(None),
    ]
    if step == Step.REMINDED:
        conditions.append(SubaccountRequest.reminded_at.is_(None))
    elif step == Step.ESCALATED:
        conditions.append(SubaccountRequest.escalated_at.is_(None))
    return conditions


def _take_step(
    session: Session,
    step: Step,
    request_id: int,
    conditions: list[ColumnElement[bool]],
    now: datetime,
) -> bool:
    """One conditional UPDATE: True for the instance that takes the step."""
    where = [SubaccountRequest.id == request_id, *conditions]
    if step == Step.EXPIRED:
        # As the lazy expiry on a late decision does: the password is erased with the request.
        expired = move_accounts(
            session,
            *where,
            frm=RequestStatus.PENDING_APPROVAL,
            to=RequestStatus.EXPIRED,
            cause=Cause.EXPIRY,
            password_ciphertext=None,
        )
        return bool(expired)
    stamp = {"reminded_at": now} if step == Step.REMINDED else {"escalated_at": now}
    result = session.execute(update(SubaccountRequest).where(*where).values(**stamp))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _claim(
    factory: sessionmaker[Session],
    taken: SweepStep,
    *,
    conditions: list[ColumnElement[bool]],
    now: datetime,
    detail: dict[str, Any],
    owe: OweStep,
) -> bool:
    step, request_id = taken.step, taken.request_id
    with factory.begin() as session:
        if not _take_step(session, step, request_id, conditions, now):
            return False  # another instance, or a decision, got there first
        add_event(session, request_id=request_id, kind=STEP_KINDS[step], detail=detail)
        owe(session, taken)
    return True


class PendingSweeper:
    """Runs `sweep` at most once per interval of its clock; `owe` adds each step's notices to
    the transaction that takes it. Tests give it a clock they move."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        schedule: PendingSchedule,
        owe: OweStep,
        clock: Clock = utc_now,
        interval: timedelta = SWEEP_INTERVAL,
    ) -> None:
        self._sessions = sessions
        self._schedule = schedule
        self._owe = owe
        self._clock = clock
        self._interval = interval
        self._next_at: datetime | None = None  # the first call sweeps: catch up after downtime
        self._done = threading.Condition()
        self.sweeps = 0

    def run_if_due(self) -> None:
        now = self._clock()
        if self._next_at is not None and now < self._next_at:
            return
        self._next_at = now + self._interval
        for taken in sweep(self._sessions, schedule=self._schedule, now=now, owe=self._owe):
            logger.info("request %s %s", taken.request_id, taken.step)
        with self._done:
            self.sweeps += 1
            self._done.notify_all()

    def wait_for_sweep(self, after: int, timeout_seconds: float = 15.0) -> bool:
        """True once more than `after` sweeps have completed (tests, after moving the clock)."""
        with self._done:
            return self._done.wait_for(lambda: self.sweeps > after, timeout=timeout_seconds)

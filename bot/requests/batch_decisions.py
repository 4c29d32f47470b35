"""A bulk request's decision, taken once for all its rows: approvals recorded on every row,
the threshold, rejection and expiry, each a conditional UPDATE of the batch whose rowcount
says who won (as bot/requests/workflow.py does for one request). What a decision owes Slack is added
by the caller's `owe` hook to the transaction that takes it: both commit, or neither does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import (
    BatchStatus,
    RequestApproval,
    RequestBatch,
    RequestStatus,
    SubaccountRequest,
)
from bot.requests.batches import add_batch_event, approvers_of, child_events, child_ids
from bot.requests.workflow import DecisionOutcome


@dataclass(frozen=True)
class BatchDecision:
    outcome: DecisionOutcome
    batch: RequestBatch
    approvers: list[str] = field(default_factory=list)
    reason: str = ""


# What a decision owes Slack, added to the transaction that makes the decision; called only
# when the decision changed something to tell (approved, waiting for more, rejected, expired).
OweNotices = Callable[[Session, BatchDecision], None]


def _no_notices(_session: Session, _decision: BatchDecision) -> None:
    return None


def refuse(
    factory: sessionmaker[Session], *, batch_id: int, actor_id: str, action: str, reason: str
) -> BatchDecision:
    with factory.begin() as session:
        add_batch_event(
            session,
            batch_id=batch_id,
            kind=f"{action}_refused",
            actor_id=actor_id,
            detail={"reason": reason},
        )
        batch = session.get_one(RequestBatch, batch_id)
    return BatchDecision(DecisionOutcome.REFUSED, batch, reason=reason)


def approve(
    factory: sessionmaker[Session],
    *,
    batch_id: int,
    approver_id: str,
    required_approvals: int,
    ttl: timedelta,
    owe: OweNotices = _no_notices,
) -> BatchDecision:
    """Record one approval on every row; the approval reaching the threshold moves them all.
    `owe` adds the notices of an approval that counted to the transaction deciding it."""
    closed = _close_if_not_pending(
        factory, batch_id=batch_id, ttl=ttl, actor_id=approver_id, owe=owe
    )
    if closed is not None:
        return closed
    # Committed on its own first, as for one request: of two concurrent approvers, the later
    # threshold check sees both.
    if not _insert_approvals(factory, batch_id=batch_id, approver_id=approver_id):
        return _current(factory, batch_id, DecisionOutcome.ALREADY_APPROVED_BY_YOU)
    with factory.begin() as session:
        won = _advance_if_threshold(session, batch_id, approver_id, required_approvals)
        batch = session.get_one(RequestBatch, batch_id, populate_existing=True)
        outcome = _approval_outcome(batch, won=won)
        decision = BatchDecision(outcome, batch, approvers_of(session, batch_id))
        if outcome != DecisionOutcome.ALREADY_DECIDED:
            owe(session, decision)
    return decision


def _approval_outcome(batch: RequestBatch, *, won: bool) -> DecisionOutcome:
    if won:
        return DecisionOutcome.APPROVED
    if batch.status == BatchStatus.PENDING_APPROVAL:
        return DecisionOutcome.WAITING_FOR_MORE
    return DecisionOutcome.ALREADY_DECIDED


def _read(session: Session, batch_id: int, outcome: DecisionOutcome) -> BatchDecision:
    """The batch as this transaction now sees it (its own UPDATEs included)."""
    batch = session.get_one(RequestBatch, batch_id, populate_existing=True)
    return BatchDecision(outcome, batch, approvers_of(session, batch_id))


def _current(
    factory: sessionmaker[Session], batch_id: int, outcome: DecisionOutcome
) -> BatchDecision:
    with factory() as session:
        return _read(session, batch_id, outcome)


def _insert_approvals(factory: sessionmaker[Session], *, batch_id: int, approver_id: str) -> bool:
    try:
        with factory.begin() as session:
            ids = child_ids(session, batch_id)
            now = datetime.now(UTC)
            session.execute(
                insert(RequestApproval),
                [{"request_id": i, "approver_id": approver_id, "at": now} for i in ids],
            )
            detail = {"batch_id": batch_id}
            child_events(session, ids, kind="approval", actor_id=approver_id, detail=detail)
    except IntegrityError:
        return False  # the same person again: a duplicated event or a second click
    return True


def _advance_if_threshold(
    session: Session, batch_id: int, approver_id: str, required_approvals: int
) -> bool:
    first = (
        select(func.min(SubaccountRequest.id))
        .where(SubaccountRequest.batch_id == batch_id)
        .scalar_subquery()
    )
    approvals = (
        select(func.count())
        .select_from(RequestApproval)
        .where(RequestApproval.request_id == first)
        .scalar_subquery()
    )
    now = datetime.now(UTC)
    result = session.execute(
        update(RequestBatch)
        .where(
            RequestBatch.id == batch_id,
            RequestBatch.status == BatchStatus.PENDING_APPROVAL,
            approvals >= required_approvals,
        )
        .values(status=BatchStatus.PROVISIONING, approver_id=approver_id, decided_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    ids = _move_children(
        session,
        batch_id,
        to=RequestStatus.PROVISIONING,
        approver_id=approver_id,
        decided_at=now,
    )
    detail = {"batch_id": batch_id}
    child_events(session, ids, kind="approved", actor_id=approver_id, detail=detail)
    return True


def _move_children(
    session: Session, batch_id: int, *, to: RequestStatus, **values: Any
) -> list[int]:
    """Every still-pending row of the batch to `to`; returns their ids."""
    ids = child_ids(session, batch_id, RequestStatus.PENDING_APPROVAL)
    session.execute(
        update(SubaccountRequest)
        .where(
            SubaccountRequest.batch_id == batch_id,
            SubaccountRequest.status == RequestStatus.PENDING_APPROVAL,
        )
        .values(status=to, **values)
    )
    return ids


def reject(
    factory: sessionmaker[Session],
    *,
    batch_id: int,
    rejecter_id: str,
    ttl: timedelta,
    owe: OweNotices = _no_notices,
) -> BatchDecision:
    """Close the batch and every row; `owe` adds the rejection's notices to its transaction."""
    closed = _close_if_not_pending(
        factory, batch_id=batch_id, ttl=ttl, actor_id=rejecter_id, owe=owe
    )
    if closed is not None:
        return closed
    with factory.begin() as session:
        won = _reject_rows(session, batch_id, rejecter_id)
        outcome = DecisionOutcome.REJECTED if won else DecisionOutcome.ALREADY_DECIDED
        decision = _read(session, batch_id, outcome)
        if won:
            owe(session, decision)
    return decision


def _reject_rows(session: Session, batch_id: int, rejecter_id: str) -> bool:
    now = datetime.now(UTC)
    if not _close_batch(
        session, batch_id, to=BatchStatus.REJECTED, approver_id=rejecter_id, decided_at=now
    ):
        return False
    ids = _move_children(
        session,
        batch_id,
        to=RequestStatus.REJECTED,
        approver_id=rejecter_id,
        decided_at=now,
        password_ciphertext=None,
    )
    detail = {"batch_id": batch_id}
    child_events(session, ids, kind="rejected", actor_id=rejecter_id, detail=detail)
    return True


def _close_batch(session: Session, batch_id: int, *, to: BatchStatus, **values: Any) -> bool:
    result = session.execute(
        update(RequestBatch)
        .where(RequestBatch.id == batch_id, RequestBatch.status == BatchStatus.PENDING_APPROVAL)
        .values(status=to, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _close_if_not_pending(
    factory: sessionmaker[Session],
    *,
    batch_id: int,
    ttl: timedelta,
    actor_id: str | None,
    owe: OweNotices,
) -> BatchDecision | None:
    """Already decided → say so; pending for longer than the TTL → expire it now."""
    with factory() as session:
        batch = session.get_one(RequestBatch, batch_id)
    if batch.status != BatchStatus.PENDING_APPROVAL:
        return _current(factory, batch_id, DecisionOutcome.ALREADY_DECIDED)
    if datetime.now(UTC) - (batch.submitted_at or batch.created_at) < ttl:
        return None
    with factory.begin() as session:
        expired = _expire(session, batch_id, ttl=ttl, actor_id=actor_id, owe=owe)
    # Lost to another decision (or another expiry) since the read above: nothing to tell.
    return expired or _current(factory, batch_id, DecisionOutcome.ALREADY_DECIDED)


def expire(
    factory: sessionmaker[Session],
    *,
    batch_id: int,
    ttl: timedelta,
    actor_id: str | None,
    owe: OweNotices = _no_notices,
) -> bool:
    """Pending batch → expired, its rows and their passwords with it; True for the winner,
    whose `owe` adds the expiry's notices to the transaction that expires it."""
    with factory.begin() as session:
        expired = _expire(session, batch_id, ttl=ttl, actor_id=actor_id, owe=owe)
    return expired is not None


def _expire(
    session: Session, batch_id: int, *, ttl: timedelta, actor_id: str | None, owe: OweNotices
) -> BatchDecision | None:
    if not _close_batch(session, batch_id, to=BatchStatus.EXPIRED):
        return None
    ids = _move_children(session, batch_id, to=RequestStatus.EXPIRED, password_ciphertext=None)
    detail = {"batch_id": batch_id, "ttl": str(ttl)}
    # The actor is whoever tried to decide too late (None: the sweep): the audit log keeps it.
    child_events(session, ids, kind="expired", actor_id=actor_id, detail=detail)
    decision = _read(session, batch_id, DecisionOutcome.EXPIRED)
    owe(session, decision)
    return decision

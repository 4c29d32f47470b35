"""The decision on a request of one account or of many: refuse, approve (with a quorum),
reject, expire. One state machine for both: each decision is a move of bot/requests/
transitions.py, whose conditional UPDATE says who won, and what a decision owes Slack is added
by the caller's `owe` hook to the transaction that takes it: both commit, or neither does.

Functions here take a session factory and plain values; they know nothing of Slack or HTTP."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import BatchStatus, RequestBatch, RequestStatus, SubaccountRequest
from bot.requests.events import EventKind, refused_kind
from bot.requests.subjects import Head, Scope, Subject, opened_at
from bot.requests.transitions import Cause, move_accounts, move_batch

PENDING = RequestStatus.PENDING_APPROVAL


class DecisionOutcome(enum.StrEnum):
    REFUSED = "refused"  # not allowed to decide: see Decision.reason
    ALREADY_DECIDED = "already_decided"
    EXPIRED = "expired"
    ALREADY_APPROVED_BY_YOU = "already_approved_by_you"
    WAITING_FOR_MORE = "waiting_for_more"
    APPROVED = "approved"  # this call moved it to provisioning: its accounts are due at Zoom
    REJECTED = "rejected"


@dataclass(frozen=True)
class Decision:
    outcome: DecisionOutcome
    head: Head
    approvers: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def request(self) -> SubaccountRequest:
        """The request of one account decided (a type error for a bulk request's decision)."""
        assert isinstance(self.head, SubaccountRequest)
        return self.head

    @property
    def batch(self) -> RequestBatch:
        assert isinstance(self.head, RequestBatch)
        return self.head


# What a decision owes Slack, added to the transaction that makes it; called only when the
# decision changed something to tell (approved, waiting for more, rejected, expired).
OweNotices = Callable[[Session, Decision], None]


def _no_notices(_session: Session, _decision: Decision) -> None:
    return None


def refuse(
    factory: sessionmaker[Session], subject: Subject, *, actor_id: str, action: str, reason: str
) -> Decision:
    """Record a decision attempt that changes nothing (not allowed, or already decided)."""
    with factory.begin() as session:
        detail = {"reason": reason}
        subject.event(session, kind=refused_kind(action), actor_id=actor_id, detail=detail)
        head = subject.head(session)
    return Decision(DecisionOutcome.REFUSED, head, reason=reason)


def approve(
    factory: sessionmaker[Session],
    subject: Subject,
    *,
    approver_id: str,
    required_approvals: int,
    ttl: timedelta,
    owe: OweNotices = _no_notices,
) -> Decision:
    """Record one approval on every account; the approval reaching the threshold moves the
    request on. `owe` adds the notices of an approval that counted to its transaction."""
    closed = _close_if_not_pending(factory, subject, ttl=ttl, actor_id=approver_id, owe=owe)
    if closed is not None:
        return closed
    # The approval is committed on its own first, so that of two concurrent approvers the
    # later threshold check always sees both (each statement reads what is committed).
    if not _add_approval(factory, subject, approver_id=approver_id):
        with factory() as session:
            return _read(session, subject, DecisionOutcome.ALREADY_APPROVED_BY_YOU)
    with factory.begin() as session:
        quorum = subject.approval_count() >= required_approvals
        won = _decide(session, subject, RequestStatus.PROVISIONING, approver_id, quorum)
        if won:
            _decided_events(session, subject, won, kind=EventKind.APPROVED, actor_id=approver_id)
        head = subject.head(session, fresh=True)
        decision = _read(session, subject, _approval_outcome(head, won=bool(won)))
        if decision.outcome != DecisionOutcome.ALREADY_DECIDED:
            owe(session, decision)
    return decision


def _approval_outcome(head: Head, *, won: bool) -> DecisionOutcome:
    if won:
        return DecisionOutcome.APPROVED
    if head.status == PENDING:
        return DecisionOutcome.WAITING_FOR_MORE
    return DecisionOutcome.ALREADY_DECIDED


def _add_approval(factory: sessionmaker[Session], subject: Subject, *, approver_id: str) -> bool:
    try:
        with factory.begin() as session:
            ids = subject.add_approvals(session, approver_id)
            subject.account_events(session, ids, kind=EventKind.APPROVAL, actor_id=approver_id)
    except IntegrityError:
        return False  # the same person again: a duplicated event or a second click
    return True


def reject(
    factory: sessionmaker[Session],
    subject: Subject,
    *,
    rejecter_id: str,
    ttl: timedelta,
    owe: OweNotices = _no_notices,
) -> Decision:
    """Close the request and every account; `owe` adds the rejection's notices to its
    transaction."""
    closed = _close_if_not_pending(factory, subject, ttl=ttl, actor_id=rejecter_id, owe=owe)
    if closed is not None:
        return closed
    with factory.begin() as session:
        won = _decide(session, subject, RequestStatus.REJECTED, rejecter_id)
        if won:
            _decided_events(session, subject, won, kind=EventKind.REJECTED, actor_id=rejecter_id)
        outcome = DecisionOutcome.REJECTED if won else DecisionOutcome.ALREADY_DECIDED
        decision = _read(session, subject, outcome)
        if won:
            owe(session, decision)
    return decision


def _decide(
    session: Session,
    subject: Subject,
    to: RequestStatus,
    decider_id: str,
    *where: ColumnElement[bool],
) -> list[int]:
    """Pending → `to` by a decider: the ids of the accounts moved (empty: lost the race)."""
    decided = {"approver_id": decider_id, "decided_at": datetime.now(UTC)}
    return _move(session, subject, to, Cause.DECIDER, *where, **decided)


def _move(
    session: Session,
    subject: Subject,
    to: RequestStatus,
    cause: Cause,
    *where: ColumnElement[bool],
    **values: Any,
) -> list[int]:
    """The request's head and its pending accounts → `to`. A request that is not approved
    loses its passwords with the move."""
    account_values = dict(values)
    if to != RequestStatus.PROVISIONING:
        account_values["password_ciphertext"] = None
    if subject.scope == Scope.ONE:
        moved = move_accounts(
            session,
            subject.accounts_where(),
            *where,
            frm=PENDING,
            to=to,
            cause=cause,
            **account_values,
        )
        return [subject.id] if moved else []
    if not move_batch(
        session,
        subject.id,
        *where,
        frm=BatchStatus.PENDING_APPROVAL,
        to=BatchStatus(to.value),
        cause=cause,
        **values,
    ):
        return []
    ids = subject.accounts(session, PENDING)
    move_accounts(
        session, subject.accounts_where(), frm=PENDING, to=to, cause=cause, **account_values
    )
    return ids


def _decided_events(
    session: Session, subject: Subject, ids: list[int], *, kind: EventKind, actor_id: str
) -> None:
    subject.account_events(session, ids, kind=kind, actor_id=actor_id)


def _read(session: Session, subject: Subject, outcome: DecisionOutcome) -> Decision:
    """The request as this transaction now sees it (its own UPDATEs included)."""
    head = subject.head(session, fresh=True)
    return Decision(outcome, head, subject.approvers(session))


def _close_if_not_pending(
    factory: sessionmaker[Session],
    subject: Subject,
    *,
    ttl: timedelta,
    actor_id: str | None,
    owe: OweNotices,
) -> Decision | None:
    """Already decided → say so; pending for longer than the TTL → expire it now."""
    with factory.begin() as session:
        head = subject.head(session)
        if head.status != PENDING:
            return _read(session, subject, DecisionOutcome.ALREADY_DECIDED)
        if datetime.now(UTC) - opened_at(head) < ttl:
            return None
        expired = _expire(session, subject, ttl=ttl, actor_id=actor_id, owe=owe)
        # Lost to another decision (or another expiry) since the read above: nothing to tell.
        return expired or _read(session, subject, DecisionOutcome.ALREADY_DECIDED)


def expire(
    factory: sessionmaker[Session],
    subject: Subject,
    *,
    ttl: timedelta,
    actor_id: str | None,
    owe: OweNotices = _no_notices,
) -> bool:
    """Pending → expired, its accounts and their passwords with it; True for the winner, whose
    `owe` adds the expiry's notices to the transaction that expires it."""
    with factory.begin() as session:
        expired = _expire(session, subject, ttl=ttl, actor_id=actor_id, owe=owe)
    return expired is not None


def _expire(
    session: Session, subject: Subject, *, ttl: timedelta, actor_id: str | None, owe: OweNotices
) -> Decision | None:
    ids = _move(session, subject, RequestStatus.EXPIRED, Cause.EXPIRY)
    if not ids:
        return None
    # The actor is whoever tried to decide too late (None: the sweep): the audit log keeps it.
    detail = {"ttl": str(ttl)}
    subject.account_events(session, ids, kind=EventKind.EXPIRED, actor_id=actor_id, detail=detail)
    decision = _read(session, subject, DecisionOutcome.EXPIRED)
    owe(session, decision)
    return decision

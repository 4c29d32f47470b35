"""Every status change of a request, in one place: the transition table (from → to, and who may
cause the move) and the two functions that perform a move, each one conditional UPDATE whose
rowcount says who won. Nothing else in bot/ writes a status after a row is inserted.

A request holds one account (a `subaccount_requests` row decided on its own) or many (a
`request_batches` row whose accounts are decided with it); its accounts move with it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session

from bot.db.models import BatchStatus, RequestBatch, RequestStatus, SubaccountRequest
from bot.errors import BotError


class Cause(enum.StrEnum):
    """Who may cause a move."""

    REQUESTER = "requester"  # Submit on a bulk request's preview
    DECIDER = "decider"  # an approver's approval or rejection (a reaction, a click)
    EXPIRY = "expiry"  # APPROVAL_TTL passed: the sweep, or a decision that came too late
    ZOOM_JOB = "zoom_job"  # the provisioning job recording Zoom's outcome
    REPORT = "report"  # the last account of a bulk request reached an outcome


_ACCOUNT_MOVES: Mapping[tuple[RequestStatus, RequestStatus], frozenset[Cause]] = {
    (RequestStatus.PENDING_APPROVAL, RequestStatus.PROVISIONING): frozenset({Cause.DECIDER}),
    (RequestStatus.PENDING_APPROVAL, RequestStatus.REJECTED): frozenset({Cause.DECIDER}),
    (RequestStatus.PENDING_APPROVAL, RequestStatus.EXPIRED): frozenset({Cause.EXPIRY}),
    (RequestStatus.PROVISIONING, RequestStatus.CREATED): frozenset({Cause.ZOOM_JOB}),
    (RequestStatus.PROVISIONING, RequestStatus.FAILED): frozenset({Cause.ZOOM_JOB}),
    (RequestStatus.PROVISIONING, RequestStatus.UNKNOWN): frozenset({Cause.ZOOM_JOB}),
}
_BATCH_MOVES: Mapping[tuple[BatchStatus, BatchStatus], frozenset[Cause]] = {
    (BatchStatus.DRAFT, BatchStatus.PENDING_APPROVAL): frozenset({Cause.REQUESTER}),
    # No approval required: Submit sends the accounts to Zoom at once.
    (BatchStatus.DRAFT, BatchStatus.PROVISIONING): frozenset({Cause.REQUESTER}),
    (BatchStatus.PENDING_APPROVAL, BatchStatus.PROVISIONING): frozenset({Cause.DECIDER}),
    (BatchStatus.PENDING_APPROVAL, BatchStatus.REJECTED): frozenset({Cause.DECIDER}),
    (BatchStatus.PENDING_APPROVAL, BatchStatus.EXPIRED): frozenset({Cause.EXPIRY}),
    (BatchStatus.PROVISIONING, BatchStatus.FINISHED): frozenset({Cause.REPORT}),
}
# The statuses a row is inserted with (`denied`: a refused attempt, recorded and never moved).
INITIAL_ACCOUNT_STATUSES = frozenset(
    {RequestStatus.DENIED, RequestStatus.PENDING_APPROVAL, RequestStatus.PROVISIONING}
)
INITIAL_BATCH_STATUSES = frozenset({BatchStatus.DRAFT})


class IllegalTransition(BotError):
    """A move the table does not allow: a bug in the caller, never a person's mistake."""


def transitions() -> dict[str, Mapping[Any, frozenset[Cause]]]:
    """The table, for documentation and tests."""
    return {"account": _ACCOUNT_MOVES, "batch": _BATCH_MOVES}


def _check(table: Mapping[Any, frozenset[Cause]], frm: str, to: str, cause: Cause) -> None:
    if cause not in table.get((frm, to), frozenset()):
        raise IllegalTransition(f"{frm} → {to} is not a move {cause} may cause")


def move_accounts(
    session: Session,
    *where: ColumnElement[bool],
    frm: RequestStatus,
    to: RequestStatus,
    cause: Cause,
    **values: Any,
) -> int:
    """Accounts matching `where` and still in `frm` → `to` (with `values`); how many moved."""
    _check(_ACCOUNT_MOVES, frm, to, cause)
    result = session.execute(
        update(SubaccountRequest)
        .where(SubaccountRequest.status == frm, *where)
        .values(status=to, **values)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def move_batch(
    session: Session,
    batch_id: int,
    *where: ColumnElement[bool],
    frm: BatchStatus,
    to: BatchStatus,
    cause: Cause,
    **values: Any,
) -> bool:
    """Bulk request `batch_id`, if still in `frm` (and `where`) → `to`; True for the winner."""
    _check(_BATCH_MOVES, frm, to, cause)
    result = session.execute(
        update(RequestBatch)
        .where(RequestBatch.id == batch_id, RequestBatch.status == frm, *where)
        .values(status=to, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]

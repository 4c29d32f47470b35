"""Bulk requests on the database up to the decision: the draft between preview and Submit, one
request row per account, one decision applied to every row (bot/requests/batch_tracking.py
has the rest).
Plain values in, no Slack, as in bot/requests/workflow.py."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from bot.db.models import (
    BatchStatus,
    RequestBatch,
    RequestEvent,
    RequestStatus,
    SubaccountRequest,
)
from bot.errors import UserFacingError
from bot.requests.csv_rows import ValidRow
from bot.requests.events import EventKind
from bot.requests.passwords import PasswordVault, PasswordVaultError
from bot.requests.transitions import Cause, move_batch
from bot.requests.validation import ValidRequest
from bot.requests.workflow import HOLD_FOR_ANNOUNCE, new_request_row

DRAFT_TTL = timedelta(minutes=15)
OPEN_STATUSES = (RequestStatus.PENDING_APPROVAL, RequestStatus.PROVISIONING)


def add_batch_event(
    session: Session,
    *,
    batch_id: int,
    kind: EventKind,
    actor_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """A step of the batch as a whole (request_id NULL); the detail names the batch too, for
    readers that only look at the detail (such as the audit export)."""
    detail = {"batch_id": batch_id, **(detail or {})}
    session.add(RequestEvent(batch_id=batch_id, kind=kind, actor_id=actor_id, detail=detail))


def child_ids(session: Session, batch_id: int, *statuses: str) -> list[int]:
    query = select(SubaccountRequest.id).where(SubaccountRequest.batch_id == batch_id)
    if statuses:
        query = query.where(SubaccountRequest.status.in_(statuses))
    return list(session.scalars(query.order_by(SubaccountRequest.id)))


def child_events(
    session: Session,
    ids: list[int],
    *,
    kind: EventKind,
    actor_id: str | None,
    detail: dict[str, Any],
) -> None:
    """The same step on every row: each account's audit trail reads as a single request's."""
    if ids:
        now = datetime.now(UTC)
        rows = [
            {"request_id": i, "kind": kind, "actor_id": actor_id, "detail": detail, "at": now}
            for i in ids
        ]
        session.execute(insert(RequestEvent), rows)


# -- the draft ----------------------------------------------------------------------------------


def save_draft(
    session: Session,
    *,
    requester_id: str,
    channel_id: str | None,
    rows: list[ValidRow],
    vault: PasswordVault,
) -> int:
    """The validated rows, encrypted (they may hold typed passwords), until Submit or DRAFT_TTL.

    Slack carries at most 3,000 characters from the preview back to the bot, so the rows wait
    here; a draft is no request: it has no request rows and no events."""
    delete_stale_drafts(session)
    payload = json.dumps([{"row": row.row, **asdict(row.request)} for row in rows])
    batch = RequestBatch(
        status=BatchStatus.DRAFT,
        requester_id=requester_id,
        channel_id=channel_id,
        row_count=len(rows),
        draft_ciphertext=vault.encrypt(payload),
    )
    session.add(batch)
    session.flush()
    return batch.id


def discard_draft(session: Session, *, draft_id: int, requester_id: str) -> None:
    session.execute(
        delete(RequestBatch).where(
            RequestBatch.id == draft_id,
            RequestBatch.status == BatchStatus.DRAFT,
            RequestBatch.requester_id == requester_id,
        )
    )


class DraftGone(UserFacingError):
    """The draft expired, was submitted already, or is not this person's: they start again."""

    def __init__(self, draft_id: int | None) -> None:
        super().__init__(
            "This check has expired or was already submitted. "
            "Run the bulk command again to start over."
        )
        self.draft_id = draft_id


def submit_draft(
    session: Session,
    *,
    draft_id: int,
    requester_id: str,
    vault: PasswordVault,
    required_approvals: int,
) -> RequestBatch:
    """Turn the draft into one request row per account, once (a double Submit finds no draft)."""
    batch = session.get(RequestBatch, draft_id)
    now = datetime.now(UTC)
    if (
        batch is None
        or batch.status != BatchStatus.DRAFT
        or batch.requester_id != requester_id
        or batch.draft_ciphertext is None
        or now - batch.created_at > DRAFT_TTL
    ):
        raise DraftGone(draft_id)
    try:
        rows = _draft_rows(vault.decrypt(batch.draft_ciphertext))
    except PasswordVaultError:
        raise DraftGone(draft_id) from None
    status = BatchStatus.PENDING_APPROVAL if required_approvals else BatchStatus.PROVISIONING
    taken = move_batch(
        session,
        draft_id,
        frm=BatchStatus.DRAFT,
        to=status,
        cause=Cause.REQUESTER,
        submitted_at=now,
        draft_ciphertext=None,
    )
    if not taken:
        raise DraftGone(draft_id)
    _add_children(session, batch, rows, vault=vault, required_approvals=required_approvals)
    session.flush()
    session.refresh(batch)
    return batch


def _draft_rows(payload: str) -> list[tuple[int, ValidRequest]]:
    rows = []
    for item in json.loads(payload):
        row = int(item.pop("row"))
        rows.append((row, ValidRequest(**item)))
    return rows


def _add_children(
    session: Session,
    batch: RequestBatch,
    rows: list[tuple[int, ValidRequest]],
    *,
    vault: PasswordVault,
    required_approvals: int,
) -> None:
    children = [
        new_request_row(
            request,
            requester_id=batch.requester_id,
            channel_id=batch.channel_id,
            vault=vault,
            required_approvals=required_approvals,
            batch_id=batch.id,
            batch_row=row,
        )
        for row, request in rows
    ]
    session.add_all(children)
    session.flush()
    for child in children:
        detail = {
            "batch_id": batch.id,
            "row": child.batch_row,
            "required_approvals": required_approvals,
            "password_generated": child.password_generated,
        }
        session.add(
            RequestEvent(
                request_id=child.id,
                kind=EventKind.SUBMITTED,
                actor_id=batch.requester_id,
                detail=detail,
            )
        )
    if not required_approvals:
        ids = [child.id for child in children]
        automatic = {"automatic": True, "batch_id": batch.id}
        child_events(session, ids, kind=EventKind.APPROVED, actor_id=None, detail=automatic)
    add_batch_event(
        session,
        batch_id=batch.id,
        kind=EventKind.SUBMITTED,
        actor_id=batch.requester_id,
        detail={"rows": len(rows), "required_approvals": required_approvals},
    )


# -- the approval message ------------------------------------------------------------------------


def attach_message(session: Session, *, batch_id: int, channel_id: str, ts: str) -> None:
    session.execute(
        update(RequestBatch)
        .where(RequestBatch.id == batch_id)
        .values(approval_channel_id=channel_id, approval_ts=ts)
    )
    add_batch_event(
        session, batch_id=batch_id, kind=EventKind.POSTED, detail={"channel": channel_id, "ts": ts}
    )


def release_jobs(session: Session, *, batch_id: int) -> None:
    """End the announce hold of every row: their provisioning jobs are due now."""
    session.execute(
        update(SubaccountRequest)
        .where(
            SubaccountRequest.batch_id == batch_id,
            SubaccountRequest.claimed_by == HOLD_FOR_ANNOUNCE,
        )
        .values(claimed_by=None, claim_expires_at=None)
    )


def find_by_message(session: Session, *, channel_id: str, ts: str) -> RequestBatch | None:
    return session.scalars(
        select(RequestBatch).where(
            RequestBatch.approval_channel_id == channel_id, RequestBatch.approval_ts == ts
        )
    ).first()


# -- drafts nobody submitted ---------------------------------------------------------------------


def delete_stale_drafts(session: Session) -> None:
    session.execute(
        delete(RequestBatch).where(
            RequestBatch.status == BatchStatus.DRAFT,
            RequestBatch.created_at < datetime.now(UTC) - DRAFT_TTL,
        )
    )

"""What delivering a bulk request's own message makes true, written by the outbox sender
(bot/delivery/batch_sends.py, settling.py) in the transaction that marks the row delivered or
failed: the batch's message ts (as workflow.attach_approval_message does for one request), its
reactions and the requester's DM owed, and, for a batch that needs no approval, its rows
released to Zoom.
Core statements on the sender's Connection; no Slack here."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select, update

from bot.db.models import BatchStatus, RequestBatch, RequestEvent, SlackOutbox, SubaccountRequest
from bot.delivery import outbox
from bot.requests.events import EventKind
from bot.requests.workflow import HOLD_FOR_ANNOUNCE
from bot.slack.render.batch_blocks import submitted_dm
from bot.slack.render.blocks import ApprovalSettings

_BATCHES = cast(Table, RequestBatch.__table__)
_REQUESTS = cast(Table, SubaccountRequest.__table__)
_EVENTS = cast(Table, RequestEvent.__table__)


def batch_id_of(payload: dict[str, Any]) -> int:
    return int(payload["batch_id"])


def add_batch_event(
    db: Connection, *, batch_id: int, kind: EventKind, detail: dict[str, Any] | None = None
) -> None:
    """batches.add_batch_event, on a Connection."""
    detail = {"batch_id": batch_id, **(detail or {})}
    db.execute(insert(_EVENTS).values(batch_id=batch_id, request_id=None, kind=kind, detail=detail))


def attach_batch_message(db: Connection, *, batch_id: int, channel_id: str, ts: str) -> None:
    """The batch equivalent of workflow.attach_approval_message: from this commit on, a reaction
    on (channel_id, ts) finds its batch."""
    db.execute(
        update(_BATCHES)
        .where(_BATCHES.c.id == batch_id)
        .values(approval_channel_id=channel_id, approval_ts=ts)
    )
    add_batch_event(
        db, batch_id=batch_id, kind=EventKind.POSTED, detail={"channel": channel_id, "ts": ts}
    )


def release_held_jobs(db: Connection, *, batch_id: int) -> None:
    """batches.release_jobs on a Connection: the rows' provisioning jobs are due now."""
    db.execute(
        update(_REQUESTS)
        .where(_REQUESTS.c.batch_id == batch_id, _REQUESTS.c.claimed_by == HOLD_FOR_ANNOUNCE)
        .values(claimed_by=None, claim_expires_at=None)
    )


def batch_posted(
    db: Connection,
    batch: RequestBatch,
    *,
    channel_id: str,
    ts: str,
    approval: ApprovalSettings,
    requester_id: str | None,
) -> None:
    """A BATCH_POST row was delivered at (channel_id, ts): record it, owe the two reactions and
    the requester's DM, and release a batch that needs no approval to Zoom."""
    attach_batch_message(db, batch_id=batch.id, channel_id=channel_id, ts=ts)
    owed = [
        outbox.batch_reaction(batch.id, channel_id=channel_id, ts=ts, name=name)
        for name in (approval.approve_reaction, approval.reject_reaction)
    ]
    status = _status(db, batch.id)
    if requester_id and status in (BatchStatus.PENDING_APPROVAL, BatchStatus.PROVISIONING):
        text = submitted_dm(batch, channel_id=channel_id, posted=True)
        owed.append(outbox.dm(requester_id, text=text))
    if status == BatchStatus.PROVISIONING:
        release_held_jobs(db, batch_id=batch.id)
    # Also wakes this process's job loop (and, on PostgreSQL, every worker's) for the released rows.
    outbox.owe(db, *owed)


def batch_not_posted(
    db: Connection, batch: RequestBatch, *, channel_id: str | None, error: str
) -> list[outbox.Owed]:
    """A BATCH_POST row failed for good (or there was no channel to post in): the failure
    recorded, the rows of a batch needing no approval released all the same (as before the
    outbox), and the requester's DM returned for the caller to owe."""
    add_batch_event(
        db,
        batch_id=batch.id,
        kind=EventKind.POST_FAILED,
        detail={"channel": channel_id, "error": error},
    )
    if _status(db, batch.id) == BatchStatus.PROVISIONING:
        release_held_jobs(db, batch_id=batch.id)
    text = submitted_dm(batch, channel_id=channel_id, posted=False)
    return [outbox.dm(batch.requester_id, text=text)]


def post_pending(engine: Engine, batch_id: int) -> bool:
    """Whether the batch's message is still owed (a BATCH_POST row not yet settled)."""
    with engine.connect() as connection:
        payloads = connection.scalars(
            select(SlackOutbox.payload).where(
                SlackOutbox.kind == outbox.Kind.BATCH_POST, SlackOutbox.status == "pending"
            )
        ).all()
    return any(payload and payload.get("batch_id") == batch_id for payload in payloads)


def _status(db: Connection, batch_id: int) -> str | None:
    return db.scalar(select(_BATCHES.c.status).where(_BATCHES.c.id == batch_id))

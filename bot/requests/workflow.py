"""A request of one account on the database before its decision: stored (or refused), its
approval message recorded, and the reactions that came before that message's ts held.
Decisions are bot/requests/decisions.py's.

Functions here take a session (or a session factory when a step needs several transactions) and
plain values; they know nothing of Slack payloads or HTTP. Every decision that must happen once
is one conditional UPDATE whose rowcount says who won.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import (
    HeldReaction,
    RequestEvent,
    RequestStatus,
    SubaccountRequest,
)
from bot.requests.events import EventKind
from bot.requests.passwords import PasswordVault, generate_password
from bot.requests.validation import ValidRequest

logger = logging.getLogger(__name__)

HOLD_FOR_ANNOUNCE = "announcing"
ANNOUNCE_HOLD = timedelta(seconds=60)

# Built once; the values come as parameters, so each call skips coercing them into a statement.
# The Tables, not the mapped classes: a Core insert still applies the columns' defaults.
_REQUESTS = cast(Table, SubaccountRequest.__table__)
_INSERT_REQUEST = insert(_REQUESTS).returning(_REQUESTS.c.id)
_INSERT_EVENT = insert(cast(Table, RequestEvent.__table__))
_TO_ANNOUNCE = select(*(c for c in _REQUESTS.c if c.key != "password_ciphertext")).where(
    _REQUESTS.c.id == bindparam("request_id")
)


def add_event(
    session: Session,
    *,
    request_id: int | None,
    kind: EventKind,
    actor_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(RequestEvent(request_id=request_id, kind=kind, actor_id=actor_id, detail=detail))


def record_denied(
    session: Session, *, requester_id: str, channel_id: str | None, attempted: str, reason: str
) -> SubaccountRequest:
    """A refused attempt still gets a request row, status `denied`, and an event saying why."""
    row = SubaccountRequest(
        status=RequestStatus.DENIED, requester_id=requester_id, channel_id=channel_id
    )
    session.add(row)
    session.flush()
    add_event(
        session,
        request_id=row.id,
        kind=EventKind.DENIED,
        actor_id=requester_id,
        detail={"attempted": attempted, "reason": reason},
    )
    return row


def request_values(
    request: ValidRequest,
    *,
    requester_id: str,
    channel_id: str | None,
    vault: PasswordVault,
    required_approvals: int,
) -> dict[str, Any]:
    """The column values of one valid request's row, its password encrypted and generated when
    none was given. The form inserts them with Core and bulk builds ORM rows from them, so the
    two paths cannot drift; the columns' defaults (created_at, …) apply on both."""
    values: dict[str, Any] = {
        "status": (
            RequestStatus.PENDING_APPROVAL if required_approvals else RequestStatus.PROVISIONING
        ),
        "requester_id": requester_id,
        "channel_id": channel_id,
        "first_name": request.first_name,
        "last_name": request.last_name,
        "email": request.email,
        "account_name": request.account_name,
        "sub_reseller_id": request.sub_reseller_id,
        "options": request.options or None,
        "reason": request.reason,
        "password_ciphertext": vault.encrypt(request.password or generate_password()),
        "password_generated": request.password is None,
    }
    return values


def new_request_row(
    request: ValidRequest,
    *,
    requester_id: str,
    channel_id: str | None,
    vault: PasswordVault,
    required_approvals: int,
    **extra: Any,
) -> SubaccountRequest:
    """The row of one valid request of a batch (`extra` holds batch_id/batch_row); not yet added
    to a session."""
    values = request_values(
        request,
        requester_id=requester_id,
        channel_id=channel_id,
        vault=vault,
        required_approvals=required_approvals,
    )
    if not required_approvals:
        # A batch needing no approval holds its jobs until its message is posted (see
        # batches.release_jobs), so progress can update it; the hold lapses by itself.
        values["claimed_by"] = HOLD_FOR_ANNOUNCE
        values["claim_expires_at"] = datetime.now(UTC) + ANNOUNCE_HOLD
    return SubaccountRequest(**values, **extra)


def submit_request(
    connection: Connection,
    *,
    requester_id: str,
    channel_id: str | None,
    request: ValidRequest,
    vault: PasswordVault,
    required_approvals: int,
    previewed_at: datetime | None = None,
    approval_channel_id: str | None = None,
    submission_key: str | None = None,
) -> int:
    """Store a valid request, its password encrypted; with no approvals needed it is approved.
    `previewed_at` (when the requester saw the confirmation step) goes in the event's detail.
    Returns the request's id.

    Core inserts, not the ORM: this runs before the modal's ack, and the unit of work cost more
    than the two statements themselves (bench/submission_path.py)."""
    values = request_values(
        request,
        requester_id=requester_id,
        channel_id=channel_id,
        vault=vault,
        required_approvals=required_approvals,
    )
    # The channel its approval message is owed to: its thread replies queue behind that post.
    values["approval_channel_id"] = approval_channel_id
    values["submission_key"] = submission_key
    request_id = int(connection.execute(_INSERT_REQUEST, values).scalar_one())
    detail: dict[str, Any] = {
        "required_approvals": required_approvals,
        "password_generated": values["password_generated"],
    }
    if previewed_at is not None:
        detail["previewed_at"] = previewed_at.isoformat()
    events = [_event(request_id, EventKind.SUBMITTED, actor_id=requester_id, detail=detail)]
    if not required_approvals:
        events.append(
            _event(request_id, EventKind.APPROVED, actor_id=None, detail={"automatic": True})
        )
    connection.execute(_INSERT_EVENT, events)
    return request_id


def _event(
    request_id: int, kind: EventKind, *, actor_id: str | None, detail: dict[str, Any]
) -> dict[str, Any]:
    return {"request_id": request_id, "kind": kind, "actor_id": actor_id, "detail": detail}


def attach_approval_message(
    db: Session | Connection, *, request_id: int, channel_id: str, ts: str
) -> None:
    db.execute(
        update(_REQUESTS)
        .where(_REQUESTS.c.id == request_id)
        .values(approval_channel_id=channel_id, approval_ts=ts)
    )
    posted = {"channel": channel_id, "ts": ts}
    db.execute(_INSERT_EVENT, _event(request_id, EventKind.POSTED, actor_id=None, detail=posted))


def add_post_failed(connection: Connection, *, request_id: int) -> None:
    """No channel to post the request in (no APPROVAL_CHANNEL, the command ran nowhere)."""
    detail = {"channel": None}
    connection.execute(
        _INSERT_EVENT, _event(request_id, EventKind.POST_FAILED, actor_id=None, detail=detail)
    )


def request_channel(connection: Connection, request_id: int) -> str | None:
    return connection.scalar(select(_REQUESTS.c.channel_id).where(_REQUESTS.c.id == request_id))


def request_for_submission(session: Session, submission_key: str) -> int | None:
    return session.scalar(
        select(SubaccountRequest.id).where(SubaccountRequest.submission_key == submission_key)
    )


def request_to_announce(connection: Connection, request_id: int) -> SubaccountRequest:
    """A request as its approval message shows it: a row outside any session, without the
    password's ciphertext (announcing never needs it, so it is never read)."""
    found = connection.execute(_TO_ANNOUNCE, {"request_id": request_id}).one()
    return SubaccountRequest(**found._mapping)


def find_by_message(session: Session, *, channel_id: str, ts: str) -> SubaccountRequest | None:
    return session.scalars(
        select(SubaccountRequest).where(
            SubaccountRequest.approval_channel_id == channel_id,
            SubaccountRequest.approval_ts == ts,
        )
    ).first()


def hold_reaction(
    factory: sessionmaker[Session], *, channel_id: str, ts: str, user_id: str, reaction: str
) -> None:
    """Keep a reaction on a bot message no request claims yet (a redelivery: kept once)."""
    try:
        with factory.begin() as session:
            session.add(
                HeldReaction(
                    channel_id=channel_id, message_ts=ts, user_id=user_id, reaction=reaction
                )
            )
            add_event(
                session,
                request_id=None,
                kind=EventKind.REACTION_HELD,
                actor_id=user_id,
                detail={"reaction": reaction, "channel": channel_id, "ts": ts},
            )
    except IntegrityError:
        return


def take_held_reactions(
    factory: sessionmaker[Session], *, channel_id: str, ts: str
) -> list[HeldReaction]:
    """The reactions held for (channel_id, ts), deleted in the same transaction: of two
    workers applying them, each reaction goes to one."""
    with factory.begin() as session:
        held = list(
            session.scalars(
                select(HeldReaction)
                .where(HeldReaction.channel_id == channel_id, HeldReaction.message_ts == ts)
                .order_by(HeldReaction.id)
                .with_for_update(skip_locked=True)
            )
        )
        for row in held:
            session.delete(row)
        session.flush()
        session.expunge_all()
    return held


def release_job(db: Session | Connection, *, request_id: int) -> None:
    """End the announce hold: the provisioning job is due now."""
    db.execute(
        update(_REQUESTS)
        .where(_REQUESTS.c.id == request_id, _REQUESTS.c.claimed_by == HOLD_FOR_ANNOUNCE)
        .values(claimed_by=None, claim_expires_at=None)
    )

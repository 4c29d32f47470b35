"""The audit tables of CONTRACT.md: one row per request, one row per step, one per approval,
one per recorded change of an access list, and one per bulk request (a batch of requests)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    false as sa_false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.db.types import UTCDateTime, utcnow


class RequestStatus(enum.StrEnum):
    DENIED = "denied"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    PROVISIONING = "provisioning"
    CREATED = "created"
    FAILED = "failed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


DECIDED_STATUSES = frozenset(RequestStatus) - {RequestStatus.PENDING_APPROVAL}

# Stable constraint names so Alembic autogenerate and `alembic check` agree on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SubaccountRequest(Base):
    __tablename__ = "subaccount_requests"
    __table_args__ = (Index("ix_requests_approval_message", "approval_channel_id", "approval_ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The type is the column's (String(32)): the annotation only types the attribute. A row read
    # back holds the plain string, which equals its member (StrEnum).
    status: Mapped[RequestStatus] = mapped_column(String(32), index=True)
    requester_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    first_name: Mapped[str | None] = mapped_column(String(64))
    last_name: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(128))
    account_name: Mapped[str | None] = mapped_column(String(64))
    sub_reseller_id: Mapped[str | None] = mapped_column(String(128))
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    # Fernet token of the sub-account password; NULL once the Zoom call is done.
    password_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    password_generated: Mapped[bool] = mapped_column(default=False)
    approval_channel_id: Mapped[str | None] = mapped_column(String(32))
    approval_ts: Mapped[str | None] = mapped_column(String(32))
    approver_id: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    zoom_http_status: Mapped[int | None] = mapped_column(Integer)
    zoom_error_code: Mapped[int | None] = mapped_column(Integer)
    zoom_error_message: Mapped[str | None] = mapped_column(Text)
    zoom_account_id: Mapped[str | None] = mapped_column(String(64))
    zoom_owner_id: Mapped[str | None] = mapped_column(String(64))
    zoom_owner_email: Mapped[str | None] = mapped_column(String(128))
    zoom_created_at: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The provisioning job: which instance holds it and until when (renewed while it runs), and
    # how many times a create was sent. attempts > 0 on a claimed job means "look Zoom up first".
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    zoom_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When a pending request's reminder and escalation were sent; each is set by one conditional
    # UPDATE (`IS NULL` → now), so every step happens once across instances and restarts.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A row of a bulk request (bot/flows/batches.py): decided with its batch, never on its
    # own; NULL for a request made with the form. batch_row is its line in the CSV (the header
    # is line 1).
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("request_batches.id"), index=True)
    batch_row: Mapped[int | None] = mapped_column(Integer)
    # A digest of the sealed confirmation step that stored this request: the same confirmation
    # submitted twice (a slow ack, a second click) finds this row instead of storing another.
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class BatchStatus(enum.StrEnum):
    DRAFT = "draft"  # validated rows waiting for the requester's Submit; not a request yet
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    EXPIRED = "expired"
    PROVISIONING = "provisioning"
    FINISHED = "finished"  # every row reached an outcome; `reported_at` once Slack was told


class RequestBatch(Base):
    """A bulk request: many subaccount_requests rows (its children) approved once, together.

    A draft holds the validated rows encrypted (typed passwords included) between the preview
    and Submit, for DRAFT_TTL at most; Submit turns them into children and erases the blob."""

    __tablename__ = "request_batches"
    __table_args__ = (Index("ix_batches_approval_message", "approval_channel_id", "approval_ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # As SubaccountRequest.status: String(32); the annotation only types the attribute.
    status: Mapped[BatchStatus] = mapped_column(String(32), index=True)
    requester_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    row_count: Mapped[int] = mapped_column(Integer)
    draft_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    approval_channel_id: Mapped[str | None] = mapped_column(String(32))
    approval_ts: Mapped[str | None] = mapped_column(String(32))
    approver_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Progress messages are throttled across instances: one conditional UPDATE of progress_at.
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The end-of-batch report (outcome CSV, passwords to the requester): who sends it and until
    # when (a claim, so a dead sender's report is sent again), and when it was sent.
    report_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ZoomRateSlot(Base):
    """One row: the next moment (Unix seconds) a Zoom call may start, shared by every instance.

    Epoch seconds rather than a timestamp so one portable UPDATE can do the arithmetic."""

    __tablename__ = "zoom_rate_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_slot_epoch: Mapped[float] = mapped_column(Float)


class RequestEvent(Base):
    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL for steps not tied to a request (a reaction on a message that is not one).
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("subaccount_requests.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(48))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Steps of a bulk request as a whole (posted, refused decisions, progress, report), with
    # request_id NULL; steps of one of its accounts carry that account's request_id instead.
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("request_batches.id"), index=True)


class RequestApproval(Base):
    """One row per distinct approver; the unique key makes a duplicated event harmless."""

    __tablename__ = "request_approvals"
    __table_args__ = (UniqueConstraint("request_id", "approver_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("subaccount_requests.id", ondelete="CASCADE"), index=True
    )
    approver_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConfigEvent(Base):
    """One row per recorded state of an access list (REQUESTER_ALLOWLIST, …): the newest row of
    a setting is the set last recorded. Several instances starting at once all try to record
    the same change; the unique (setting, version) key lets exactly one of them succeed."""

    __tablename__ = "config_events"
    __table_args__ = (UniqueConstraint("setting", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    setting: Mapped[str] = mapped_column(String(48))
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(48))  # list_recorded (first) or list_changed
    entries: Mapped[list[str]] = mapped_column(JSON)  # the whole list as configured, sorted
    added: Mapped[list[str]] = mapped_column(JSON)
    removed: Mapped[list[str]] = mapped_column(JSON)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # a permanent error, or retried until its deadline: see last_error


class SlackOutbox(Base):
    """One thing the bot owes Slack (bot/delivery/): written in the transaction of the change
    that owes it, delivered by a worker, retried until `deadline_at`, never posted twice.

    Rows of one `queue` are delivered one at a time in id order (a channel's posts in the order
    they were owed; a request's updates one after another); different queues in parallel."""

    __tablename__ = "slack_outbox"
    __table_args__ = (Index("ix_slack_outbox_due", "status", "queue", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(96))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("subaccount_requests.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[str | None] = mapped_column(String(32))  # the target, once known
    user_id: Mapped[str | None] = mapped_column(String(32))  # a DM's or a Home's person
    # What to say (text, blocks, flags); never a secret: the password DM is rendered at send.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The last attempt may have reached Slack (timeout, lost answer, 5xx): look before posting.
    maybe_sent: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(96))
    slack_ts: Mapped[str | None] = mapped_column(String(32))  # the message it posted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SlackPacing(Base):
    """When the next chat.postMessage of a queue (a channel, a DM) may leave, shared by every
    worker: Slack allows about one message per second per channel."""

    __tablename__ = "slack_pacing"

    queue: Mapped[str] = mapped_column(String(96), primary_key=True)
    next_slot_epoch: Mapped[float] = mapped_column(Float)


class HeldReaction(Base):
    """A reaction on one of the bot's own messages that matched no request yet (it came before
    the message's ts was recorded): applied once a request claims that message."""

    __tablename__ = "held_reactions"
    __table_args__ = (
        UniqueConstraint("channel_id", "message_ts", "user_id", "reaction"),
        Index("ix_held_reactions_message", "channel_id", "message_ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    reaction: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkerHeartbeat(Base):
    """One row per worker process, renewed every few seconds: /healthz reads the newest."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

"""Bulk requests once decided: progress counts, the claims that make the final report happen
once across instances, the rows it reports, and what the sweep looks for after a crash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bot.db.models import (
    BatchStatus,
    RequestBatch,
    RequestStatus,
    SubaccountRequest,
)
from bot.requests.batches import OPEN_STATUSES
from bot.requests.subjects import Subject
from bot.requests.transitions import Cause, move_batch

REPORT_LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class BatchCounts:
    total: int
    created: int
    failed: int
    unknown: int

    @property
    def done(self) -> int:
        return self.created + self.failed + self.unknown


@dataclass(frozen=True)
class BatchSummary:
    """What the approval message shows besides the batch row itself."""

    counts: BatchCounts
    emails: list[str]  # the first few, in CSV order
    reasons: list[str]  # the most common ones
    approvers: list[str]


def load_summary(session: Session, batch_id: int, *, emails: int = 5) -> BatchSummary:
    return BatchSummary(
        counts=counts(session, batch_id),
        emails=preview_emails(session, batch_id, emails),
        reasons=reasons_of(session, batch_id, 2),
        approvers=Subject.many(batch_id).approvers(session),
    )


def counts(session: Session, batch_id: int) -> BatchCounts:
    by_status = dict(
        session.execute(
            select(SubaccountRequest.status, func.count())
            .where(SubaccountRequest.batch_id == batch_id)
            .group_by(SubaccountRequest.status)
        ).all()
    )
    return BatchCounts(
        total=sum(by_status.values()),
        created=by_status.get(RequestStatus.CREATED, 0),
        failed=by_status.get(RequestStatus.FAILED, 0),
        unknown=by_status.get(RequestStatus.UNKNOWN, 0),
    )


def claim_progress(session: Session, *, batch_id: int, min_interval: timedelta) -> bool:
    """True for the one caller (of every instance) that may update the message now."""
    now = datetime.now(UTC)
    result = session.execute(
        update(RequestBatch)
        .where(
            RequestBatch.id == batch_id,
            RequestBatch.status == BatchStatus.PROVISIONING,
            or_(RequestBatch.progress_at.is_(None), RequestBatch.progress_at <= now - min_interval),
        )
        .values(progress_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_if_done(session: Session, *, batch_id: int) -> bool:
    """Provisioning → finished once no row is left open; True for the one caller that did it.

    One statement: of two rows finishing last at once, both see none left and one wins."""
    still_open = exists().where(
        SubaccountRequest.batch_id == batch_id, SubaccountRequest.status.in_(OPEN_STATUSES)
    )
    return move_batch(
        session,
        batch_id,
        ~still_open,
        frm=BatchStatus.PROVISIONING,
        to=BatchStatus.FINISHED,
        cause=Cause.REPORT,
        finished_at=datetime.now(UTC),
    )


def claim_report(session: Session, *, batch_id: int) -> bool:
    """The final report is sent by one instance; a claim whose holder died lapses."""
    now = datetime.now(UTC)
    result = session.execute(
        update(RequestBatch)
        .where(
            RequestBatch.id == batch_id,
            RequestBatch.status == BatchStatus.FINISHED,
            RequestBatch.reported_at.is_(None),
            or_(
                RequestBatch.report_claimed_until.is_(None),
                RequestBatch.report_claimed_until < now,
            ),
        )
        .values(report_claimed_until=now + REPORT_LEASE)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_reported(session: Session, *, batch_id: int) -> None:
    session.execute(
        update(RequestBatch)
        .where(RequestBatch.id == batch_id)
        .values(reported_at=datetime.now(UTC), report_claimed_until=None)
    )


def rows_of(session: Session, batch_id: int) -> list[SubaccountRequest]:
    return list(
        session.scalars(
            select(SubaccountRequest)
            .where(SubaccountRequest.batch_id == batch_id)
            .order_by(SubaccountRequest.batch_row, SubaccountRequest.id)
        )
    )


def erase_passwords(session: Session, *, batch_id: int) -> None:
    """Every password of a finished batch: kept generated ones are delivered (or given up)."""
    session.execute(
        update(SubaccountRequest)
        .where(
            SubaccountRequest.batch_id == batch_id,
            SubaccountRequest.status.not_in(OPEN_STATUSES),
            SubaccountRequest.password_ciphertext.is_not(None),
        )
        .values(password_ciphertext=None)
    )


def stalled_batches(session: Session, *, ttl: timedelta, limit: int = 20) -> dict[str, list[int]]:
    """Batches a crash may have left behind, and pending ones past their TTL, by what they need."""
    now = datetime.now(UTC)
    still_open = exists().where(
        SubaccountRequest.batch_id == RequestBatch.id, SubaccountRequest.status.in_(OPEN_STATUSES)
    )
    queries = {
        "finish": and_(RequestBatch.status == BatchStatus.PROVISIONING, ~still_open),
        "report": and_(
            RequestBatch.status == BatchStatus.FINISHED,
            RequestBatch.reported_at.is_(None),
            or_(
                RequestBatch.report_claimed_until.is_(None),
                RequestBatch.report_claimed_until < now,
            ),
        ),
        "expire": and_(
            RequestBatch.status == BatchStatus.PENDING_APPROVAL,
            RequestBatch.submitted_at < now - ttl,
        ),
    }
    return {
        need: list(
            session.scalars(
                select(RequestBatch.id).where(where).order_by(RequestBatch.id).limit(limit)
            )
        )
        for need, where in queries.items()
    }


def preview_emails(session: Session, batch_id: int, limit: int) -> list[str]:
    return [
        email or ""
        for email in session.scalars(
            select(SubaccountRequest.email)
            .where(SubaccountRequest.batch_id == batch_id)
            .order_by(SubaccountRequest.batch_row, SubaccountRequest.id)
            .limit(limit)
        )
    ]


def reasons_of(session: Session, batch_id: int, limit: int) -> list[str]:
    """The distinct reasons given, most common first."""
    count = func.count(SubaccountRequest.id)
    return [
        reason
        for reason in session.scalars(
            select(SubaccountRequest.reason)
            .where(SubaccountRequest.batch_id == batch_id, SubaccountRequest.reason.is_not(None))
            .group_by(SubaccountRequest.reason)
            .order_by(count.desc(), SubaccountRequest.reason)
            .limit(limit)
        )
        if reason
    ]

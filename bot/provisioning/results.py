"""A Zoom job's result, recorded: the one move out of `provisioning` (to created, failed or
unknown) with what Zoom answered and the notices it owes, committed together; a holder whose
outcome was recorded first by another gets a superseded result and records nothing; a 429
requeues the job (its attempt given back) until REQUEUE_LIMIT. The call itself is in job.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import RequestEvent, RequestStatus, SubaccountRequest
from bot.provisioning.result_detail import error_detail, wait_detail
from bot.requests.events import EventKind
from bot.requests.transitions import Cause, move_accounts
from bot.requests.workflow import add_event
from bot.zoom.client import CreatedAccount
from bot.zoom.errors import ZoomError, ZoomRateLimited

logger = logging.getLogger(__name__)

# What an outcome owes Slack, added to the transaction that records it (bot/flows/outcomes.py).
OweOutcome = Callable[[Session, "ProvisionResult"], None]

REQUEUE_LIMIT = 20  # 429s in a row before the request is given up as failed
RATE_LIMITED_HOLD = "rate-limited"


@dataclass(frozen=True)
class ProvisionResult:
    request: SubaccountRequest
    account: CreatedAccount | None = None
    error: ZoomError | None = None
    requeued: bool = False  # rate limited: nothing was created, the job runs again later
    reconciled: bool = False  # found in Zoom after an interrupted attempt
    # Another holder recorded the outcome first (this one's lease had lapsed): nothing recorded
    # or owed here, so Slack hears the outcome once.
    superseded: bool = False
    # Only set when the bot generated the password and the account now exists.
    generated_password: str | None = field(default=None, repr=False)


def requeue_or_fail(
    factory: sessionmaker[Session],
    *,
    owe: OweOutcome,
    request_id: int,
    error: ZoomRateLimited,
    wait_seconds: float = 0.0,
) -> ProvisionResult:
    """Zoom said 429: the job runs again after a backoff, its attempt given back (nothing was
    created), unless it was requeued REQUEUE_LIMIT times already (then it failed)."""
    with factory.begin() as session:
        requeues = (
            session.scalar(
                select(func.count())
                .select_from(RequestEvent)
                .where(
                    RequestEvent.request_id == request_id, RequestEvent.kind == EventKind.REQUEUED
                )
            )
            or 0
        )
        if requeues >= REQUEUE_LIMIT:
            return record_failure(
                factory, owe=owe, request_id=request_id, error=error, wait_seconds=wait_seconds
            )
        row = session.get_one(SubaccountRequest, request_id)
        if row.status != RequestStatus.PROVISIONING:
            return _superseded(session, request_id, error=error)
        row.zoom_attempts -= 1  # a 429 certainly created nothing
        delay_seconds = min(60.0, 2.0 ** min(requeues, 6))
        row.claimed_by = RATE_LIMITED_HOLD
        row.claim_expires_at = datetime.now(UTC) + timedelta(seconds=delay_seconds)
        add_event(
            session,
            request_id=request_id,
            kind=EventKind.REQUEUED,
            detail={
                "reason": "rate_limited",
                "retry_in_seconds": delay_seconds,
                **wait_detail(wait_seconds),
            },
        )
    return ProvisionResult(request=row, error=error, requeued=True)


def record_success(
    factory: sessionmaker[Session],
    *,
    owe: OweOutcome,
    request_id: int,
    account: CreatedAccount,
    password: str | None,
    reconciled: bool = False,
    wait_seconds: float = 0.0,
) -> ProvisionResult:
    with factory.begin() as session:
        row = _take_outcome(session, request_id, RequestStatus.CREATED)
        if row is None:
            return _superseded(session, request_id, account=account)
        row.zoom_http_status = 201 if not reconciled else 200
        row.zoom_account_id = account.id
        row.zoom_owner_id = account.owner_id or None
        row.zoom_owner_email = account.owner_email
        row.zoom_created_at = account.created_at or None
        # A generated password stays (encrypted) until Slack confirms the requester's DM
        # (bot/delivery/sends.py) or, for a bulk row, its batch's report hands all of them
        # over (bot/provisioning/batch_progress.py); either then erases it.
        _finish(row, keep_password=password is not None)
        detail: dict[str, Any] = {
            "http_status": row.zoom_http_status,
            "account_id": account.id,
            "owner_id": account.owner_id,
        }
        if reconciled:
            detail["reconciled"] = True
        detail.update(wait_detail(wait_seconds))
        add_event(session, request_id=request_id, kind=EventKind.ZOOM_RESULT, detail=detail)
        result = ProvisionResult(
            request=row, account=account, generated_password=password, reconciled=reconciled
        )
        owe(session, result)
    return result


def record_failure(
    factory: sessionmaker[Session],
    *,
    owe: OweOutcome,
    request_id: int,
    error: ZoomError,
    wait_seconds: float = 0.0,
) -> ProvisionResult:
    status = RequestStatus.FAILED if error.outcome_known else RequestStatus.UNKNOWN
    with factory.begin() as session:
        row = _take_outcome(session, request_id, status)
        if row is None:
            return _superseded(session, request_id, error=error)
        row.zoom_http_status = error.http_status
        row.zoom_error_code = error.zoom_code
        row.zoom_error_message = error.zoom_message
        _finish(row)
        detail = error_detail(error) | wait_detail(wait_seconds)
        add_event(session, request_id=request_id, kind=EventKind.ZOOM_RESULT, detail=detail)
        result = ProvisionResult(request=row, error=error)
        owe(session, result)
    logger.info("request %s: Zoom call ended %s (%s)", request_id, status, type(error).__name__)
    return result


def _take_outcome(
    session: Session, request_id: int, status: RequestStatus
) -> SubaccountRequest | None:
    """The one move out of `provisioning`, as a conditional UPDATE: of two holders (one whose
    lease lapsed mid-call, one that took the job over and reconciled it) only the first to
    commit records an outcome and owes its notices. None for the other."""
    moved = move_accounts(
        session,
        SubaccountRequest.id == request_id,
        frm=RequestStatus.PROVISIONING,
        to=status,
        cause=Cause.ZOOM_JOB,
    )
    if not moved:
        return None
    return session.get_one(SubaccountRequest, request_id, populate_existing=True)


def _superseded(
    session: Session,
    request_id: int,
    *,
    account: CreatedAccount | None = None,
    error: ZoomError | None = None,
) -> ProvisionResult:
    row = session.get_one(SubaccountRequest, request_id)
    logger.info("request %s: its outcome was already recorded (%s)", request_id, row.status)
    return ProvisionResult(request=row, account=account, error=error, superseded=True)


def _finish(row: SubaccountRequest, *, keep_password: bool = False) -> None:
    """The job is over: erase the password and give up the claim."""
    if not keep_password:
        row.password_ciphertext = None
    row.claimed_by = None
    row.claim_expires_at = None

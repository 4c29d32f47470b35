"""The Zoom call of an approved request, done so that one approval makes at most one account.

The row is the job: `zoom_attempts` is raised and committed *before* a create is sent, so a job
found with attempts > 0 may already have reached Zoom. Such a job is reconciled first: Zoom's
list endpoint is asked for the email; found → created; not found → sent once more; Zoom not
answering → `unknown`. A 429 means the create certainly did not happen: the job is requeued.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import RequestEvent, RequestStatus, SubaccountRequest
from bot.observability.redaction import forget_secret, register_secret
from bot.provisioning.ratelimit import counting_waits
from bot.provisioning.result_detail import error_detail, redact_error, wait_detail
from bot.requests.events import EventKind
from bot.requests.passwords import PasswordVault, PasswordVaultError
from bot.requests.transitions import Cause, move_accounts
from bot.requests.workflow import add_event
from bot.zoom.client import CreatedAccount
from bot.zoom.errors import (
    ZoomError,
    ZoomOutcomeUnchecked,
    ZoomRateLimited,
    ZoomUnexpectedResponse,
)
from bot.zoom.payloads import create_account_body, masked

logger = logging.getLogger(__name__)


# What an outcome owes Slack, added to the transaction that records it (bot/flows/outcomes.py).
OweOutcome = Callable[[Session, "ProvisionResult"], None]


def _no_notices(_session: Session, _result: ProvisionResult) -> None:
    return None


class PasswordUndecryptable(ZoomError):
    """Not Zoom's answer: the stored password could not be decrypted, so nothing was sent."""

    MEANING = (
        "The bot could not decrypt the stored password (was PASSWORD_ENCRYPTION_KEY changed?), "
        "so nothing was sent to Zoom. Ask for the account again."
    )


REQUEUE_LIMIT = 20  # 429s in a row before the request is given up as failed
RATE_LIMITED_HOLD = "rate-limited"


class ZoomAccounts(Protocol):
    def create_sub_account(self, body: dict[str, Any]) -> CreatedAccount: ...

    def find_sub_accounts(self, email: str) -> list[dict[str, Any]]: ...


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


@dataclass(frozen=True)
class _Job:
    password: str = field(repr=False)
    body: dict[str, Any] = field(repr=False)
    email: str
    generated: bool
    maybe_sent_at: datetime | None


def provision(
    factory: sessionmaker[Session],
    *,
    request_id: int,
    zoom: ZoomAccounts,
    vault: PasswordVault,
    settle_seconds: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    owe: OweOutcome | None = None,
) -> ProvisionResult:
    """Run one claimed job to an outcome (or a requeue). `settle_seconds`: how long a create
    sent by a dead holder may still be running at Zoom before a lookup can be trusted. `owe`
    adds the outcome's notices to the transaction that records the outcome."""
    owe = owe or _no_notices
    try:
        job = _start(factory, request_id, vault)
    except PasswordVaultError:
        # The key changed since the request was stored: nothing can be sent, now or later.
        logger.error("request %s: its stored password cannot be decrypted", request_id)
        return _record_failure(
            factory, owe=owe, request_id=request_id, error=PasswordUndecryptable()
        )
    register_secret(job.password)
    try:
        if job.maybe_sent_at is not None:
            _wait_to_settle(job.maybe_sent_at, settle_seconds, sleep)
            settled = _reconcile(factory, request_id, job, zoom, owe=owe)
            if settled is not None:
                return settled
            with factory.begin() as session:
                _mark_sent(session, session.get_one(SubaccountRequest, request_id), job)
        return _send(factory, request_id, job, zoom, owe=owe)
    finally:
        forget_secret(job.password)


def _start(factory: sessionmaker[Session], request_id: int, vault: PasswordVault) -> _Job:
    """Load the job; a first attempt is marked as sent in the same transaction (one fewer
    round trip before the call). One already tried is left to be reconciled first."""
    with factory.begin() as session:
        row = session.get_one(SubaccountRequest, request_id)
        if row.status != RequestStatus.PROVISIONING or row.password_ciphertext is None:
            raise ValueError(f"request {request_id} is not waiting to be provisioned")
        password = vault.decrypt(row.password_ciphertext)
        job = _Job(
            password=password,
            body=_body_for(row, password),
            email=row.email or "",
            generated=row.password_generated,
            maybe_sent_at=_last_sent_at(session, request_id) if row.zoom_attempts else None,
        )
        if job.maybe_sent_at is None:
            _mark_sent(session, row, job)
        return job


def _mark_sent(session: Session, row: SubaccountRequest, job: _Job) -> None:
    row.zoom_attempts += 1  # committed before sending: a crash from here on reconciles
    add_event(session, request_id=row.id, kind=EventKind.ZOOM_CALLED, detail=masked(job.body))


def _last_sent_at(session: Session, request_id: int) -> datetime:
    sent_at = session.scalar(
        select(func.max(RequestEvent.at)).where(
            RequestEvent.request_id == request_id, RequestEvent.kind == EventKind.ZOOM_CALLED
        )
    )
    return sent_at or datetime.now(UTC)


def _wait_to_settle(
    sent_at: datetime, settle_seconds: float, sleep: Callable[[float], None]
) -> None:
    settled_at = sent_at + timedelta(seconds=settle_seconds)
    remaining = (settled_at - datetime.now(UTC)).total_seconds()
    if remaining > 0:
        sleep(remaining)


def _reconcile(
    factory: sessionmaker[Session],
    request_id: int,
    job: _Job,
    zoom: ZoomAccounts,
    *,
    owe: OweOutcome,
) -> ProvisionResult | None:
    """An earlier attempt may have reached Zoom: ask Zoom before sending anything again."""
    try:
        found = zoom.find_sub_accounts(job.email)
    except ZoomError as error:
        # Said as it is: not "an answer the bot does not understand", since none may have come.
        unknown = ZoomOutcomeUnchecked(
            "an earlier attempt was interrupted and Zoom could not be asked whether it worked "
            f"({type(error).__name__})",
            http_status=error.http_status,
            zoom_code=error.zoom_code,
        )
        return _record_failure(factory, owe=owe, request_id=request_id, error=unknown)
    with factory.begin() as session:
        add_event(
            session, request_id=request_id, kind=EventKind.RECONCILED, detail={"found": len(found)}
        )
    if not found:
        return None
    account = _account_from_listing(found[0], job.email)
    password = job.password if job.generated else None
    return _record_success(
        factory, owe=owe, request_id=request_id, account=account, password=password, reconciled=True
    )


def _account_from_listing(listed: dict[str, Any], email: str) -> CreatedAccount:
    return CreatedAccount(
        id=str(listed.get("id") or ""),
        owner_id=str(listed.get("owner_id") or ""),
        owner_email=str(listed.get("owner_email") or email),
        created_at=str(listed.get("created_at") or ""),
    )


def _send(
    factory: sessionmaker[Session],
    request_id: int,
    job: _Job,
    zoom: ZoomAccounts,
    *,
    owe: OweOutcome,
) -> ProvisionResult:
    """Call Zoom for a job whose attempt is already committed (see _mark_sent)."""
    with counting_waits() as waited:
        try:
            account = zoom.create_sub_account(job.body)
        except ZoomRateLimited as error:
            return _requeue_or_fail(
                factory, owe=owe, request_id=request_id, error=error, wait_seconds=waited.seconds
            )
        except ZoomError as error:
            redact_error(error, job.password)
            return _record_failure(
                factory, owe=owe, request_id=request_id, error=error, wait_seconds=waited.seconds
            )
        except SQLAlchemyError:
            # The shared rate limit could not reserve a slot (database unreachable), so this
            # try was never sent. The job keeps its claim: it is looked up and retried once
            # that lapses.
            raise
        except Exception as exc:  # any failure mid-call must still settle the row
            # The request may have reached Zoom: record the outcome as unknown, never as failed.
            logger.exception("request %s: unexpected error during the Zoom call", request_id)
            unexpected = ZoomUnexpectedResponse(
                f"the bot failed during the call ({type(exc).__name__})", outcome_known=False
            )
            return _record_failure(factory, owe=owe, request_id=request_id, error=unexpected)
    password = job.password if job.generated else None
    return _record_success(
        factory,
        owe=owe,
        request_id=request_id,
        account=account,
        password=password,
        wait_seconds=waited.seconds,
    )


def _requeue_or_fail(
    factory: sessionmaker[Session],
    *,
    owe: OweOutcome,
    request_id: int,
    error: ZoomRateLimited,
    wait_seconds: float = 0.0,
) -> ProvisionResult:
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
            return _record_failure(
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


def _body_for(row: SubaccountRequest, password: str) -> dict[str, Any]:
    return create_account_body(
        first_name=row.first_name or "",
        last_name=row.last_name or "",
        email=row.email or "",
        password=password,
        account_name=row.account_name,
        sub_reseller_id=row.sub_reseller_id,
        options=row.options,
    )


def _record_success(
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
        # (bot/delivery/sender.py) or, for a bulk row, its batch's report hands all of them
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


def _record_failure(
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

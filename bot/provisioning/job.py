"""The Zoom call of an approved request, done so that one approval makes at most one account.

The row is the job: `zoom_attempts` is raised and committed *before* a create is sent, so a job
found with attempts > 0 may already have reached Zoom. Such a job is reconciled first: Zoom's
list endpoint is asked for the email; found → created; not found → sent once more; Zoom not
answering → `unknown`. A 429 means the create certainly did not happen: the job is requeued.
What the call ends in is recorded by results.py.
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
from bot.provisioning.result_detail import redact_error
from bot.provisioning.results import (
    OweOutcome,
    ProvisionResult,
    record_failure,
    record_success,
    requeue_or_fail,
)
from bot.requests.events import EventKind
from bot.requests.passwords import PasswordVault, PasswordVaultError
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


def _no_notices(_session: Session, _result: ProvisionResult) -> None:
    return None


class PasswordUndecryptable(ZoomError):
    """Not Zoom's answer: the stored password could not be decrypted, so nothing was sent."""

    MEANING = (
        "The bot could not decrypt the stored password (was PASSWORD_ENCRYPTION_KEY changed?), "
        "so nothing was sent to Zoom. Ask for the account again."
    )


class ZoomAccounts(Protocol):
    def create_sub_account(self, body: dict[str, Any]) -> CreatedAccount: ...

    def find_sub_accounts(self, email: str) -> list[dict[str, Any]]: ...


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
        return record_failure(
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
        return record_failure(factory, owe=owe, request_id=request_id, error=unknown)
    with factory.begin() as session:
        add_event(
            session, request_id=request_id, kind=EventKind.RECONCILED, detail={"found": len(found)}
        )
    if not found:
        return None
    account = _account_from_listing(found[0], job.email)
    password = job.password if job.generated else None
    return record_success(
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
            return requeue_or_fail(
                factory, owe=owe, request_id=request_id, error=error, wait_seconds=waited.seconds
            )
        except ZoomError as error:
            redact_error(error, job.password)
            return record_failure(
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
            return record_failure(factory, owe=owe, request_id=request_id, error=unexpected)
    password = job.password if job.generated else None
    return record_success(
        factory,
        owe=owe,
        request_id=request_id,
        account=account,
        password=password,
        wait_seconds=waited.seconds,
    )


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

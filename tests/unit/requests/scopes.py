"""A pending request of either scope for the decision tests: a request of one account (the
form) or of many (a bulk request), given as the Subject bot.requests.decisions takes, and what
its accounts hold afterwards, so that one test covers both scopes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import RequestApproval, RequestEvent, SubaccountRequest
from bot.requests import batches, workflow
from bot.requests.csv_rows import ValidRow
from bot.requests.passwords import PasswordVault
from bot.requests.subjects import Scope, Subject
from bot.requests.validation import ValidRequest

PASSWORD = "Tr0ub4dor-Xq"
REQUESTER = "UREQ"
SCOPES = [Scope.ONE, Scope.MANY]
BATCH_ROWS = 3  # the accounts of a bulk request made by pending()
T = TypeVar("T")


def make_request(**overrides: Any) -> ValidRequest:
    fields: dict[str, Any] = {
        "first_name": "Jill",
        "last_name": "Valentine",
        "email": "jill@example.com",
        "password": PASSWORD,
        "account_name": "Training",
        "sub_reseller_id": None,
        "options": {"share_mc": True, "meeting_connector_list": ["10.0.0.1"]},
        "reason": "Training team needs it.",
    }
    fields.update(overrides)
    return ValidRequest(**fields)


def pending_batch(
    sessions: sessionmaker[Session],
    *,
    rows: int = BATCH_ROWS,
    required_approvals: int = 1,
    requester_id: str = REQUESTER,
    vault: PasswordVault | None = None,
) -> int:
    """A submitted bulk request of `rows` accounts, waiting for approval; its id."""
    vault = vault or PasswordVault(Fernet.generate_key())
    valid = [
        ValidRow(
            row=n + 1,
            request=make_request(
                first_name="Person",
                last_name=f"Number{n}",
                email=f"person-{n}@example.com",
                password=None,
                account_name=None,
                options={},
                reason="Onboarding wave",
            ),
        )
        for n in range(1, rows + 1)
    ]
    with sessions.begin() as session:
        draft_id = batches.save_draft(
            session, requester_id=requester_id, channel_id="CORIGIN1", rows=valid, vault=vault
        )
        batches.submit_draft(
            session,
            draft_id=draft_id,
            requester_id=requester_id,
            vault=vault,
            required_approvals=required_approvals,
        )
    return draft_id


def pending(
    sessions: sessionmaker[Session],
    vault: PasswordVault,
    scope: Scope,
    *,
    required_approvals: int = 1,
) -> Subject:
    """A request of `scope` waiting for `required_approvals` approvals (of many: BATCH_ROWS)."""
    if scope == Scope.MANY:
        batch_id = pending_batch(sessions, required_approvals=required_approvals, vault=vault)
        return Subject.many(batch_id)
    with sessions.begin() as session:
        request_id = workflow.submit_request(
            session.connection(),
            requester_id=REQUESTER,
            channel_id="C0REQ",
            request=make_request(),
            vault=vault,
            required_approvals=required_approvals,
        )
    return Subject.one(request_id)


def expected_accounts(subject: Subject) -> int:
    return 1 if subject.scope == Scope.ONE else BATCH_ROWS


def accounts(sessions: sessionmaker[Session], subject: Subject) -> list[SubaccountRequest]:
    """The request's account rows (of one: its own row), in id order."""
    with sessions() as session:
        return list(
            session.scalars(
                select(SubaccountRequest)
                .where(subject.accounts_where())
                .order_by(SubaccountRequest.id)
            )
        )


def head_status(sessions: sessionmaker[Session], subject: Subject) -> str:
    """The status of the row holding the decision (the request, or the bulk request)."""
    with sessions() as session:
        return str(subject.head(session).status)


def account_statuses(sessions: sessionmaker[Session], subject: Subject) -> list[str]:
    return [str(row.status) for row in accounts(sessions, subject)]


def approvals_per_account(sessions: sessionmaker[Session], subject: Subject) -> list[list[str]]:
    """The approvers recorded on each account (sorted, duplicates kept), in account order."""
    ids = [row.id for row in accounts(sessions, subject)]
    with sessions() as session:
        rows = session.execute(
            select(RequestApproval.request_id, RequestApproval.approver_id).where(
                RequestApproval.request_id.in_(ids)
            )
        ).all()
    return [sorted(approver for request_id, approver in rows if request_id == i) for i in ids]


def kinds_per_account(sessions: sessionmaker[Session], subject: Subject) -> list[list[str]]:
    """Each account's audit trail (event kinds in order), in account order."""
    ids = [row.id for row in accounts(sessions, subject)]
    with sessions() as session:
        rows = session.execute(
            select(RequestEvent.request_id, RequestEvent.kind)
            .where(RequestEvent.request_id.in_(ids))
            .order_by(RequestEvent.id)
        ).all()
    return [[str(kind) for request_id, kind in rows if request_id == i] for i in ids]


def count_per_account(sessions: sessionmaker[Session], subject: Subject, kind: str) -> list[int]:
    """How many `kind` events each account has, in account order."""
    return [kinds.count(kind) for kinds in kinds_per_account(sessions, subject)]


def at_once(*actions: Callable[[], T]) -> list[T]:
    """Run each action on its own thread, released together; their results, in order."""
    barrier = threading.Barrier(len(actions))

    def run(action: Callable[[], T]) -> T:
        barrier.wait(timeout=10)
        return action()

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(run, actions))

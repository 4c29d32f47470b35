"""The request rows the form writes and reads with Core, on SQLite and PostgreSQL: submit_request
stores exactly the row and `submitted` event the ORM path (a new_request_row added to a session)
stored, and announcing reads the row without its password."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import normalize_database_url
from bot.db.migrate import upgrade_to_head
from bot.db.models import RequestEvent, SubaccountRequest
from bot.db.session import make_engine, make_session_factory
from bot.requests import workflow
from bot.requests.passwords import PasswordVault, password_problems
from bot.requests.validation import ValidRequest

REQUESTS: Table = SubaccountRequest.__table__  # type: ignore[assignment]
EVENTS: Table = RequestEvent.__table__  # type: ignore[assignment]
# Set by the database or the clock, so never equal between two rows; checked on their own.
NOT_COMPARED = {"id", "created_at", "updated_at", "claim_expires_at", "password_ciphertext"}


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(normalize_database_url(database_url))
    upgrade_to_head(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def vault() -> PasswordVault:
    return PasswordVault(Fernet.generate_key())


def valid_request(**overrides: Any) -> ValidRequest:
    fields: dict[str, Any] = {
        "first_name": "Jill",
        "last_name": "Valentine",
        "email": "jill@example.com",
        "password": "Tr0ub4dor-Xq",
        "account_name": "Training",
        "sub_reseller_id": "SR-1",
        "options": {"share_mc": True, "meeting_connector_list": ["10.0.0.1"]},
        "reason": "Training team needs it.",
    }
    fields.update(overrides)
    return ValidRequest(**fields)


def store_with_orm(sessions, vault, request, required_approvals) -> int:
    """What submit_request did before it used Core: the ORM row and an ORM event."""
    with sessions.begin() as session:
        row = workflow.new_request_row(
            request,
            requester_id="UREQ",
            channel_id="C0REQ",
            vault=vault,
            required_approvals=required_approvals,
        )
        session.add(row)
        session.flush()
        detail = {
            "required_approvals": required_approvals,
            "password_generated": row.password_generated,
        }
        workflow.add_event(
            session, request_id=row.id, kind="submitted", actor_id="UREQ", detail=detail
        )
        return row.id


def store_with_core(sessions, vault, request, required_approvals) -> int:
    with sessions.begin() as session:
        return workflow.submit_request(
            session.connection(),
            requester_id="UREQ",
            channel_id="C0REQ",
            request=request,
            vault=vault,
            required_approvals=required_approvals,
        )


def raw_row(sessions, request_id: int) -> dict[str, Any]:
    """The stored values as Core reads them, and which JSON columns are SQL NULL (a JSON `null`
    and a SQL NULL both read back as None)."""
    query = select(REQUESTS, REQUESTS.c.options.is_(None).label("options_is_sql_null")).where(
        REQUESTS.c.id == request_id
    )
    with sessions() as session:
        return dict(session.execute(query).one()._mapping)


def submitted_event(sessions, request_id: int) -> dict[str, Any]:
    query = select(EVENTS).where(EVENTS.c.request_id == request_id, EVENTS.c.kind == "submitted")
    with sessions() as session:
        event = dict(session.execute(query).one()._mapping)
    return {key: value for key, value in event.items() if key not in {"id", "request_id", "at"}}


@pytest.mark.parametrize(
    ("required_approvals", "overrides"),
    [
        (1, {}),
        (1, {"password": None, "options": {}, "sub_reseller_id": None, "reason": None}),
        (0, {}),
    ],
    ids=["typed-password", "generated-password-no-options", "no-approval-needed"],
)
def test_core_insert_stores_the_columns_the_orm_row_stored(
    sessions, vault, required_approvals, overrides
):
    request = valid_request(**overrides)
    before = datetime.now(UTC)

    by_orm = raw_row(sessions, store_with_orm(sessions, vault, request, required_approvals))
    by_core = raw_row(sessions, store_with_core(sessions, vault, request, required_approvals))

    after = datetime.now(UTC)
    # Only a batch's rows (the ORM path) are held until their message is posted: see below.
    skipped = NOT_COMPARED | {"claimed_by", "claim_expires_at"}
    assert {k: v for k, v in by_core.items() if k not in skipped} == {
        k: v for k, v in by_orm.items() if k not in skipped
    }
    for row in (by_orm, by_core):
        assert before <= row["created_at"] <= after
        assert before <= row["updated_at"] <= after
    assert (by_orm["claim_expires_at"] is None) == bool(required_approvals)
    stored = [vault.decrypt(row["password_ciphertext"]) for row in (by_orm, by_core)]
    if request.password is None:  # each generated its own, as good as the other
        assert [password_problems(password) for password in stored] == [[], []]
    else:
        assert stored == [request.password, request.password]


def test_a_request_needing_no_approval_is_due_at_once_and_a_batch_row_is_held(sessions, vault):
    """A single request's outcome waits for its message in the outbox (the update waits for the
    post), so its job needs no hold; a batch's rows are held until the batch is posted."""
    request = valid_request()

    by_orm = raw_row(sessions, store_with_orm(sessions, vault, request, 0))
    by_core = raw_row(sessions, store_with_core(sessions, vault, request, 0))

    assert (by_core["claimed_by"], by_core["claim_expires_at"]) == (None, None)
    assert by_orm["claimed_by"] == workflow.HOLD_FOR_ANNOUNCE
    hold = by_orm["claim_expires_at"] - by_orm["created_at"]
    assert timedelta(seconds=59) <= hold <= workflow.ANNOUNCE_HOLD


def test_core_insert_writes_the_submitted_event_the_orm_path_wrote(sessions, vault):
    request = valid_request(password=None)

    by_orm = store_with_orm(sessions, vault, request, 1)
    by_core = store_with_core(sessions, vault, request, 1)

    assert submitted_event(sessions, by_core) == submitted_event(sessions, by_orm)
    assert submitted_event(sessions, by_core)["detail"] == {
        "required_approvals": 1,
        "password_generated": True,
    }


def test_request_to_announce_reads_the_row_but_not_its_password(sessions, vault):
    request_id = store_with_core(sessions, vault, valid_request(), 1)

    with sessions() as session:
        stored = session.get_one(SubaccountRequest, request_id)
        with session.bind.connect() as connection:
            announced = workflow.request_to_announce(connection, request_id)

    assert stored.password_ciphertext is not None
    assert announced.password_ciphertext is None
    shown = [column.key for column in REQUESTS.c if column.key != "password_ciphertext"]
    assert {key: getattr(announced, key) for key in shown} == {
        key: getattr(stored, key) for key in shown
    }

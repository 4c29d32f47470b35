"""The provisioning job's path to Zoom: one read of its row before the call, the rate-limit wait
recorded with the result, and the result rebuilt from the audit log for a re-render."""

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import normalize_database_url
from bot.db.migrate import upgrade_to_head
from bot.db.models import RequestEvent, RequestStatus, SubaccountRequest
from bot.db.session import make_engine, make_session_factory
from bot.flows.outcomes import settled_result
from bot.provisioning import job as provisioning
from bot.provisioning.ratelimit import SharedRateLimiter
from bot.requests.passwords import PasswordVault
from bot.slack.render import messages
from bot.zoom.client import CreatedAccount
from bot.zoom.errors import (
    FieldError,
    ZoomError,
    ZoomRateLimited,
    ZoomTimeout,
    ZoomValidationError,
)

PASSWORD = "Xk9mQ2vLp7zR"
ACCOUNT = CreatedAccount(
    id="acc-1", owner_id="own-1", owner_email="jill@example.com", created_at="2024-05-01"
)


class Zoom:
    """Creates an account (or raises `error`), first waiting for a slot when given a limiter."""

    def __init__(
        self, *, limiter: SharedRateLimiter | None = None, error: ZoomError | None = None
    ) -> None:
        self.limiter = limiter
        self.error = error

    def create_sub_account(self, body: dict[str, Any]) -> CreatedAccount:
        if self.limiter is not None:
            self.limiter.acquire()
        if self.error is not None:
            raise self.error
        return ACCOUNT

    def find_sub_accounts(self, email: str) -> list[dict[str, Any]]:
        return []


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(normalize_database_url(database_url))
    upgrade_to_head(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def vault() -> PasswordVault:
    return PasswordVault(Fernet.generate_key())


def job(sessions: sessionmaker[Session], vault: PasswordVault, email: str = "jill@example.com"):
    row = SubaccountRequest(
        status=RequestStatus.PROVISIONING,
        requester_id="UREQ",
        first_name="Jill",
        last_name="Chill",
        email=email,
        password_ciphertext=vault.encrypt(PASSWORD),
    )
    with sessions.begin() as session:
        session.add(row)
        session.flush()
        return row.id


def run(sessions, vault, request_id, zoom):
    return provisioning.provision(sessions, request_id=request_id, zoom=zoom, vault=vault)


def last_detail(sessions, request_id, kind):
    with sessions() as session:
        return session.scalars(
            select(RequestEvent.detail)
            .where(RequestEvent.request_id == request_id, RequestEvent.kind == kind)
            .order_by(RequestEvent.id.desc())
        ).first()


def frozen_limiter(sessions):
    """10 slots a second on a clock that never moves: the second caller waits 100 ms."""
    return SharedRateLimiter(
        sessions, rate_per_second=10.0, clock=lambda: 1_000_000.0, sleep=lambda _s: None
    )


# -- the rate-limit wait -----------------------------------------------------------------------


def test_a_call_that_waited_for_its_slot_records_the_wait_in_its_result(sessions, vault):
    zoom = Zoom(limiter=frozen_limiter(sessions))
    first, second = job(sessions, vault, "a@example.com"), job(sessions, vault, "b@example.com")

    run(sessions, vault, first, zoom)
    run(sessions, vault, second, zoom)

    assert "rate_limit_wait_ms" not in last_detail(sessions, first, "zoom_result")
    assert last_detail(sessions, second, "zoom_result")["rate_limit_wait_ms"] == 100.0


def test_a_failed_call_records_its_wait_too(sessions, vault):
    limiter = frozen_limiter(sessions)
    limiter.acquire()  # an earlier call took the free slot
    error = ZoomValidationError("bad", http_status=400, zoom_code=300)

    request_id = job(sessions, vault)
    run(sessions, vault, request_id, Zoom(limiter=limiter, error=error))

    assert last_detail(sessions, request_id, "zoom_result")["rate_limit_wait_ms"] == 100.0


def test_a_requeued_call_records_its_wait(sessions, vault):
    limiter = frozen_limiter(sessions)
    limiter.acquire()
    request_id = job(sessions, vault)

    run(sessions, vault, request_id, Zoom(limiter=limiter, error=ZoomRateLimited(http_status=429)))

    assert last_detail(sessions, request_id, "requeued")["rate_limit_wait_ms"] == 100.0


def test_waits_outside_a_job_are_not_counted_in_it(sessions, vault):
    limiter = frozen_limiter(sessions)
    limiter.acquire()
    limiter.acquire()  # waited, but for no job
    request_id = job(sessions, vault)

    run(sessions, vault, request_id, Zoom())

    assert "rate_limit_wait_ms" not in last_detail(sessions, request_id, "zoom_result")


# -- round trips before the call ---------------------------------------------------------------


def test_a_first_attempt_reads_its_row_once_and_commits_once_before_calling_zoom(sessions, vault):
    request_id = job(sessions, vault)
    seen: list[str] = []
    engine = sessions.kw["bind"]

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement.split()[0].upper())

    class Watched(Zoom):
        def create_sub_account(self, body):
            self.before_call = list(seen)
            return super().create_sub_account(body)

    zoom = Watched()
    event.listen(engine, "before_cursor_execute", record)
    try:
        run(sessions, vault, request_id, zoom)
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert sorted(zoom.before_call) == ["INSERT", "SELECT", "UPDATE"]
    assert last_detail(sessions, request_id, "zoom_called")["password"] == "********"


def test_password_echoed_in_a_field_error_is_redacted_in_the_audit_log(sessions, vault):
    error = ZoomValidationError(
        "bad", http_status=400, zoom_code=300, field_errors=(FieldError("password", PASSWORD),)
    )
    request_id = job(sessions, vault)

    run(sessions, vault, request_id, Zoom(error=error))

    detail = last_detail(sessions, request_id, "zoom_result")
    assert PASSWORD not in str(detail)
    assert detail["field_errors"][0]["field"] == "password"


# -- the outcome rebuilt for a re-render -------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        None,
        ZoomValidationError(
            "bad", http_status=400, zoom_code=300, field_errors=(FieldError("name", "too long"),)
        ),
        ZoomTimeout("read timed out"),
    ],
    ids=["created", "refused-with-field-errors", "unknown"],
)
def test_a_finished_job_renders_the_same_from_the_database(sessions, vault, error):
    request_id = job(sessions, vault)
    result = run(sessions, vault, request_id, Zoom(error=error))

    with sessions() as session:
        rebuilt = settled_result(session, session.get_one(SubaccountRequest, request_id))

    assert rebuilt is not None
    assert messages.outcome_text(rebuilt) == messages.outcome_text(result)


def test_a_job_still_running_has_no_settled_result(sessions, vault):
    request_id = job(sessions, vault)

    with sessions() as session:
        assert settled_result(session, session.get_one(SubaccountRequest, request_id)) is None

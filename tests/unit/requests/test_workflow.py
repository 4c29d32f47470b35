"""Tests of bot.requests.workflow on SQLite and PostgreSQL:
submit, approve, reject, expire, provision."""

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.config import normalize_database_url
from bot.db.migrate import upgrade_to_head
from bot.db.models import RequestApproval, RequestEvent, RequestStatus, SubaccountRequest
from bot.db.session import make_engine, make_session_factory
from bot.observability.redaction import REDACTED, redact
from bot.provisioning import job
from bot.provisioning.results import record_success
from bot.requests import decisions, workflow
from bot.requests.decisions import DecisionOutcome
from bot.requests.passwords import PasswordVault, password_problems
from bot.requests.subjects import Subject
from bot.zoom.client import CreatedAccount
from bot.zoom.errors import (
    ZoomEmailInUse,
    ZoomError,
    ZoomServerError,
    ZoomTimeout,
    ZoomUnexpectedResponse,
    ZoomValidationError,
)
from tests.unit.requests.scopes import (
    PASSWORD,
    SCOPES,
    account_statuses,
    accounts,
    approvals_per_account,
    at_once,
    count_per_account,
    expected_accounts,
    head_status,
    make_request,
    pending,
)

TTL = timedelta(hours=24)
ACCOUNT = CreatedAccount(
    id="acc-123", owner_id="own-456", owner_email="jill@example.com", created_at="2024-05-01"
)


class ZoomSimulator:
    """An AccountCreator that records the bodies it was given and answers as configured."""

    def __init__(
        self,
        *,
        error: ZoomError | None = None,
        during_call: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.error = error
        self.during_call = during_call
        self.bodies: list[dict[str, Any]] = []

    def create_sub_account(self, body: dict[str, Any]) -> CreatedAccount:
        self.bodies.append(body)
        if self.during_call is not None:
            self.during_call(body)
        if self.error is not None:
            raise self.error
        return ACCOUNT


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(normalize_database_url(database_url))
    upgrade_to_head(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def vault() -> PasswordVault:
    return PasswordVault(Fernet.generate_key())


def submit(
    sessions: sessionmaker[Session],
    vault: PasswordVault,
    *,
    required_approvals: int = 1,
    **overrides: Any,
) -> int:
    with sessions.begin() as session:
        return workflow.submit_request(
            session.connection(),
            requester_id="UREQ",
            channel_id="C0REQ",
            request=make_request(**overrides),
            vault=vault,
            required_approvals=required_approvals,
        )


def load(sessions: sessionmaker[Session], request_id: int) -> SubaccountRequest:
    with sessions() as session:
        return session.get_one(SubaccountRequest, request_id)


def events(sessions: sessionmaker[Session], request_id: int) -> list[RequestEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(RequestEvent)
                .where(RequestEvent.request_id == request_id)
                .order_by(RequestEvent.id)
            )
        )


def kinds(sessions: sessionmaker[Session], request_id: int) -> list[str]:
    return [event.kind for event in events(sessions, request_id)]


def subject_of(request: int | Subject) -> Subject:
    """A request of one by its id, or any Subject (a request of one or of many) as it is."""
    return request if isinstance(request, Subject) else Subject.one(request)


def approve(sessions, request, approver_id="UAPP", *, required_approvals=1, ttl=TTL):
    return decisions.approve(
        sessions,
        subject_of(request),
        approver_id=approver_id,
        required_approvals=required_approvals,
        ttl=ttl,
    )


def reject(sessions, request, rejecter_id="UAPP", *, ttl=TTL):
    return decisions.reject(sessions, subject_of(request), rejecter_id=rejecter_id, ttl=ttl)


def head_approver(sessions: sessionmaker[Session], subject: Subject) -> str | None:
    with sessions() as session:
        return subject.head(session).approver_id


def assert_every_account(sessions, subject, status, approver_id=None):
    """The request and each of its accounts (one, or every account of a bulk request) are in
    `status`, decided by `approver_id`."""
    assert head_status(sessions, subject) == status
    assert head_approver(sessions, subject) == approver_id
    rows = accounts(sessions, subject)
    assert len(rows) == expected_accounts(subject)
    assert [(row.status, row.approver_id) for row in rows] == [(status, approver_id)] * len(rows)


def make_old(sessions: sessionmaker[Session], request_id: int, *, age: timedelta) -> None:
    with sessions.begin() as session:
        session.execute(
            update(SubaccountRequest)
            .where(SubaccountRequest.id == request_id)
            .values(created_at=datetime.now(UTC) - age)
        )


def approved_request(sessions, vault, **overrides: Any) -> int:
    request_id = submit(sessions, vault, **overrides)
    approve(sessions, request_id)
    return request_id


def provision(sessions, vault, request_id, zoom):
    return job.provision(sessions, request_id=request_id, zoom=zoom, vault=vault)


# -- submit --------------------------------------------------------------------------------


def test_submit_stores_a_pending_request_with_its_details(sessions, vault):
    request_id = submit(sessions, vault, sub_reseller_id="R-42")

    row = load(sessions, request_id)
    assert (
        row.status,
        row.requester_id,
        row.channel_id,
        row.first_name,
        row.last_name,
        row.email,
        row.account_name,
        row.sub_reseller_id,
        row.options,
        row.reason,
    ) == (
        RequestStatus.PENDING_APPROVAL,
        "UREQ",
        "C0REQ",
        "Jill",
        "Valentine",
        "jill@example.com",
        "Training",
        "R-42",
        {"share_mc": True, "meeting_connector_list": ["10.0.0.1"]},
        "Training team needs it.",
    )


def test_submit_stores_the_password_encrypted(sessions, vault):
    request_id = submit(sessions, vault, password=PASSWORD)

    row = load(sessions, request_id)
    assert row.password_ciphertext is not None
    assert PASSWORD.encode() not in row.password_ciphertext
    assert vault.decrypt(row.password_ciphertext) == PASSWORD
    assert row.password_generated is False


def test_submit_without_a_password_stores_a_generated_one(sessions, vault):
    request_id = submit(sessions, vault, password=None)

    row = load(sessions, request_id)
    assert row.password_generated is True
    assert row.password_ciphertext is not None
    assert password_problems(vault.decrypt(row.password_ciphertext)) == []


def test_submit_records_a_submitted_event_without_the_password(sessions, vault):
    request_id = submit(sessions, vault, required_approvals=2)

    [event] = events(sessions, request_id)
    assert (event.kind, event.actor_id, event.detail) == (
        "submitted",
        "UREQ",
        {"required_approvals": 2, "password_generated": False},
    )


def test_submit_without_options_stores_none(sessions, vault):
    request_id = submit(sessions, vault, options={})

    assert load(sessions, request_id).options is None


def test_submit_with_no_approvals_required_goes_straight_to_provisioning(sessions, vault):
    request_id = submit(sessions, vault, required_approvals=0)

    assert load(sessions, request_id).status == RequestStatus.PROVISIONING
    assert [(e.kind, e.detail) for e in events(sessions, request_id)][1] == (
        "approved",
        {"automatic": True},
    )


def test_record_denied_stores_a_denied_row_and_the_reason(sessions):
    with sessions.begin() as session:
        row = workflow.record_denied(
            session, requester_id="UX", channel_id="C1", attempted="open_modal", reason="not listed"
        )
        request_id = row.id

    assert load(sessions, request_id).status == RequestStatus.DENIED
    assert [(e.kind, e.detail) for e in events(sessions, request_id)] == [
        ("denied", {"attempted": "open_modal", "reason": "not listed"})
    ]


def test_request_is_found_by_its_approval_message(sessions, vault):
    request_id = submit(sessions, vault)
    with sessions.begin() as session:
        workflow.attach_approval_message(
            session, request_id=request_id, channel_id="C0APPR", ts="1700000000.000100"
        )

    with sessions() as session:
        found = workflow.find_by_message(session, channel_id="C0APPR", ts="1700000000.000100")
        other = workflow.find_by_message(session, channel_id="C0APPR", ts="1700000000.000200")

    assert found is not None
    assert found.id == request_id
    assert other is None


# -- approve -------------------------------------------------------------------------------


def test_single_required_approval_moves_the_request_to_provisioning(sessions, vault):
    request_id = submit(sessions, vault)

    decision = approve(sessions, request_id, "UAPP")

    assert decision.outcome == DecisionOutcome.APPROVED
    assert decision.approvers == ["UAPP"]
    row = load(sessions, request_id)
    assert (row.status, row.approver_id) == (RequestStatus.PROVISIONING, "UAPP")
    assert row.decided_at is not None
    assert row.decided_at.tzinfo is not None


def test_approval_keeps_the_password_for_provisioning(sessions, vault):
    request_id = submit(sessions, vault)

    approve(sessions, request_id)

    assert load(sessions, request_id).password_ciphertext is not None


def test_approval_records_approval_and_approved_events(sessions, vault):
    request_id = submit(sessions, vault)

    approve(sessions, request_id, "UAPP")

    assert [(e.kind, e.actor_id) for e in events(sessions, request_id)][1:] == [
        ("approval", "UAPP"),
        ("approved", "UAPP"),
    ]


def test_first_of_two_required_approvals_waits_for_more(sessions, vault):
    request_id = submit(sessions, vault, required_approvals=2)

    decision = approve(sessions, request_id, "UA", required_approvals=2)

    assert decision.outcome == DecisionOutcome.WAITING_FOR_MORE
    assert decision.approvers == ["UA"]
    assert load(sessions, request_id).status == RequestStatus.PENDING_APPROVAL


def test_second_distinct_approver_approves(sessions, vault):
    request_id = submit(sessions, vault, required_approvals=2)
    approve(sessions, request_id, "UA", required_approvals=2)

    decision = approve(sessions, request_id, "UB", required_approvals=2)

    assert decision.outcome == DecisionOutcome.APPROVED
    assert decision.approvers == ["UA", "UB"]
    assert load(sessions, request_id).approver_id == "UB"


@pytest.mark.parametrize("scope", SCOPES)
def test_same_approver_twice_is_already_approved_by_you(sessions, vault, scope):
    subject = pending(sessions, vault, scope, required_approvals=2)
    approve(sessions, subject, "UA", required_approvals=2)

    decision = approve(sessions, subject, "UA", required_approvals=2)

    assert decision.outcome == DecisionOutcome.ALREADY_APPROVED_BY_YOU
    assert decision.approvers == ["UA"]
    assert_every_account(sessions, subject, RequestStatus.PENDING_APPROVAL)


@pytest.mark.parametrize("scope", SCOPES)
def test_duplicated_approval_is_stored_once(sessions, vault, scope):
    subject = pending(sessions, vault, scope, required_approvals=2)
    approve(sessions, subject, "UA", required_approvals=2)

    approve(sessions, subject, "UA", required_approvals=2)

    every = expected_accounts(subject)
    assert count_per_account(sessions, subject, "approval") == [1] * every
    assert approvals_per_account(sessions, subject) == [["UA"]] * every
    with sessions() as session:
        assert subject.approvers(session) == ["UA"]


@pytest.mark.parametrize("scope", SCOPES)
def test_approving_an_approved_request_is_already_decided(sessions, vault, scope):
    subject = pending(sessions, vault, scope)
    approve(sessions, subject, "UA")

    decision = approve(sessions, subject, "UB")

    assert decision.outcome == DecisionOutcome.ALREADY_DECIDED
    assert_every_account(sessions, subject, RequestStatus.PROVISIONING, "UA")
    every = expected_accounts(subject)
    assert approvals_per_account(sessions, subject) == [["UA"]] * every
    assert count_per_account(sessions, subject, "approved") == [1] * every


@pytest.mark.parametrize("scope", SCOPES)
def test_approving_a_rejected_request_is_already_decided(sessions, vault, scope):
    subject = pending(sessions, vault, scope)
    reject(sessions, subject, "UA")

    decision = approve(sessions, subject, "UB")

    assert decision.outcome == DecisionOutcome.ALREADY_DECIDED
    assert decision.head.status == RequestStatus.REJECTED
    assert_every_account(sessions, subject, RequestStatus.REJECTED, "UA")
    assert approvals_per_account(sessions, subject) == [[]] * expected_accounts(subject)


@pytest.mark.parametrize("scope", SCOPES)
def test_two_approvers_at_once_end_in_exactly_one_approval(sessions, vault, scope):
    subjects = [pending(sessions, vault, scope, required_approvals=2) for _ in range(3)]

    for subject in subjects:
        barrier = threading.Barrier(2)

        def approve_at_once(approver_id: str, subject: Subject = subject, barrier=barrier):
            barrier.wait(timeout=10)
            return approve(sessions, subject, approver_id, required_approvals=2).outcome

        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = list(pool.map(approve_at_once, ["UA", "UB"]))

        assert outcomes.count(DecisionOutcome.APPROVED) == 1, outcomes
        assert set(outcomes) - {DecisionOutcome.APPROVED} <= {
            DecisionOutcome.WAITING_FOR_MORE,
            DecisionOutcome.ALREADY_DECIDED,
        }
        every = expected_accounts(subject)
        winner = ["UA", "UB"][outcomes.index(DecisionOutcome.APPROVED)]
        assert_every_account(sessions, subject, RequestStatus.PROVISIONING, winner)
        assert account_statuses(sessions, subject) == [RequestStatus.PROVISIONING] * every
        assert count_per_account(sessions, subject, "approved") == [1] * every
        assert count_per_account(sessions, subject, "approval") == [2] * every
        assert approvals_per_account(sessions, subject) == [["UA", "UB"]] * every
        with sessions() as session:
            assert sorted(subject.approvers(session)) == ["UA", "UB"]


@pytest.mark.parametrize("scope", SCOPES)
def test_approve_and_reject_at_once_decide_once(sessions, vault, scope):
    subjects = [pending(sessions, vault, scope) for _ in range(3)]

    for subject in subjects:
        approved, rejected = at_once(
            lambda subject=subject: approve(sessions, subject, "UA").outcome,
            lambda subject=subject: reject(sessions, subject, "UB").outcome,
        )

        every = expected_accounts(subject)
        if approved == DecisionOutcome.APPROVED:
            assert rejected == DecisionOutcome.ALREADY_DECIDED
            assert_every_account(sessions, subject, RequestStatus.PROVISIONING, "UA")
            assert approvals_per_account(sessions, subject) == [["UA"]] * every
        else:
            assert (approved, rejected) == (
                DecisionOutcome.ALREADY_DECIDED,
                DecisionOutcome.REJECTED,
            )
            assert_every_account(sessions, subject, RequestStatus.REJECTED, "UB")
            assert [row.password_ciphertext for row in accounts(sessions, subject)] == [
                None
            ] * every
            # The approval may have been recorded before the rejection won: on every account.
            assert approvals_per_account(sessions, subject) in ([[]] * every, [["UA"]] * every)
        won = 1 if approved == DecisionOutcome.APPROVED else 0
        assert count_per_account(sessions, subject, "approved") == [won] * every
        assert count_per_account(sessions, subject, "rejected") == [1 - won] * every


@pytest.mark.parametrize("scope", SCOPES)
def test_a_decision_and_an_expiry_at_once_decide_once(sessions, vault, scope):
    """The expiry of a request's sweep (decisions.expire moves whatever is still pending)
    racing an approval: one of them moves the request, the other changes nothing."""
    subjects = [pending(sessions, vault, scope) for _ in range(3)]

    for subject in subjects:
        decision, expired = at_once(
            lambda subject=subject: approve(sessions, subject, "UA"),
            lambda subject=subject: decisions.expire(sessions, subject, ttl=TTL, actor_id=None),
        )

        every = expected_accounts(subject)
        if expired:
            assert decision.outcome == DecisionOutcome.ALREADY_DECIDED
            assert_every_account(sessions, subject, RequestStatus.EXPIRED)
            assert [row.password_ciphertext for row in accounts(sessions, subject)] == [
                None
            ] * every
        else:
            assert decision.outcome == DecisionOutcome.APPROVED
            assert_every_account(sessions, subject, RequestStatus.PROVISIONING, "UA")
            assert approvals_per_account(sessions, subject) == [["UA"]] * every
        assert count_per_account(sessions, subject, "expired") == [int(expired)] * every
        assert count_per_account(sessions, subject, "approved") == [int(not expired)] * every


def test_refusal_is_recorded_as_an_event_with_its_reason(sessions, vault):
    request_id = submit(sessions, vault)

    decision = decisions.refuse(
        sessions, Subject.one(request_id), actor_id="UX", action="approve", reason="not an approver"
    )

    assert (decision.outcome, decision.reason) == (DecisionOutcome.REFUSED, "not an approver")
    assert decision.request.status == RequestStatus.PENDING_APPROVAL
    assert [(e.kind, e.actor_id, e.detail) for e in events(sessions, request_id)][-1] == (
        "approve_refused",
        "UX",
        {"reason": "not an approver"},
    )


# -- reject --------------------------------------------------------------------------------


def test_reject_closes_the_request_and_erases_the_password(sessions, vault):
    request_id = submit(sessions, vault)

    decision = reject(sessions, request_id, "UAPP")

    assert decision.outcome == DecisionOutcome.REJECTED
    row = load(sessions, request_id)
    assert (row.status, row.approver_id, row.password_ciphertext) == (
        RequestStatus.REJECTED,
        "UAPP",
        None,
    )
    assert row.decided_at is not None


def test_reject_records_a_rejected_event(sessions, vault):
    request_id = submit(sessions, vault)

    reject(sessions, request_id, "UREQ")

    assert [(e.kind, e.actor_id) for e in events(sessions, request_id)][-1] == ("rejected", "UREQ")


@pytest.mark.parametrize("scope", SCOPES)
def test_rejecting_an_approved_request_is_already_decided(sessions, vault, scope):
    subject = pending(sessions, vault, scope)
    approve(sessions, subject, "UA")

    decision = reject(sessions, subject, "UB")

    assert decision.outcome == DecisionOutcome.ALREADY_DECIDED
    assert_every_account(sessions, subject, RequestStatus.PROVISIONING, "UA")
    assert count_per_account(sessions, subject, "rejected") == [0] * expected_accounts(subject)


@pytest.mark.parametrize("scope", SCOPES)
def test_rejecting_twice_is_already_decided(sessions, vault, scope):
    subject = pending(sessions, vault, scope)
    reject(sessions, subject, "UA")

    decision = reject(sessions, subject, "UB")

    assert decision.outcome == DecisionOutcome.ALREADY_DECIDED
    assert_every_account(sessions, subject, RequestStatus.REJECTED, "UA")
    every = expected_accounts(subject)
    assert count_per_account(sessions, subject, "rejected") == [1] * every
    assert [row.password_ciphertext for row in accounts(sessions, subject)] == [None] * every


def test_reject_after_one_of_two_approvals_rejects(sessions, vault):
    request_id = submit(sessions, vault, required_approvals=2)
    approve(sessions, request_id, "UA", required_approvals=2)

    decision = reject(sessions, request_id, "UB")

    assert decision.outcome == DecisionOutcome.REJECTED
    assert decision.approvers == ["UA"]


# -- expire --------------------------------------------------------------------------------


def test_approving_after_the_ttl_expires_the_request_instead(sessions, vault):
    request_id = submit(sessions, vault)
    make_old(sessions, request_id, age=TTL + timedelta(minutes=1))

    decision = approve(sessions, request_id, "UAPP")

    assert decision.outcome == DecisionOutcome.EXPIRED
    row = load(sessions, request_id)
    assert (row.status, row.password_ciphertext, row.approver_id) == (
        RequestStatus.EXPIRED,
        None,
        None,
    )


def test_rejecting_after_the_ttl_expires_the_request_instead(sessions, vault):
    request_id = submit(sessions, vault)
    make_old(sessions, request_id, age=TTL + timedelta(minutes=1))

    decision = reject(sessions, request_id, "UAPP")

    assert decision.outcome == DecisionOutcome.EXPIRED
    assert load(sessions, request_id).status == RequestStatus.EXPIRED


def test_expiry_is_recorded_as_an_event(sessions, vault):
    request_id = submit(sessions, vault)
    make_old(sessions, request_id, age=TTL + timedelta(minutes=1))

    approve(sessions, request_id, "UAPP")

    assert kinds(sessions, request_id) == ["submitted", "expired"]


def test_request_just_inside_the_ttl_can_still_be_approved(sessions, vault):
    request_id = submit(sessions, vault)
    make_old(sessions, request_id, age=TTL - timedelta(minutes=1))

    decision = approve(sessions, request_id, "UAPP")

    assert decision.outcome == DecisionOutcome.APPROVED


def test_expired_request_stays_expired(sessions, vault):
    request_id = submit(sessions, vault)
    make_old(sessions, request_id, age=TTL * 2)
    approve(sessions, request_id, "UA")

    decision = approve(sessions, request_id, "UB")

    assert decision.outcome == DecisionOutcome.ALREADY_DECIDED
    assert decision.request.status == RequestStatus.EXPIRED


# -- provision -----------------------------------------------------------------------------


def test_provision_sends_the_request_with_its_decrypted_password(sessions, vault):
    request_id = approved_request(sessions, vault)
    zoom = ZoomSimulator()

    provision(sessions, vault, request_id, zoom)

    assert zoom.bodies == [
        {
            "first_name": "Jill",
            "last_name": "Valentine",
            "email": "jill@example.com",
            "password": PASSWORD,
            "account_name": "Training",
            "options": {"share_mc": True, "meeting_connector_list": ["10.0.0.1"]},
        }
    ]


def test_successful_provision_records_the_created_account(sessions, vault):
    request_id = approved_request(sessions, vault)

    result = provision(sessions, vault, request_id, ZoomSimulator())

    row = load(sessions, request_id)
    assert (
        row.status,
        row.zoom_http_status,
        row.zoom_account_id,
        row.zoom_owner_id,
        row.zoom_owner_email,
        row.zoom_created_at,
    ) == (RequestStatus.CREATED, 201, "acc-123", "own-456", "jill@example.com", "2024-05-01")
    assert (result.account, result.error) == (ACCOUNT, None)


def test_successful_provision_erases_the_password(sessions, vault):
    request_id = approved_request(sessions, vault)

    provision(sessions, vault, request_id, ZoomSimulator())

    assert load(sessions, request_id).password_ciphertext is None


def test_successful_provision_adds_zoom_called_and_zoom_result_events(sessions, vault):
    request_id = approved_request(sessions, vault)

    provision(sessions, vault, request_id, ZoomSimulator())

    called, result = events(sessions, request_id)[-2:]
    assert called.kind == "zoom_called"
    assert called.detail is not None
    assert called.detail["password"] == "********"
    assert called.detail["email"] == "jill@example.com"
    assert (result.kind, result.detail) == (
        "zoom_result",
        {"http_status": 201, "account_id": "acc-123", "owner_id": "own-456"},
    )


def test_zoom_called_event_is_committed_before_zoom_is_called(sessions, vault):
    request_id = approved_request(sessions, vault)
    seen: list[list[str]] = []
    zoom = ZoomSimulator(during_call=lambda _body: seen.append(kinds(sessions, request_id)))

    provision(sessions, vault, request_id, zoom)

    assert seen[0][-1] == "zoom_called"


def test_password_is_redacted_from_logs_only_while_zoom_is_called(sessions, vault):
    request_id = approved_request(sessions, vault)
    during: list[str] = []
    zoom = ZoomSimulator(during_call=lambda body: during.append(redact(body["password"])))

    provision(sessions, vault, request_id, zoom)

    assert during == [REDACTED]
    assert redact(PASSWORD) == PASSWORD


def test_typed_password_is_not_handed_back(sessions, vault):
    request_id = approved_request(sessions, vault, password=PASSWORD)

    result = provision(sessions, vault, request_id, ZoomSimulator())

    assert result.generated_password is None


def test_generated_password_is_handed_back_once_the_account_exists(sessions, vault):
    request_id = approved_request(sessions, vault, password=None)
    zoom = ZoomSimulator()

    result = provision(sessions, vault, request_id, zoom)

    assert result.generated_password == zoom.bodies[0]["password"]
    assert password_problems(result.generated_password) == []


def test_generated_password_is_not_handed_back_when_zoom_fails(sessions, vault):
    request_id = approved_request(sessions, vault, password=None)
    error = ZoomEmailInUse("Email has already been used.", http_status=409, zoom_code=1005)

    result = provision(sessions, vault, request_id, ZoomSimulator(error=error))

    assert result.generated_password is None


def test_no_approvals_required_request_can_be_provisioned_right_away(sessions, vault):
    request_id = submit(sessions, vault, required_approvals=0)

    provision(sessions, vault, request_id, ZoomSimulator())

    assert load(sessions, request_id).status == RequestStatus.CREATED


def test_zoom_refusal_records_failed_with_zooms_status_code_and_message(sessions, vault):
    request_id = approved_request(sessions, vault)
    error = ZoomEmailInUse(
        'Email "jill@example.com" has already been used.', http_status=409, zoom_code=1005
    )

    result = provision(sessions, vault, request_id, ZoomSimulator(error=error))

    row = load(sessions, request_id)
    assert (row.status, row.zoom_http_status, row.zoom_error_code, row.zoom_error_message) == (
        RequestStatus.FAILED,
        409,
        1005,
        'Email "jill@example.com" has already been used.',
    )
    assert result.error is error


def test_zoom_refusal_adds_a_zoom_result_event_describing_it(sessions, vault):
    request_id = approved_request(sessions, vault)
    error = ZoomEmailInUse("Email has already been used.", http_status=409, zoom_code=1005)

    provision(sessions, vault, request_id, ZoomSimulator(error=error))

    assert events(sessions, request_id)[-1].detail == {
        "http_status": 409,
        "code": 1005,
        "message": "Email has already been used.",
        "error": "ZoomEmailInUse",
        "outcome_known": True,
    }


@pytest.mark.parametrize(
    "error",
    [
        ZoomTimeout("read timed out"),
        ZoomServerError("Internal error", http_status=502),
        ZoomUnexpectedResponse("no id in answer", http_status=201, outcome_known=False),
    ],
    ids=["timeout", "server-error", "unreadable-2xx"],
)
def test_zoom_outcome_not_known_records_unknown(sessions, vault, error):
    request_id = approved_request(sessions, vault)

    provision(sessions, vault, request_id, ZoomSimulator(error=error))

    row = load(sessions, request_id)
    assert (row.status, row.zoom_http_status) == (RequestStatus.UNKNOWN, error.http_status)
    assert events(sessions, request_id)[-1].detail["outcome_known"] is False


def test_unknown_outcome_also_erases_the_password(sessions, vault):
    request_id = approved_request(sessions, vault)

    provision(sessions, vault, request_id, ZoomSimulator(error=ZoomTimeout("read timed out")))

    assert load(sessions, request_id).password_ciphertext is None


def test_failed_provision_erases_the_password(sessions, vault):
    request_id = approved_request(sessions, vault)
    error = ZoomValidationError("Validation Failed.", http_status=400, zoom_code=300)

    provision(sessions, vault, request_id, ZoomSimulator(error=error))

    assert load(sessions, request_id).password_ciphertext is None


def test_password_echoed_in_zooms_message_is_redacted_in_the_audit_log(sessions, vault):
    request_id = approved_request(sessions, vault)
    error = ZoomValidationError(
        f"Invalid field: password {PASSWORD}", http_status=400, zoom_code=300
    )

    provision(sessions, vault, request_id, ZoomSimulator(error=error))

    row = load(sessions, request_id)
    assert row.zoom_error_message == f"Invalid field: password {REDACTED}"
    assert events(sessions, request_id)[-1].detail["message"] == row.zoom_error_message


@pytest.mark.parametrize(
    "error",
    [
        None,
        ZoomValidationError(f"bad password {PASSWORD}", http_status=400, zoom_code=300),
        ZoomTimeout(f"timeout sending {PASSWORD}"),
    ],
    ids=["created", "failed", "unknown"],
)
def test_no_event_ever_contains_the_password(sessions, vault, error):
    request_id = approved_request(sessions, vault)

    provision(sessions, vault, request_id, ZoomSimulator(error=error))

    details = json.dumps([e.detail for e in events(sessions, request_id)])
    assert PASSWORD not in details
    assert [k for k in kinds(sessions, request_id) if k.startswith("zoom_")] == [
        "zoom_called",
        "zoom_result",
    ]


def test_generated_password_never_appears_in_an_event(sessions, vault):
    request_id = approved_request(sessions, vault, password=None)
    zoom = ZoomSimulator()

    provision(sessions, vault, request_id, zoom)

    details = json.dumps([e.detail for e in events(sessions, request_id)])
    assert zoom.bodies[0]["password"] not in details


def test_provisioning_twice_calls_zoom_once(sessions, vault):
    request_id = approved_request(sessions, vault)
    zoom = ZoomSimulator()
    provision(sessions, vault, request_id, zoom)

    with pytest.raises(ValueError, match="not waiting to be provisioned"):
        provision(sessions, vault, request_id, zoom)

    assert len(zoom.bodies) == 1


def test_pending_request_cannot_be_provisioned(sessions, vault):
    request_id = submit(sessions, vault)
    zoom = ZoomSimulator()

    with pytest.raises(ValueError, match="not waiting to be provisioned"):
        provision(sessions, vault, request_id, zoom)

    assert zoom.bodies == []


def test_rejected_request_cannot_be_provisioned(sessions, vault):
    request_id = submit(sessions, vault)
    reject(sessions, request_id)
    zoom = ZoomSimulator()

    with pytest.raises(ValueError, match="not waiting to be provisioned"):
        provision(sessions, vault, request_id, zoom)

    assert zoom.bodies == []


def test_approved_requests_are_independent(sessions, vault):
    first = approved_request(sessions, vault, email="first@example.com")
    second = approved_request(sessions, vault, email="second@example.com")

    provision(sessions, vault, first, ZoomSimulator())

    assert load(sessions, first).status == RequestStatus.CREATED
    assert load(sessions, second).status == RequestStatus.PROVISIONING


def test_approvals_of_one_request_do_not_count_for_another(sessions, vault):
    first = submit(sessions, vault, required_approvals=2)
    second = submit(sessions, vault, required_approvals=2)
    approve(sessions, first, "UA", required_approvals=2)

    decision = approve(sessions, second, "UB", required_approvals=2)

    assert decision.outcome == DecisionOutcome.WAITING_FOR_MORE
    with sessions() as session:
        assert session.scalars(
            select(RequestApproval.approver_id).order_by(RequestApproval.id)
        ).all() == ["UA", "UB"]


# -- two holders of one job (a lease that lapsed mid-call) ----------------------------------


@pytest.mark.parametrize("late_answer", ["created", "refused"])
def test_a_holder_whose_lease_lapsed_mid_call_records_nothing_after_the_taker_over(
    sessions, vault, late_answer
):
    """The job's lease ran out while its holder waited on Zoom: another instance took the job
    over, found the account and recorded it. The late holder must neither record a second
    outcome nor owe Slack a second set of notices."""
    request_id = approved_request(sessions, vault)
    owed: list[str] = []

    def owe(_session, result):
        owed.append(result.request.status)

    def taken_over(_body):
        record_success(
            sessions,
            owe=owe,
            request_id=request_id,
            account=ACCOUNT,
            password=None,
            reconciled=True,
        )

    error = ZoomEmailInUse("taken") if late_answer == "refused" else None
    zoom = ZoomSimulator(during_call=taken_over, error=error)
    result = job.provision(sessions, request_id=request_id, zoom=zoom, vault=vault, owe=owe)

    assert result.superseded
    assert owed == [RequestStatus.CREATED]  # the taker-over's notices only
    with sessions() as session:
        row = session.get_one(SubaccountRequest, request_id)
        results = session.scalars(
            select(RequestEvent).where(
                RequestEvent.request_id == request_id, RequestEvent.kind == "zoom_result"
            )
        ).all()
    assert row.status == RequestStatus.CREATED
    assert [event.detail.get("reconciled") for event in results] == [True]

"""A bulk request's decision and what it owes Slack: the `owe` hook runs inside the transaction
that approves, rejects or expires the batch, so the decision and its notices commit together or
not at all (as for a request of one: tests/unit/test_workflow.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.config import normalize_database_url
from bot.db.migrate import upgrade_to_head
from bot.db.models import RequestBatch, RequestEvent, SlackOutbox, SubaccountRequest
from bot.db.session import make_engine, make_session_factory
from bot.delivery import outbox
from bot.requests import decisions
from bot.requests.decisions import Decision, DecisionOutcome
from bot.requests.subjects import Subject
from tests.unit.requests import scopes

TTL = timedelta(hours=24)
REQUESTER, APPROVER, SECOND_APPROVER = "UREQ1", "UAPP1", "UAPP2"


class OweFailed(Exception):
    """Raised by an `owe` hook: whatever it was adding must vanish with the decision."""


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(normalize_database_url(database_url))
    upgrade_to_head(engine)
    yield make_session_factory(engine)
    engine.dispose()


def pending_batch(
    sessions: sessionmaker[Session], *, rows: int = 3, required_approvals: int = 1
) -> int:
    return scopes.pending_batch(
        sessions, rows=rows, required_approvals=required_approvals, requester_id=REQUESTER
    )


def backdate(sessions: sessionmaker[Session], batch_id: int, *, by: timedelta) -> None:
    with sessions.begin() as session:
        session.execute(
            update(RequestBatch)
            .where(RequestBatch.id == batch_id)
            .values(submitted_at=datetime.now(UTC) - by)
        )


def failing_owe(session: Session, decision: Decision) -> None:
    # Owed first, then the failure: the rows added so far must not survive it.
    outbox.owe(session, outbox.batch_update(decision.batch.id))
    raise OweFailed(decision.outcome)


def state(sessions: sessionmaker[Session], batch_id: int) -> dict[str, object]:
    """What a decision changes: the batch, its rows, their audit trail, what Slack is owed."""
    with sessions() as session:
        batch = session.get_one(RequestBatch, batch_id)
        rows = list(
            session.scalars(select(SubaccountRequest).where(SubaccountRequest.batch_id == batch_id))
        )
        kinds = session.scalars(
            select(RequestEvent.kind)
            .join(SubaccountRequest, RequestEvent.request_id == SubaccountRequest.id)
            .where(SubaccountRequest.batch_id == batch_id)
        ).all()
        owed = session.scalar(select(func.count()).select_from(SlackOutbox))
    return {
        "batch": (batch.status, batch.approver_id, batch.decided_at),
        "rows": {(row.status, row.approver_id, row.password_ciphertext is None) for row in rows},
        "event_kinds": sorted(set(kinds)),
        "owed": owed,
    }


PENDING_ROWS = {("pending_approval", None, False)}


# -- all or nothing -------------------------------------------------------------------------------


def test_an_approval_whose_notices_fail_leaves_the_batch_undecided(sessions):
    batch_id = pending_batch(sessions)

    with pytest.raises(OweFailed):
        decisions.approve(
            sessions,
            Subject.many(batch_id),
            approver_id=APPROVER,
            required_approvals=1,
            ttl=TTL,
            owe=failing_owe,
        )

    after = state(sessions, batch_id)
    assert after["batch"] == ("pending_approval", None, None)
    assert after["rows"] == PENDING_ROWS
    # The approval itself commits on its own first (so that of two concurrent approvers the
    # later sees both); the decision it would have made, "approved", is not recorded.
    assert after["event_kinds"] == ["approval", "submitted"]
    assert after["owed"] == 0


def test_a_rejection_whose_notices_fail_leaves_the_batch_undecided(sessions):
    batch_id = pending_batch(sessions)
    before = state(sessions, batch_id)

    with pytest.raises(OweFailed):
        decisions.reject(
            sessions, Subject.many(batch_id), rejecter_id=APPROVER, ttl=TTL, owe=failing_owe
        )

    assert state(sessions, batch_id) == before
    assert before["batch"] == ("pending_approval", None, None)
    assert before["rows"] == PENDING_ROWS
    assert before["event_kinds"] == ["submitted"]
    assert before["owed"] == 0


def test_an_expiry_whose_notices_fail_leaves_the_batch_pending(sessions):
    batch_id = pending_batch(sessions)
    backdate(sessions, batch_id, by=TTL + timedelta(hours=1))
    before = state(sessions, batch_id)

    with pytest.raises(OweFailed):
        decisions.expire(sessions, Subject.many(batch_id), ttl=TTL, actor_id=None, owe=failing_owe)

    assert state(sessions, batch_id) == before
    assert before["rows"] == PENDING_ROWS
    assert before["event_kinds"] == ["submitted"]


@pytest.mark.parametrize("choice", ["approve", "reject"])
def test_a_late_decision_whose_expiry_notices_fail_leaves_the_batch_pending(sessions, choice):
    batch_id = pending_batch(sessions)
    backdate(sessions, batch_id, by=TTL + timedelta(hours=1))
    before = state(sessions, batch_id)

    with pytest.raises(OweFailed, match="expired"):
        decide(sessions, batch_id, choice, owe=failing_owe)

    assert state(sessions, batch_id) == before
    assert before["event_kinds"] == ["submitted"]


# -- the hook sees the decision, inside its transaction -------------------------------------------


class Recorder:
    """An `owe` hook noting each decision with the batch's status as its transaction sees it,
    and as any other transaction sees it at that moment (the one committed before)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self.calls: list[tuple[DecisionOutcome, str, str, list[str]]] = []

    def __call__(self, session: Session, decision: Decision) -> None:
        batch_id = decision.batch.id
        inside = session.scalar(select(RequestBatch.status).where(RequestBatch.id == batch_id))
        with self._sessions() as other:
            outside = other.scalar(select(RequestBatch.status).where(RequestBatch.id == batch_id))
        assert decision.batch.status == inside
        self.calls.append((decision.outcome, str(inside), str(outside), decision.approvers))


def decide(
    sessions: sessionmaker[Session],
    batch_id: int,
    choice: str,
    *,
    owe: decisions.OweNotices,
    user_id: str = APPROVER,
    required_approvals: int = 1,
) -> Decision:
    if choice == "reject":
        return decisions.reject(
            sessions, Subject.many(batch_id), rejecter_id=user_id, ttl=TTL, owe=owe
        )
    return decisions.approve(
        sessions,
        Subject.many(batch_id),
        approver_id=user_id,
        required_approvals=required_approvals,
        ttl=TTL,
        owe=owe,
    )


def test_an_approval_owes_its_notices_before_it_commits(sessions):
    batch_id = pending_batch(sessions)
    owed = Recorder(sessions)

    decision = decide(sessions, batch_id, "approve", owe=owed)

    assert decision.outcome == DecisionOutcome.APPROVED
    assert owed.calls == [
        (DecisionOutcome.APPROVED, "provisioning", "pending_approval", [APPROVER])
    ]


def test_an_approval_waiting_for_more_owes_its_notice(sessions):
    batch_id = pending_batch(sessions, required_approvals=2)
    owed = Recorder(sessions)

    decision = decide(sessions, batch_id, "approve", owe=owed, required_approvals=2)

    assert decision.outcome == DecisionOutcome.WAITING_FOR_MORE
    assert owed.calls == [
        (DecisionOutcome.WAITING_FOR_MORE, "pending_approval", "pending_approval", [APPROVER])
    ]


def test_a_rejection_owes_its_notices_before_it_commits(sessions):
    batch_id = pending_batch(sessions)
    owed = Recorder(sessions)

    decision = decide(sessions, batch_id, "reject", owe=owed)

    assert decision.outcome == DecisionOutcome.REJECTED
    assert owed.calls == [(DecisionOutcome.REJECTED, "rejected", "pending_approval", [])]


def test_an_expiry_owes_its_notices_before_it_commits(sessions):
    batch_id = pending_batch(sessions)
    backdate(sessions, batch_id, by=TTL + timedelta(hours=1))
    owed = Recorder(sessions)

    assert decisions.expire(sessions, Subject.many(batch_id), ttl=TTL, actor_id=None, owe=owed)

    assert owed.calls == [(DecisionOutcome.EXPIRED, "expired", "pending_approval", [])]


def test_a_decision_after_the_ttl_owes_the_expiry_instead(sessions):
    batch_id = pending_batch(sessions)
    backdate(sessions, batch_id, by=TTL + timedelta(hours=1))
    owed = Recorder(sessions)

    decision = decide(sessions, batch_id, "approve", owe=owed)

    assert decision.outcome == DecisionOutcome.EXPIRED
    assert owed.calls == [(DecisionOutcome.EXPIRED, "expired", "pending_approval", [])]


# -- nothing changed, nothing owed ----------------------------------------------------------------


def test_a_decision_on_a_decided_batch_owes_nothing(sessions):
    batch_id = pending_batch(sessions)
    decide(sessions, batch_id, "reject", owe=Recorder(sessions))
    owed = Recorder(sessions)

    outcomes = [decide(sessions, batch_id, c, owe=owed).outcome for c in ("approve", "reject")]

    assert outcomes == [DecisionOutcome.ALREADY_DECIDED, DecisionOutcome.ALREADY_DECIDED]
    assert owed.calls == []


def test_a_second_approval_by_the_same_person_owes_nothing(sessions):
    batch_id = pending_batch(sessions, required_approvals=2)
    decide(sessions, batch_id, "approve", owe=Recorder(sessions), required_approvals=2)
    owed = Recorder(sessions)

    decision = decide(sessions, batch_id, "approve", owe=owed, required_approvals=2)

    assert decision.outcome == DecisionOutcome.ALREADY_APPROVED_BY_YOU
    assert owed.calls == []


def test_only_the_first_expiry_owes_its_notices(sessions):
    batch_id = pending_batch(sessions)
    backdate(sessions, batch_id, by=TTL + timedelta(hours=1))
    owed = Recorder(sessions)

    won = [
        decisions.expire(sessions, Subject.many(batch_id), ttl=TTL, actor_id=None, owe=owed)
        for _ in range(2)
    ]

    assert won == [True, False]
    assert [call[0] for call in owed.calls] == [DecisionOutcome.EXPIRED]

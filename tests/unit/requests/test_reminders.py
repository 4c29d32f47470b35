"""Tests of bot.requests.reminders on SQLite and PostgreSQL:
each step once, at its time, never twice."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.config import normalize_database_url
from bot.db.migrate import upgrade_to_head
from bot.db.models import RequestEvent, RequestStatus, SubaccountRequest
from bot.db.session import make_engine, make_session_factory
from bot.requests.reminders import PendingSchedule, PendingSweeper, Step, SweepStep, sweep

NOW = datetime.now(UTC)
SCHEDULE = PendingSchedule(
    approval_ttl=timedelta(hours=24),
    remind_after=timedelta(hours=4),
    escalate_after=timedelta(hours=8),
)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(normalize_database_url(database_url))
    upgrade_to_head(engine)
    yield make_session_factory(engine)
    engine.dispose()


def pending(sessions, *, hours_old, status=RequestStatus.PENDING_APPROVAL):
    with sessions.begin() as session:
        row = SubaccountRequest(
            status=status,
            requester_id="UREQ",
            email="jill@example.com",
            password_ciphertext=b"gAAAA-token",
            created_at=NOW - timedelta(hours=hours_old),
        )
        session.add(row)
        session.flush()
        return row.id


def steps_at(sessions, now, schedule=SCHEDULE):
    return [(taken.step, taken.request_id) for taken in sweep(sessions, schedule=schedule, now=now)]


def events(sessions, request_id):
    with sessions() as session:
        return list(
            session.scalars(
                select(RequestEvent)
                .where(RequestEvent.request_id == request_id)
                .order_by(RequestEvent.id)
            )
        )


def test_nothing_is_due_for_a_young_request(sessions):
    pending(sessions, hours_old=3.9)

    assert steps_at(sessions, NOW) == []


def test_a_request_past_remind_after_is_reminded_once(sessions):
    request_id = pending(sessions, hours_old=4.1)

    first = steps_at(sessions, NOW)
    again = steps_at(sessions, NOW + timedelta(hours=1))

    assert first == [(Step.REMINDED, request_id)]
    assert again == []
    (event,) = events(sessions, request_id)
    assert (event.kind, event.actor_id, event.detail) == ("reminded", None, {"after": "4h"})
    with sessions() as session:
        assert session.get_one(SubaccountRequest, request_id).reminded_at == NOW


def test_escalation_comes_once_after_its_delay_and_the_reminder_too(sessions):
    request_id = pending(sessions, hours_old=8.5)

    first = steps_at(sessions, NOW)
    again = steps_at(sessions, NOW)

    assert first == [(Step.ESCALATED, request_id), (Step.REMINDED, request_id)]
    assert again == []
    assert [e.kind for e in events(sessions, request_id)] == ["escalated", "reminded"]


def test_steps_turned_off_never_happen(sessions):
    pending(sessions, hours_old=20)

    taken = steps_at(sessions, NOW, PendingSchedule(approval_ttl=timedelta(hours=24)))

    assert taken == []


def test_a_request_past_the_ttl_expires_and_its_password_is_erased(sessions):
    request_id = pending(sessions, hours_old=24.1)

    taken = steps_at(sessions, NOW)

    assert taken == [(Step.EXPIRED, request_id)]
    with sessions() as session:
        row = session.get_one(SubaccountRequest, request_id)
    assert (row.status, row.password_ciphertext) == ("expired", None)
    assert [(e.kind, e.actor_id, e.detail) for e in events(sessions, request_id)] == [
        ("expired", None, {"after": "1d"})
    ]


def test_decided_requests_are_left_alone(sessions):
    for status in (RequestStatus.PROVISIONING, RequestStatus.REJECTED, RequestStatus.CREATED):
        pending(sessions, hours_old=30, status=status)

    assert steps_at(sessions, NOW) == []


def test_a_request_decided_after_it_was_reminded_does_not_expire(sessions):
    request_id = pending(sessions, hours_old=5)
    steps_at(sessions, NOW)
    with sessions.begin() as session:
        session.execute(
            update(SubaccountRequest)
            .where(SubaccountRequest.id == request_id)
            .values(status=RequestStatus.REJECTED)
        )

    assert steps_at(sessions, NOW + timedelta(days=2)) == []


def test_instances_sweeping_at_once_take_each_step_once(database_url, sessions):
    ids = [pending(sessions, hours_old=hours) for hours in (4.5, 9, 25, 5, 30)]
    instances = 4
    barrier = threading.Barrier(instances)
    taken: list[tuple[Step, int]] = []
    lock = threading.Lock()

    def instance():
        engine = make_engine(normalize_database_url(database_url))
        try:
            own = make_session_factory(engine)
            barrier.wait()
            mine = steps_at(own, NOW)
            with lock:
                taken.extend(mine)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=instance) for _ in range(instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(taken) == sorted(
        [
            (Step.REMINDED, ids[0]),
            (Step.ESCALATED, ids[1]),
            (Step.REMINDED, ids[1]),
            (Step.EXPIRED, ids[2]),
            (Step.REMINDED, ids[3]),
            (Step.EXPIRED, ids[4]),
        ]
    )
    kinds = [e.kind for request_id in ids for e in events(sessions, request_id)]
    assert sorted(kinds) == sorted(["reminded"] * 3 + ["escalated"] + ["expired"] * 2)


class MovableClock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_sweeper_sweeps_at_once_then_once_per_interval_of_its_clock(sessions):
    clock = MovableClock(NOW)
    seen: list[SweepStep] = []
    sweeper = PendingSweeper(
        sessions=sessions,
        schedule=SCHEDULE,
        owe=lambda _session, taken: seen.append(taken),
        clock=clock,
        interval=timedelta(minutes=1),
    )
    request_id = pending(sessions, hours_old=3.99)

    sweeper.run_if_due()
    clock.now = NOW + timedelta(minutes=30)
    sweeper.run_if_due()
    sweeper.run_if_due()  # within the interval: skipped

    assert sweeper.sweeps == 2
    assert seen == [SweepStep(Step.REMINDED, request_id)]
    assert sweeper.wait_for_sweep(1, timeout_seconds=0)
    assert not sweeper.wait_for_sweep(2, timeout_seconds=0)

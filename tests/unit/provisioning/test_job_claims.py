"""The provisioning worker's claim: due jobs taken in one statement, each by one worker."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import normalize_database_url
from bot.db.migrate import upgrade_to_head
from bot.db.models import RequestStatus, SubaccountRequest
from bot.db.session import make_engine, make_session_factory
from bot.provisioning.worker import ProvisioningWorker


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(normalize_database_url(database_url))
    upgrade_to_head(engine)
    yield make_session_factory(engine)
    engine.dispose()


def jobs(sessions, count, **values):
    rows = [
        SubaccountRequest(status=RequestStatus.PROVISIONING, requester_id="UREQ", **values)
        for _ in range(count)
    ]
    with sessions.begin() as session:
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def worker(sessions, name, max_parallel=4):
    """Never started: the test calls claim_due() itself."""
    return ProvisioningWorker(
        sessions=sessions, run_job=lambda _id: None, instance_id=name, max_parallel=max_parallel
    )


def holders(sessions):
    with sessions() as session:
        rows = session.execute(select(SubaccountRequest.id, SubaccountRequest.claimed_by))
        return {row.id: row.claimed_by for row in rows}


def test_due_jobs_are_claimed_lowest_first_up_to_the_free_slots(sessions):
    ids = jobs(sessions, 3)
    first, second = worker(sessions, "first", max_parallel=2), worker(sessions, "second")

    assert first.claim_due() == ids[:2]
    assert first.claim_due() == []  # no free slot left
    assert second.claim_due() == ids[2:]
    assert holders(sessions) == {ids[0]: "first", ids[1]: "first", ids[2]: "second"}
    assert not first.idle()


def test_a_job_held_by_a_live_lease_is_not_claimed(sessions):
    jobs(
        sessions, 1, claimed_by="other", claim_expires_at=datetime.now(UTC) + timedelta(seconds=60)
    )

    assert worker(sessions, "me").claim_due() == []


def test_a_job_whose_lease_lapsed_is_claimed_again(sessions):
    (request_id,) = jobs(
        sessions, 1, claimed_by="dead", claim_expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )

    assert worker(sessions, "me").claim_due() == [request_id]
    assert holders(sessions) == {request_id: "me"}


def test_a_job_not_in_provisioning_is_not_claimed(sessions):
    with sessions.begin() as session:
        session.add(SubaccountRequest(status=RequestStatus.CREATED, requester_id="UREQ"))

    assert worker(sessions, "me").claim_due() == []

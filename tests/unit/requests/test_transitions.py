"""The transition table of bot/requests/transitions.py: the moves it allows, the ones it refuses,
and that every status a request can end in is reachable from the statuses rows are born in."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.db.models import Base, BatchStatus, RequestStatus, SubaccountRequest
from bot.errors import BotError
from bot.requests import transitions
from bot.requests.transitions import (
    INITIAL_ACCOUNT_STATUSES,
    INITIAL_BATCH_STATUSES,
    Cause,
    IllegalTransition,
    move_accounts,
    move_batch,
)


def reachable(table: dict[tuple[str, str], frozenset[Cause]], start: frozenset[str]) -> set[str]:
    seen = set(start)
    frontier = list(start)
    while frontier:
        here = frontier.pop()
        for frm, to in table:
            if frm == here and to not in seen:
                seen.add(to)
                frontier.append(to)
    return seen


def test_every_status_is_reachable_from_a_status_rows_are_inserted_with():
    table = transitions.transitions()
    assert reachable(dict(table["account"]), INITIAL_ACCOUNT_STATUSES) == set(RequestStatus)
    assert reachable(dict(table["batch"]), INITIAL_BATCH_STATUSES) == set(BatchStatus)


def test_nothing_leaves_a_final_status():
    finals = {RequestStatus.CREATED, RequestStatus.FAILED, RequestStatus.UNKNOWN}
    finals |= {RequestStatus.REJECTED, RequestStatus.EXPIRED, RequestStatus.DENIED}
    assert not [move for move in transitions.transitions()["account"] if move[0] in finals]


def test_only_a_decider_approves_or_rejects_and_only_the_job_records_zoom():
    table = transitions.transitions()["account"]
    pending = RequestStatus.PENDING_APPROVAL
    assert table[(pending, RequestStatus.PROVISIONING)] == {Cause.DECIDER}
    assert table[(pending, RequestStatus.REJECTED)] == {Cause.DECIDER}
    for outcome in (RequestStatus.CREATED, RequestStatus.FAILED, RequestStatus.UNKNOWN):
        assert table[(RequestStatus.PROVISIONING, outcome)] == {Cause.ZOOM_JOB}


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as opened:
        yield opened
    engine.dispose()


def pending_row(session: Session) -> int:
    row = SubaccountRequest(status=RequestStatus.PENDING_APPROVAL, requester_id="UREQ")
    session.add(row)
    session.flush()
    return row.id


@pytest.mark.parametrize(
    ("frm", "to", "cause"),
    [
        (RequestStatus.PENDING_APPROVAL, RequestStatus.CREATED, Cause.DECIDER),
        (RequestStatus.PENDING_APPROVAL, RequestStatus.PROVISIONING, Cause.EXPIRY),
        (RequestStatus.REJECTED, RequestStatus.PROVISIONING, Cause.DECIDER),
        (RequestStatus.DENIED, RequestStatus.PENDING_APPROVAL, Cause.REQUESTER),
    ],
)
def test_a_move_the_table_does_not_allow_is_refused_before_any_sql(session, frm, to, cause):
    request_id = pending_row(session)

    with pytest.raises(IllegalTransition):
        move_accounts(session, SubaccountRequest.id == request_id, frm=frm, to=to, cause=cause)

    assert session.get_one(SubaccountRequest, request_id).status == RequestStatus.PENDING_APPROVAL
    assert issubclass(IllegalTransition, BotError)


def test_a_batch_move_the_table_does_not_allow_is_refused(session):
    with pytest.raises(IllegalTransition):
        move_batch(
            session,
            1,
            frm=BatchStatus.FINISHED,
            to=BatchStatus.PROVISIONING,
            cause=Cause.ZOOM_JOB,
        )


def test_a_move_is_conditional_on_the_status_it_leaves(session):
    request_id = pending_row(session)
    where = SubaccountRequest.id == request_id
    pending, provisioning = RequestStatus.PENDING_APPROVAL, RequestStatus.PROVISIONING

    first = move_accounts(session, where, frm=pending, to=provisioning, cause=Cause.DECIDER)
    second = move_accounts(
        session, where, frm=pending, to=RequestStatus.REJECTED, cause=Cause.DECIDER
    )

    assert (first, second) == (1, 0)
    session.expire_all()
    assert session.get_one(SubaccountRequest, request_id).status == provisioning

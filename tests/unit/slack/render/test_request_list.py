"""Tests of the `list` answer: ages, links, escaping, and the newest-ten query on both databases."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.audit.history import recent_requests
from bot.config import normalize_database_url
from bot.db.migrate import upgrade_to_head
from bot.db.models import SubaccountRequest
from bot.db.session import make_engine, make_session_factory
from bot.slack.render.request_list import age, message_link, request_list_text

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(normalize_database_url(database_url))
    upgrade_to_head(engine)
    yield make_session_factory(engine)
    engine.dispose()


def row(**values):
    fields = {
        "id": 7,
        "status": "pending_approval",
        "requester_id": "UREQ",
        "first_name": "Jill",
        "last_name": "Chill",
        "email": "jill@example.com",
        "created_at": NOW - timedelta(hours=3),
    }
    fields.update(values)
    return SubaccountRequest(**fields)


@pytest.mark.parametrize(
    ("elapsed", "said"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3, minutes=59), "3 h ago"),
        (timedelta(days=2, hours=1), "2 d ago"),
        (timedelta(seconds=-30), "just now"),  # a clock a little behind the database's
    ],
)
def test_age_is_said_in_the_largest_whole_unit(elapsed, said):
    assert age(NOW - elapsed, NOW) == said


def test_link_needs_a_posted_message_and_the_workspace_domain():
    posted = row(approval_channel_id="CAPP", approval_ts="1700000000.000100")

    assert message_link(posted, "acme") == "https://acme.slack.com/archives/CAPP/p1700000000000100"
    assert message_link(posted, "") is None
    assert message_link(row(), "acme") is None


def test_typed_names_cannot_smuggle_a_mention_or_link():
    text = request_list_text(
        [row(first_name="<!channel>", last_name="<http://x|y>")],
        now=NOW,
        team_domain="acme",
        command="/zoom-subaccount",
    )

    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text


def test_failed_and_unknown_outcomes_name_the_zoom_code():
    failed = request_list_text(
        [row(status="failed", zoom_error_code=1005), row(id=8, status="unknown")],
        now=NOW,
        team_domain="",
        command="/z",
    )

    assert "failed — Jill Chill <jill@example.com> — asked " in failed
    assert "Zoom code 1005" in failed
    assert "check Zoom; no answer" in failed


def test_recent_requests_are_the_newest_ten_of_that_requester(sessions):
    with sessions.begin() as session:
        for number in range(12):
            session.add(SubaccountRequest(status="denied", requester_id="UREQ", reason=str(number)))
        session.add(SubaccountRequest(status="denied", requester_id="UOTHER"))

    with sessions() as session:
        rows = recent_requests(session, requester_id="UREQ")

    assert [r.reason for r in rows] == [str(n) for n in range(11, 1, -1)]

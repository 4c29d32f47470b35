"""The Home view's limits and the workspace domain its links are built on."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.db.models import SubaccountRequest
from bot.flows.home import MINE_SHOWN, WAITING_SHOWN, team_domain_from_url
from bot.slack.render.home_view import HomeContent, Waiting, home_view

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _request(request_id, status="pending_approval"):
    return SubaccountRequest(
        id=request_id,
        status=status,
        requester_id="UREQ1",
        first_name="N" * 64,
        last_name="M" * 64,
        email=("e" * 100) + "@example.com",
        reason="<why> & " * 400,
        created_at=NOW - timedelta(hours=request_id),
        approval_channel_id="CAPPROVE1",
        approval_ts=f"1700000000.{request_id:06d}",
    )


def _view(**content):
    defaults = {"mine": [], "mine_total": 0, "waiting": [], "waiting_total": 0, "decides": True}
    return home_view(
        HomeContent(**{**defaults, **content}),
        now=NOW,
        team_domain="acme",
        command="/zoom-subaccount",
        required_approvals=2,
        viewer_id="UAPP1",
        notice="x" * 5000,
    ).to_dict()


def test_the_fullest_home_passes_slacks_checks_under_100_blocks():
    waiting = [Waiting(_request(number), ["UAPP2"]) for number in range(1, WAITING_SHOWN + 1)]
    mine = [_request(number, "created") for number in range(100, 100 + MINE_SHOWN)]

    view = _view(mine=mine, mine_total=500, waiting=waiting, waiting_total=900)

    assert len(view["blocks"]) < 100
    text = str(view["blocks"])
    assert "…and 880 more waiting" in text
    assert "…and 490 older" in text


def test_user_text_is_escaped_on_the_home():
    view = _view(waiting=[Waiting(_request(1))], waiting_total=1)

    section = next(block for block in view["blocks"] if block.get("block_id") == "home_request_1")
    assert "&lt;why&gt; &amp;" in section["text"]["text"]
    assert "<why>" not in section["text"]["text"]


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://acme.slack.com/", "acme"),
        ("https://acme.enterprise.slack.com/", "acme.enterprise"),
        ("https://example.org/", ""),
        ("", ""),
    ],
)
def test_the_team_domain_comes_from_auth_tests_url(url, domain):
    assert team_domain_from_url(url) == domain


def test_without_content_the_home_shows_only_the_notice():
    view = home_view(
        None,
        now=NOW,
        team_domain="acme",
        command="/zoom-subaccount",
        required_approvals=1,
        viewer_id="UAPP1",
        notice="The database is unavailable.",
    ).to_dict()

    assert [block["type"] for block in view["blocks"]] == ["header", "section", "context"]
    assert view["blocks"][1]["text"]["text"] == "The database is unavailable."

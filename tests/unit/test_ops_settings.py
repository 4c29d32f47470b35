"""Tests of the operations settings: durations (REMIND_AFTER, ESCALATE_AFTER, APPROVAL_TTL and
its older name APPROVAL_TTL_HOURS), ESCALATION_APPROVERS and OPS_CHANNEL."""

from datetime import timedelta

import pytest

from bot.config import load_settings
from bot.durations import describe, parse_duration
from bot.errors import ConfigurationError

REQUIRED = {
    "slack_bot_token": "xoxb-1-test",
    "slack_signing_secret": "signing-secret-for-tests",
    "zoom_account_id": "zoom-account",
    "zoom_client_id": "zoom-client",
    "zoom_client_secret": "zoom-client-secret",
    "requester_allowlist": "U0REQ",
    "approver_allowlist": "U0APP",
}


@pytest.fixture(autouse=True)
def no_dotenv(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("APPROVAL_TTL", "APPROVAL_TTL_HOURS", "REMIND_AFTER", "ESCALATE_AFTER"):
        monkeypatch.delenv(name, raising=False)
    for name in ("ESCALATION_APPROVERS", "OPS_CHANNEL"):
        monkeypatch.delenv(name, raising=False)


def settings(**values):
    return load_settings({**REQUIRED, **values})


def problems(**values):
    with pytest.raises(ConfigurationError) as raised:
        settings(**values)
    return raised.value.problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(minutes=90)),
        (" 2H ", timedelta(hours=2)),
        ("1.5h", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_durations_are_read_with_their_unit(text, expected):
    assert parse_duration(text, allow_off=True) == expected


@pytest.mark.parametrize("text", ["4", "4 hours", "h", "-1h", "", "1w"])
def test_a_duration_without_a_known_unit_is_refused(text):
    with pytest.raises(ValueError, match="must be a duration such as 30m, 4h, 1d"):
        parse_duration(text, allow_off=True)


def test_off_is_only_accepted_where_a_step_can_be_turned_off():
    assert parse_duration("off", allow_off=True) is None
    with pytest.raises(ValueError, match="must be a duration"):
        parse_duration("off", allow_off=False)


def test_durations_are_described_the_way_they_are_written():
    assert [describe(d) for d in (timedelta(minutes=90), timedelta(days=1), None)] == [
        "1h30m",
        "1d",
        "off",
    ]


def test_defaults_remind_after_4h_expire_after_24h_and_never_escalate():
    loaded = settings()

    assert (loaded.remind_after, loaded.approval_ttl, loaded.escalate_after) == (
        timedelta(hours=4),
        timedelta(hours=24),
        None,
    )
    assert (loaded.escalation_approvers, loaded.ops_channel) == ([], None)


def test_settings_are_read_from_the_environment(monkeypatch):
    for name, value in {
        "REMIND_AFTER": "off",
        "ESCALATE_AFTER": "8h",
        "ESCALATION_APPROVERS": "U0BOSS, S0LEADS,boss@example.com",
        "APPROVAL_TTL": "2d",
        "OPS_CHANNEL": "C0OPS",
    }.items():
        monkeypatch.setenv(name, value)

    loaded = load_settings(REQUIRED)

    assert loaded.remind_after is None
    assert loaded.escalate_after == timedelta(hours=8)
    assert loaded.escalation_approvers == ["U0BOSS", "S0LEADS", "boss@example.com"]
    assert loaded.approval_ttl == timedelta(days=2)
    assert loaded.ops_channel == "C0OPS"


def test_approval_ttl_hours_still_works():
    assert settings(approval_ttl_hours="6").approval_ttl == timedelta(hours=6)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"approval_ttl": "off"}, "APPROVAL_TTL: must be a duration such as 30m, 4h, 1d"),
        ({"remind_after": "0h"}, "REMIND_AFTER: must be longer than zero (use off to disable)"),
        ({"remind_after": "soon"}, "REMIND_AFTER: must be a duration such as 30m, 4h, 1d"),
        ({"escalate_after": "2h"}, "ESCALATE_AFTER: needs ESCALATION_APPROVERS"),
        ({"escalation_approvers": "boss"}, "ESCALATION_APPROVERS: not a Slack user ID"),
        ({"ops_channel": "#ops"}, "OPS_CHANNEL: must be a Slack channel ID such as C0123ABCD"),
        (
            {"approval_ttl": "2h", "approval_ttl_hours": "3"},
            "APPROVAL_TTL: set APPROVAL_TTL or its older name APPROVAL_TTL_HOURS, not both",
        ),
    ],
)
def test_a_bad_operations_setting_is_one_line_naming_it(values, problem):
    (line,) = problems(**values)

    assert line.startswith(problem)

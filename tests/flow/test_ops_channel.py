"""OPS_CHANNEL: failed and unknown provisioning outcomes are posted there too."""

import pytest

from tests.flow.support import approve, post_texts
from tests.harness import APPROVER, REQUESTER, running_bot

OPS = "COPS1"


@pytest.fixture
def ops_bot(database_url, tmp_path):
    with running_bot(database_url, tmp_path, ops_channel=OPS) as bot:
        yield bot


def test_a_failed_creation_is_posted_to_the_ops_channel(ops_bot):
    approve(ops_bot, ops_bot.submit_ok(email="twice@example.com"))
    second = ops_bot.submit_ok(email="twice@example.com")

    final = approve(ops_bot, second)

    (alert,) = post_texts(ops_bot, OPS)
    assert final.status == "failed"
    assert alert.startswith(f":warning: *Provisioning failed.* Request #{second.id} for ")
    assert f"asked by <@{REQUESTER}>, approved by <@{APPROVER}>" in alert
    assert "Zoom code 1005" in alert
    assert ops_bot.event_kinds(second.id)[-2:] == ["notified", "ops_alerted"]
    assert ops_bot.events(second.id)[-1].detail == {"channel": OPS}  # owed with the outcome


def test_an_unknown_outcome_is_posted_to_the_ops_channel(ops_bot):
    ops_bot.zoom.queue_response(500, {"code": 500, "message": "Internal server error."})

    final = approve(ops_bot, ops_bot.submit_ok())

    (alert,) = post_texts(ops_bot, OPS)
    assert final.status == "unknown"
    assert alert.startswith(":rotating_light: *Outcome unknown — check Zoom")
    assert f"Request #{final.id}" in alert


def test_a_created_account_is_not_posted_to_the_ops_channel(ops_bot):
    final = approve(ops_bot, ops_bot.submit_ok())

    assert final.status == "created"
    assert post_texts(ops_bot, OPS) == []
    assert "ops_alerted" not in ops_bot.event_kinds(final.id)


def test_without_an_ops_channel_a_failure_alerts_nobody_else(bot):
    bot.zoom.queue_response(500, {"code": 500, "message": "Internal server error."})

    final = approve(bot, bot.submit_ok())

    assert final.status == "unknown"
    assert "ops_alerted" not in bot.event_kinds(final.id)
    assert post_texts(bot, OPS) == []

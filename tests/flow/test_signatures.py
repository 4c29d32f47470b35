"""Requests that Slack did not sign, or signed long ago, get 401 and change nothing at all."""

import time

import httpx
import pytest

from bot.slack.ids import PREVIEW_CALLBACK
from sandbox.slack_signing import sign, slash_command_body, view_submission_body
from tests.flow.support import calls_after_startup
from tests.harness import (
    ORIGIN_CHANNEL,
    OUTSIDER,
    REQUESTER,
    SIGNING_SECRET,
    modal_values,
    preview_metadata,
)

FIVE_MINUTES_SECONDS = 5 * 60


def submission(user_id=REQUESTER):
    return view_submission_body(user_id=user_id, values=modal_values())


def slash_command(user_id=REQUESTER):
    return slash_command_body(user_id=user_id, channel_id=ORIGIN_CHANNEL)


def assert_no_effect(bot, response):
    bot.wait()
    assert response.status_code == 401
    assert bot.requests() == []
    assert bot.events(None) == []
    assert calls_after_startup(bot) == []
    assert bot.slack.response_posts == []


@pytest.mark.parametrize("build", [submission, slash_command], ids=["submission", "command"])
def test_wrong_signature_is_refused(bot, build):
    body, content_type = build()
    forged = sign(body, secret="not-the-signing-secret")["X-Slack-Signature"]

    response = bot.sender.post(body, content_type, headers_override={"X-Slack-Signature": forged})

    assert_no_effect(bot, response)


@pytest.mark.parametrize(
    "missing",
    [
        ["X-Slack-Signature"],
        ["X-Slack-Request-Timestamp"],
        ["X-Slack-Signature", "X-Slack-Request-Timestamp"],
    ],
    ids=["signature", "timestamp", "both"],
)
def test_missing_signature_headers_are_refused(bot, missing):
    body, content_type = submission()

    response = bot.sender.post(body, content_type, headers_override=dict.fromkeys(missing, None))

    assert_no_effect(bot, response)


@pytest.mark.parametrize("build", [submission, slash_command], ids=["submission", "command"])
def test_request_signed_more_than_five_minutes_ago_is_refused(bot, build):
    body, content_type = build()
    long_ago = int(time.time()) - FIVE_MINUTES_SECONDS - 30

    response = bot.sender.post(body, content_type, timestamp=long_ago)

    assert_no_effect(bot, response)


def test_request_signed_a_minute_ago_is_accepted(bot):
    body, content_type = submission()
    a_minute_ago = int(time.time()) - 60

    preview = bot.sender.post(body, content_type, timestamp=a_minute_ago)
    sealed = preview_metadata(preview)
    assert sealed, preview.text
    response = bot.sender.submit_view(
        user_id=REQUESTER,
        values={},
        callback_id=PREVIEW_CALLBACK,
        private_metadata=sealed,
        timestamp=a_minute_ago,
    )
    bot.wait()

    assert response.status_code == 200
    assert len(bot.requests()) == 1


def test_body_altered_after_signing_is_refused(bot):
    signed_body, content_type = slash_command(REQUESTER)
    altered_body, _ = slash_command(OUTSIDER)
    headers = sign(signed_body, secret=SIGNING_SECRET, content_type=content_type)

    response = httpx.post(bot.url, content=altered_body, headers=headers, timeout=10)

    assert_no_effect(bot, response)


def test_submission_with_a_tampered_field_is_refused(bot):
    body, content_type = submission()
    headers = sign(body, secret=SIGNING_SECRET, content_type=content_type)
    tampered = body.replace(b"jill%40example.com", b"mallory%40example.com")
    assert tampered != body

    response = httpx.post(bot.url, content=tampered, headers=headers, timeout=10)

    assert_no_effect(bot, response)


def test_signature_made_with_the_right_secret_is_accepted(bot):
    body, content_type = slash_command()

    response = bot.sender.post(body, content_type)
    bot.wait()

    assert response.status_code == 200
    assert len(bot.slack.calls_to("views.open")) == 1

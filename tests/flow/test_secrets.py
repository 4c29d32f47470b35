"""Secrets stay secret: the sub-account password, the Slack bot token and signing secret and the
Zoom client secret appear in no log record, no Slack call, no database row, no Zoom body."""

import base64
import logging

import pytest
from cryptography.fernet import Fernet

from tests.flow.support import approve
from tests.harness import BOT_TOKEN, ENCRYPTION_KEY, SIGNING_SECRET, ZOOM_CLIENT_SECRET

PASSWORD = "Tq7wNe4rUx9z"
SECRETS = {
    "password": PASSWORD,
    "bot token": BOT_TOKEN,
    "signing secret": SIGNING_SECRET,
    "zoom client secret": ZOOM_CLIENT_SECRET,
}


@pytest.fixture
def debug_logs(caplog):
    """Every logger at DEBUG, from before the bot starts (request this before `bot`)."""
    caplog.set_level(logging.DEBUG)
    return caplog


def full_run(bot):
    """Command, form, approval, creation and a status query, with a password the user typed."""
    bot.slash()
    bot.wait()
    request = bot.submit_ok(password=PASSWORD)
    final = approve(bot, request)
    assert final.status == "created"
    bot.slash(text=f"status {request.id}")
    return final


def found_in(text):
    return sorted(name for name, secret in SECRETS.items() if secret in text)


def everything_logged(caplog):
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(record.exc_text or "")
        parts.append(repr(record.args))
    return "\n".join(parts)


def test_full_run_logs_no_secret(debug_logs, bot):
    full_run(bot)

    assert len(debug_logs.records) > 0
    assert found_in(everything_logged(debug_logs)) == []


def test_full_run_sends_no_secret_to_slack(bot):
    full_run(bot)

    assert found_in(bot.slack.raw_log()) == []


def test_full_run_stores_no_secret(bot):
    full_run(bot)

    assert found_in(bot.table_dump()) == []


def test_password_is_stored_only_encrypted_while_pending(bot):
    request = bot.submit_ok(password=PASSWORD)

    assert PASSWORD not in bot.table_dump()
    assert request.password_ciphertext is not None
    assert PASSWORD.encode() not in request.password_ciphertext
    assert Fernet(ENCRYPTION_KEY).decrypt(request.password_ciphertext).decode() == PASSWORD


def test_password_is_erased_once_zoom_created_the_account(bot):
    final = full_run(bot)

    assert final.password_ciphertext is None


def test_password_is_erased_once_zoom_refused(bot):
    bot.zoom.blocked_domains.add("example.com")
    request = bot.submit_ok(password=PASSWORD)

    final = approve(bot, request)

    assert final.status == "failed"
    assert final.password_ciphertext is None


def test_password_echoed_in_a_zoom_error_is_not_repeated(debug_logs, bot):
    bot.zoom.queue_response(400, {"code": 1111, "message": f"Password {PASSWORD} is too simple."})
    request = bot.submit_ok(password=PASSWORD)

    final = approve(bot, request)

    assert (final.status, final.zoom_error_code) == ("failed", 1111)
    assert "too simple" in final.zoom_error_message
    assert PASSWORD not in bot.table_dump()
    assert PASSWORD not in bot.slack.raw_log()
    assert PASSWORD not in everything_logged(debug_logs)


def test_password_is_sent_to_zoom_once_in_the_create_body(bot):
    full_run(bot)

    (post,) = bot.zoom.account_posts
    assert post.body["password"] == PASSWORD


def test_zoom_client_secret_never_reaches_the_accounts_endpoint(bot):
    full_run(bot)

    basic = base64.b64encode(f"zoom-client-id:{ZOOM_CLIENT_SECRET}".encode()).decode()
    account_requests = [
        entry for entry in bot.zoom.raw_log().split("\nPOST ") if "/v2/accounts" in entry
    ]
    assert len(account_requests) == 1
    for post in bot.zoom.account_posts:
        shown = repr(post.headers) + repr(post.body)
        assert ZOOM_CLIENT_SECRET not in shown
        assert basic not in shown
    assert ZOOM_CLIENT_SECRET not in "".join(account_requests)


def test_zoom_client_secret_is_only_sent_to_the_token_endpoint(bot):
    full_run(bot)

    (token_request,) = bot.zoom.token_requests
    assert token_request.credentials_ok
    assert ZOOM_CLIENT_SECRET not in repr(token_request.form)


def test_slack_secrets_never_reach_zoom(bot):
    full_run(bot)

    assert BOT_TOKEN not in bot.zoom.raw_log()
    assert SIGNING_SECRET not in bot.zoom.raw_log()

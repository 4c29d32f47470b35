"""Every documented Zoom answer, through the whole conversation: what is stored, what is said.

Each test approves a request and reads the audit row and the outcome posted to the channel the
command ran in (the same words go to the thread, the DM and the updated approval message).
"""

import time

from tests.flow.support import approve, post_texts, thread_replies
from tests.harness import ORIGIN_CHANNEL, REQUESTER, running_bot

RATE_LIMITED = {"code": 429, "message": "You have reached the maximum per-second rate limit."}
INVALID_TOKEN = {"code": 124, "message": "Invalid access token."}


def outcome_of(bot, **values):
    """Submit a request, approve it, and return the final row and the outcome text."""
    request = bot.submit_ok(**values)
    final = approve(bot, request)
    texts = post_texts(bot, ORIGIN_CHANNEL)
    assert texts, "no outcome was posted to the origin channel"
    return final, texts[-1]


def zoom_columns(row):
    return (row.status, row.zoom_http_status, row.zoom_error_code, row.zoom_error_message)


# -- success -----------------------------------------------------------------------------------


def test_201_stores_the_account_and_reports_its_details(bot):
    final, text = outcome_of(bot)

    account = bot.zoom.created_accounts["jill@example.com"]
    assert zoom_columns(final) == ("created", 201, None, None)
    assert (final.zoom_account_id, final.zoom_owner_id) == (account["id"], account["owner_id"])
    assert final.zoom_owner_email == "jill@example.com"
    assert final.zoom_created_at == account["created_at"]
    for detail in (account["id"], account["owner_id"], "jill@example.com", account["created_at"]):
        assert detail in text


def test_201_result_is_in_the_audit_log(bot):
    final, _text = outcome_of(bot)

    result = bot.events(final.id)[-2]
    assert result.kind == "zoom_result"
    assert result.detail["http_status"] == 201
    assert result.detail["account_id"] == final.zoom_account_id


# -- refusals whose outcome is known -----------------------------------------------------------


def test_400_300_invalid_word_fails_in_plain_words(bot):
    bot.zoom.invalid_words.add("Zoomy")

    final, text = outcome_of(bot, first_name="Zoomy")

    assert final.status == "failed"
    assert (final.zoom_http_status, final.zoom_error_code) == (400, 300)
    assert "invalid word: Zoomy" in final.zoom_error_message
    assert "a name contains a word Zoom does not allow" in text
    assert "The account was not created." in text
    assert "HTTP 400, Zoom code 300" in text


def test_400_300_validation_failure_lists_zoom_field_errors(bot):
    bot.zoom.queue_response(
        400,
        {
            "code": 300,
            "message": "Validation Failed.",
            "errors": [{"field": "account_name", "message": "Invalid field."}],
        },
    )

    final, text = outcome_of(bot)

    assert zoom_columns(final) == ("failed", 400, 300, "Validation Failed.")
    assert "account_name: Invalid field." in text


def test_400_1107_blocked_domain_fails_in_plain_words(bot):
    bot.zoom.blocked_domains.add("blocked.example")

    final, text = outcome_of(bot, email="jill@blocked.example")

    assert zoom_columns(final) == ("failed", 400, 1107, "Email domain is blocked.")
    assert "Zoom does not accept email addresses at this domain." in text
    assert "HTTP 400, Zoom code 1107: “Email domain is blocked.”" in text


def test_400_1111_password_rejected_fails_in_plain_words(bot):
    message = "Password should not contain repeated or consecutive characters."
    bot.zoom.queue_response(400, {"code": 1111, "message": message})

    final, text = outcome_of(bot)

    assert zoom_columns(final) == ("failed", 400, 1111, message)
    assert "Zoom rejected the password" in text
    assert "Zoom code 1111" in text


def test_409_1005_email_already_used_fails_in_plain_words(bot):
    first = bot.submit_ok(email="twice@example.com")
    approve(bot, first)
    second = bot.submit_ok(email="twice@example.com")

    final = approve(bot, second)

    assert zoom_columns(final) == (
        "failed",
        409,
        1005,
        'Email "twice@example.com" has already been used.',
    )
    text = post_texts(bot, ORIGIN_CHANNEL)[-1]
    assert text.startswith(f"Request #{second.id}: ")
    assert "That email address is already used by a Zoom account." in text
    assert "HTTP 409, Zoom code 1005" in text
    # A certain refusal reads as one, never as the unknown outcome's "did not confirm".
    assert "*Zoom did not create the account.*" in text
    assert "did not confirm" not in text
    assert len(bot.zoom.account_posts) == 2


def test_permission_error_code_200_fails_in_plain_words(bot):
    bot.zoom.queue_response(400, {"code": 200, "message": "No permission."})

    final, text = outcome_of(bot)

    assert zoom_columns(final) == ("failed", 400, 200, "No permission.")
    assert "Zoom says the bot has no permission" in text
    assert "not a master account" in text


def test_failure_is_shown_in_the_thread_and_to_the_requester(bot):
    bot.zoom.blocked_domains.add("example.com")

    final, text = outcome_of(bot)

    assert final.status == "failed"
    assert thread_replies(bot, final)[-1] == text.removeprefix(f"Request #{final.id}: ")
    dms = post_texts(bot, f"D{REQUESTER}")
    assert "does not accept email addresses at this domain" in dms[-1]


def test_failed_request_status_shows_what_zoom_said(bot):
    bot.zoom.blocked_domains.add("example.com")
    final, _text = outcome_of(bot)

    response = bot.slash(REQUESTER, text=f"status {final.id}")

    assert "failed" in response.text
    assert "HTTP 400, Zoom code 1107" in response.text


# -- credentials ---------------------------------------------------------------------------------


def test_401_124_once_refreshes_the_token_and_replays_once(bot):
    bot.zoom.queue_response(401, INVALID_TOKEN)

    final, text = outcome_of(bot)

    assert final.status == "created"
    assert len(bot.zoom.account_posts) == 2
    assert len(bot.zoom.token_requests) == 2
    assert "*Created*" in text


def test_expired_token_is_replaced_and_the_create_goes_through(bot):
    approve(bot, bot.submit_ok(email="first@example.com"))
    bot.zoom.expire_tokens()

    final = approve(bot, bot.submit_ok(email="second@example.com"))

    assert final.status == "created"
    assert len(bot.zoom.account_posts) == 3  # one for the first, two (401, then 201) for this
    assert len(bot.zoom.token_requests) == 2


def test_401_that_persists_fails_with_credentials_wording(bot):
    bot.zoom.queue_response(401, INVALID_TOKEN)
    bot.zoom.queue_response(401, INVALID_TOKEN)

    final, text = outcome_of(bot)

    assert zoom_columns(final) == ("failed", 401, 124, "Invalid access token.")
    assert len(bot.zoom.account_posts) == 2
    assert "credentials are invalid" in text
    assert "The account was not created." in text


def test_wrong_client_secret_fails_before_any_create(database_url, tmp_path):
    with running_bot(database_url, tmp_path, zoom_client_secret="not-the-secret") as bot:
        final, text = outcome_of(bot)

        assert final.status == "failed"
        assert final.zoom_http_status == 401
        assert bot.zoom.account_posts == []
        assert "credentials are invalid" in text


# -- rate limits ---------------------------------------------------------------------------------


def test_429_with_retry_after_waits_then_creates(bot):
    bot.zoom.queue_response(429, RATE_LIMITED, headers={"Retry-After": "1"})
    request = bot.submit_ok()

    started = time.monotonic()
    final = approve(bot, request)
    elapsed_seconds = time.monotonic() - started

    assert final.status == "created"
    assert len(bot.zoom.account_posts) == 2
    assert elapsed_seconds >= 1.0


def test_429_that_outlasts_the_client_retries_requeues_the_job_then_creates_once(bot):
    for _ in range(4):  # the client's first try and its three retries
        bot.zoom.queue_response(429, RATE_LIMITED, headers={"Retry-After": "0"})
    request = bot.submit_ok()

    waiting = approve(bot, request)

    assert waiting.status == "provisioning"
    assert "requeued" in bot.event_kinds(request.id)
    assert waiting.password_ciphertext is not None  # still needed for the next try
    assert post_texts(bot, ORIGIN_CHANNEL) == []  # no outcome yet: nothing was decided
    time.sleep(2.2)  # the first requeue waits 2 s
    bot.wait()
    final = bot.request(request.id)
    assert (final.status, final.zoom_http_status) == ("created", 201)
    assert len(bot.zoom.account_posts) == 5
    assert list(bot.zoom.created_accounts) == ["jill@example.com"]


# -- outcomes that cannot be known -------------------------------------------------------------


def test_500_leaves_the_request_unknown_after_one_post(bot):
    bot.zoom.queue_response(500, {"code": 500, "message": "Internal server error."})

    final, text = outcome_of(bot)

    assert zoom_columns(final) == ("unknown", 500, 500, "Internal server error.")
    assert final.password_ciphertext is None
    assert len(bot.zoom.account_posts) == 1
    assert "Zoom had an internal error." in text
    assert "*Zoom did not confirm the account.*" in text
    assert "check Zoom" in text
    assert "before trying again" in text


def test_timeout_leaves_the_request_unknown_after_one_post(database_url, tmp_path):
    with running_bot(database_url, tmp_path, zoom_timeout_seconds=1) as bot:
        bot.zoom.delay_seconds = 3

        final, text = outcome_of(bot)

        assert final.status == "unknown"
        assert final.zoom_http_status is None
        assert len(bot.zoom.account_posts) == 1
        assert "Zoom did not answer in time." in text
        assert "check Zoom" in text


def test_unknown_outcome_is_shown_on_the_approval_message(bot):
    bot.zoom.queue_response(502, {"code": 502, "message": "Bad gateway."})

    final, _text = outcome_of(bot)

    message = bot.slack.message(final.approval_channel_id, final.approval_ts)
    assert "outcome unknown, check Zoom" in message["text"]


# -- the body Zoom receives --------------------------------------------------------------------


def test_full_request_body_matches_zoom_schema_and_holds_exactly_what_was_given(bot):
    final, _text = outcome_of(
        bot,
        account_name="Partner Co",
        sub_reseller_id="reseller-7",
        pay_mode="sub",
        options=["share_mc", "share_rc", "billing_auto_renew"],
        meeting_connector_list="10.0.0.1, 10.0.0.2",
        room_connector_list="2001:db8::1",
    )

    (post,) = bot.zoom.account_posts
    assert final.status == "created"
    assert bot.zoom.schema_errors == []
    assert post.headers["content-type"] == "application/json"
    assert isinstance(post.body["options"], dict)
    assert post.body == {
        "first_name": "Jill",
        "last_name": "Chill",
        "email": "jill@example.com",
        "password": "Xk9mQ2vLp7zR",
        "account_name": "Partner Co",
        "sub_reseller_id": "reseller-7",
        "options": {
            "share_mc": True,
            "share_rc": True,
            "billing_auto_renew": True,
            "pay_mode": "sub",
            "meeting_connector_list": ["10.0.0.1", "10.0.0.2"],
            "room_connector_list": ["2001:db8::1"],
        },
    }


def test_minimal_request_sends_only_the_required_fields(bot):
    outcome_of(bot)

    (post,) = bot.zoom.account_posts
    assert bot.zoom.schema_errors == []
    assert sorted(post.body) == ["email", "first_name", "last_name", "password"]


def test_reason_is_never_sent_to_zoom(bot):
    outcome_of(bot, reason="Confidential merger with Initech")

    assert "Initech" not in bot.zoom.raw_log()
    assert "reason" not in bot.zoom.account_posts[0].body

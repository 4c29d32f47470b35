"""The modal's submission: field errors keyed by block_id and nothing stored; valid input stored.

An empty password makes the bot generate one, which reaches Zoom and, only after the account
exists, the requester's DM.
"""

import json

import pytest
from cryptography.fernet import Fernet

from bot.requests.passwords import password_problems
from tests.flow.support import approve, calls_after_startup, dms, json_body
from tests.harness import ENCRYPTION_KEY, ORIGIN_CHANNEL, REQUESTER, running_bot


def assert_refused_with(bot, response, block_id):
    """The modal answers with an error for exactly `block_id`, and nothing was stored or sent."""
    body = json_body(response)
    bot.wait()
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [block_id]
    assert body["errors"][block_id]
    assert bot.requests() == []
    assert bot.events(None) == []
    assert calls_after_startup(bot) == []
    return body["errors"][block_id]


def stored_password(request):
    return Fernet(ENCRYPTION_KEY).decrypt(request.password_ciphertext).decode()


def slack_calls_carrying(bot, text):
    return [call for call in bot.slack.calls if text in json.dumps(call.params)]


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_name_longer_than_64_characters_is_refused(bot, field):
    response = bot.submit(**{field: "J" * 65})

    message = assert_refused_with(bot, response, field)
    assert "64" in message


def test_name_of_exactly_64_characters_is_accepted(bot):
    request = bot.submit_ok(first_name="J" * 64)

    assert request.first_name == "J" * 64


def test_missing_first_name_is_refused(bot):
    response = bot.submit(first_name=None)

    assert assert_refused_with(bot, response, "first_name") == "Required."


@pytest.mark.parametrize(
    "email", ["not-an-email", "jill@", "jill@example", "jill smith@example.com"]
)
def test_invalid_email_is_refused(bot, email):
    response = bot.submit(email=email)

    assert "valid email" in assert_refused_with(bot, response, "email")


def test_email_longer_than_128_characters_is_refused(bot):
    email = "j" * 117 + "@example.com"  # 129 characters
    response = bot.submit(email=email)

    assert "128" in assert_refused_with(bot, response, "email")


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("Xk9mQ2v", "8–32 characters"),
        ("XkbmQavLpqzR", "digit"),
        ("xk9mq2vlp7zr", "upper- and lower-case"),
        ("Xk9maaaQ2vLp", "repeat a character"),
        ("Xk9mabcQ2vLp", "runs like"),
        ("Xk9m123QvLpz", "runs like"),
    ],
    ids=["too-short", "no-digit", "no-upper", "aaa-repeat", "abc-run", "123-run"],
)
def test_password_breaking_zoom_rules_is_refused(bot, password, words):
    response = bot.submit(password=password)

    message = assert_refused_with(bot, response, "password")
    assert words in message
    assert password not in message


def test_meeting_connector_list_with_a_bad_ip_is_refused(bot):
    response = bot.submit(options=["share_mc"], meeting_connector_list="10.0.0.1, 10.0.0.300")

    message = assert_refused_with(bot, response, "meeting_connector_list")
    assert "10.0.0.300" in message


def test_room_connector_list_with_a_bad_ip_is_refused(bot):
    response = bot.submit(options=["share_rc"], room_connector_list="zoom-connector.local")

    assert "Not an IPv4 or IPv6" in assert_refused_with(bot, response, "room_connector_list")


@pytest.mark.parametrize(
    ("list_name", "other_flag"),
    [("meeting_connector_list", "share_rc"), ("room_connector_list", "share_mc")],
)
def test_connector_list_without_its_share_option_is_refused(bot, list_name, other_flag):
    response = bot.submit(options=[other_flag], **{list_name: "10.0.0.1"})

    assert "Tick" in assert_refused_with(bot, response, list_name)


def test_unknown_pay_mode_is_refused(bot):
    response = bot.submit(pay_mode="nobody")

    assert assert_refused_with(bot, response, "pay_mode") == "Choose master or sub."


def test_missing_reason_is_refused(bot):
    response = bot.submit(reason=None)

    assert assert_refused_with(bot, response, "reason") == "Required."


def test_every_problem_is_reported_at_once(bot):
    response = bot.submit(first_name=None, email="nope", password="short", reason=None)

    body = json_body(response)
    bot.wait()
    assert sorted(body["errors"]) == ["email", "first_name", "password", "reason"]
    assert bot.requests() == []


def test_reason_is_optional_when_not_required(database_url, tmp_path):
    with running_bot(database_url, tmp_path, require_reason=False) as bot:
        request = bot.submit_ok(reason=None)

        assert request.status == "pending_approval"
        assert request.reason is None


def test_modal_marks_reason_optional_when_not_required(database_url, tmp_path):
    with running_bot(database_url, tmp_path, require_reason=False) as bot:
        bot.slash(REQUESTER)
        bot.wait()

        (call,) = bot.slack.calls_to("views.open")
        (reason,) = [b for b in call.params["view"]["blocks"] if b.get("block_id") == "reason"]
        assert reason["optional"] is True


def test_valid_submission_is_stored_with_every_field(bot):
    request = bot.submit_ok(
        first_name=" Jill ",
        account_name="Jill's team",
        sub_reseller_id="reseller-7",
        pay_mode="sub",
        options=["share_mc", "billing_auto_renew"],
        meeting_connector_list="10.0.0.1,\n2001:db8::1, 10.0.0.1",
        reason="New partner",
    )

    assert request.status == "pending_approval"
    assert (request.requester_id, request.channel_id) == (REQUESTER, ORIGIN_CHANNEL)
    assert (request.first_name, request.last_name) == ("Jill", "Chill")
    assert (request.account_name, request.sub_reseller_id) == ("Jill's team", "reseller-7")
    assert request.reason == "New partner"
    assert request.options == {
        "share_mc": True,
        "billing_auto_renew": True,
        "pay_mode": "sub",
        "meeting_connector_list": ["10.0.0.1", "2001:db8::1"],
    }
    assert bot.event_kinds(request.id) == ["submitted", "posted"]


def test_valid_submission_closes_the_modal_with_the_request_id(bot):
    response = bot.submit()

    body = json_body(response)
    bot.wait()
    (request,) = bot.requests()
    assert body["response_action"] == "update"
    assert f"Request #{request.id}" in str(body["view"])


def test_empty_password_is_accepted_and_marked_generated(bot):
    request = bot.submit_ok(password=None)

    assert request.status == "pending_approval"
    assert request.password_generated is True
    assert request.password_ciphertext is not None


def test_generated_password_sent_to_zoom_meets_zoom_rules(bot):
    request = bot.submit_ok(password=None)

    approve(bot, request)

    (post,) = bot.zoom.account_posts
    assert password_problems(post.body["password"]) == []


def test_generated_password_is_not_shown_before_approval(bot):
    request = bot.submit_ok(password=None)

    password = stored_password(request)
    assert password not in bot.slack.raw_log()
    assert bot.zoom.account_posts == []


def test_generated_password_is_sent_to_zoom(bot):
    request = bot.submit_ok(password=None)
    password = stored_password(request)

    approve(bot, request)

    (post,) = bot.zoom.account_posts
    assert post.body["password"] == password


def test_generated_password_is_dmed_only_to_the_requester_after_creation(bot):
    request = bot.submit_ok(password=None)
    password = stored_password(request)

    final = approve(bot, request)

    assert final.status == "created"
    (call,) = slack_calls_carrying(bot, password)
    assert (call.method, call.params["channel"]) == ("chat.postMessage", f"D{REQUESTER}")
    assert "generated password" in call.params["text"]
    assert call.at >= bot.slack.calls_to("chat.update")[-1].at


def test_generated_password_is_not_sent_when_zoom_fails(bot):
    bot.zoom.blocked_domains.add("example.com")
    request = bot.submit_ok(password=None)

    final = approve(bot, request)

    password = bot.zoom.account_posts[0].body["password"]
    assert final.status == "failed"
    assert slack_calls_carrying(bot, password) == []
    assert not any("generated password" in text for text in dms(bot, REQUESTER))


def test_given_password_is_never_sent_back_to_slack(bot):
    request = bot.submit_ok()

    approve(bot, request)

    assert bot.request(request.id).status == "created"
    assert not any("generated password" in text for text in dms(bot, REQUESTER))

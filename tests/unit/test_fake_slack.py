"""Tests of the Slack fakes themselves: SlackEmulator through the real slack_sdk WebClient, and
signed requests from SlackSender through a real Bolt app served over HTTP.
"""

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_signing import (
    SlackSender,
    checkboxes_value,
    email_value,
    plain_text_value,
    sign,
    static_select_value,
    view_submission_body,
)

SECRET = "signing-secret-for-tests"


@pytest.fixture
def fake() -> Iterator[SlackEmulator]:
    with SlackEmulator() as server:
        yield server


@pytest.fixture
def client(fake: SlackEmulator) -> WebClient:
    return WebClient(token=fake.bot_token, base_url=fake.base_url)


def test_auth_test_answers_with_the_bot_user_id(client):
    answer = client.auth_test()

    assert answer["user_id"] == "UBOT"
    assert answer["team_id"] == "T0001"


def test_post_message_then_update_replaces_the_stored_text(fake, client):
    posted = client.chat_postMessage(channel="C1", text="pending", blocks=[{"type": "divider"}])

    updated = client.chat_update(channel="C1", ts=posted["ts"], text="approved")

    assert updated["text"] == "approved"
    assert fake.message("C1", posted["ts"]) == {
        "text": "approved",
        "blocks": [{"type": "divider"}],
        "ts": posted["ts"],
    }


def test_post_message_timestamps_are_unique_and_increasing(client):
    first = client.chat_postMessage(channel="C1", text="a")["ts"]
    second = client.chat_postMessage(channel="C1", text="b")["ts"]

    assert float(first) < float(second)


def test_update_of_an_unknown_message_fails_with_message_not_found(client):
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="C1", ts="1.000000", text="x")

    assert raised.value.response["error"] == "message_not_found"


def test_form_encoded_blocks_arrive_decoded(fake, client):
    client.api_call(
        "chat.postMessage", params={"channel": "C1", "blocks": json.dumps([{"type": "divider"}])}
    )

    assert fake.calls_to("chat.postMessage")[0].params["blocks"] == [{"type": "divider"}]


def test_post_message_to_a_user_lands_in_the_dm_channel(client):
    answer = client.chat_postMessage(channel="U123", text="your password")

    assert answer["channel"] == "DU123"


def test_views_open_answers_with_a_view_id_and_the_view(client):
    view = {"type": "modal", "callback_id": "create_sub_account", "blocks": []}

    answer = client.views_open(trigger_id="trig-1", view=view)

    assert answer["view"]["id"].startswith("V")
    assert answer["view"]["callback_id"] == "create_sub_account"


def test_users_info_returns_a_registered_user(fake, client):
    fake.add_user("U1", email="ada@example.org", name="Ada")

    user = client.users_info(user="U1")["user"]

    assert (user["id"], user["real_name"], user["profile"]["email"]) == (
        "U1",
        "Ada",
        "ada@example.org",
    )


def test_users_info_of_an_unknown_user_fails(client):
    with pytest.raises(SlackApiError) as raised:
        client.users_info(user="UNOPE")

    assert raised.value.response["error"] == "user_not_found"


def test_lookup_by_email_ignores_case(fake, client):
    fake.add_user("U1", email="ada@example.org")

    assert client.users_lookupByEmail(email="Ada@Example.org")["user"]["id"] == "U1"


def test_lookup_by_unknown_email_fails(client):
    with pytest.raises(SlackApiError) as raised:
        client.users_lookupByEmail(email="nobody@example.org")

    assert raised.value.response["error"] == "users_not_found"


def test_usergroup_members_are_listed(fake, client):
    fake.add_usergroup("S1", ["U1", "U2"])

    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]


def test_unknown_usergroup_fails(client):
    with pytest.raises(SlackApiError) as raised:
        client.usergroups_users_list(usergroup="S404")

    assert raised.value.response["error"] == "no_such_subteam"


def test_conversations_open_returns_the_dm_channel(client):
    assert client.conversations_open(users="U7")["channel"]["id"] == "DU7"


def test_fail_next_fails_only_the_given_number_of_calls(fake, client):
    fake.fail_next("chat.postMessage", error="ratelimited", times=2)
    errors = []
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel="C1", text="x")
        errors.append(raised.value.response["error"])

    third = client.chat_postMessage(channel="C1", text="x")

    assert errors == ["ratelimited", "ratelimited"]
    assert third["ok"] is True


def test_unknown_method_is_refused_and_recorded(fake, client):
    with pytest.raises(SlackApiError) as raised:
        client.api_call("chat.delete", params={"channel": "C1", "ts": "1.0"})

    assert raised.value.response["error"] == "unknown_method"
    assert [call.method for call in fake.calls] == ["chat.delete"]


def test_wrong_token_is_refused_and_never_recorded(fake):
    intruder = WebClient(token="xoxb-wrong-token", base_url=fake.base_url)

    with pytest.raises(SlackApiError) as raised:
        intruder.auth_test()

    assert raised.value.response["error"] == "invalid_auth"
    assert "xoxb-wrong-token" not in repr(fake.calls) + fake.raw_log()


def test_response_url_posts_are_recorded(fake):
    url = fake.response_url("slash")

    sent = WebhookClient(url).send(text="Only requesters may ask", response_type="ephemeral")

    post = fake.wait_for_response_post(lambda post: post["url"] == url)
    assert sent.status_code == 200
    assert post["body"] == {"text": "Only requesters may ask", "response_type": "ephemeral"}


def test_raw_log_shows_encoded_values_decoded(fake, client):
    client.api_call("chat.postMessage", params={"channel": "C1", "text": 'p@ss "w%rd"'})

    assert 'p@ss "w%rd"' in fake.raw_log()
    assert "p%40ss" in fake.raw_log()


def test_wait_for_returns_calls_matching_predicate_and_count(fake, client):
    for channel in ("C1", "C2", "C2"):
        client.chat_postMessage(channel=channel, text="x")

    found = fake.wait_for("chat.postMessage", lambda params: params["channel"] == "C2", count=2)

    assert [call.params["channel"] for call in found] == ["C2", "C2"]


def test_wait_for_raises_listing_what_was_seen(fake, client):
    client.auth_test()

    with pytest.raises(AssertionError, match=r"auth\.test"):
        fake.wait_for("chat.postMessage", timeout=0.05)


def test_reset_calls_forgets_recorded_calls(fake, client):
    client.auth_test()

    fake.reset_calls()

    assert fake.calls == []
    assert fake.raw_log() == ""


def test_sign_verifies_with_slack_sdk():
    body = b"command=%2Fzoom-subaccount&text="
    headers = sign(body, secret=SECRET)

    verifier = SignatureVerifier(SECRET)

    assert verifier.is_valid_request(body, headers) is True
    assert verifier.is_valid_request(body + b"x", headers) is False


def test_view_submission_state_has_slack_shapes():
    values = {
        "first_name": {"first_name": plain_text_value("Ada")},
        "email": {"email": email_value("ada@example.org")},
        "pay_mode": {"pay_mode": static_select_value("master")},
        "options": {"options": checkboxes_value(["share_mc"])},
    }

    body, content_type = view_submission_body(user_id="U1", values=values)

    payload = json.loads(parse_qs(body.decode())["payload"][0])
    state = payload["view"]["state"]["values"]
    assert content_type == "application/x-www-form-urlencoded"
    assert payload["type"] == "view_submission"
    assert state["pay_mode"]["pay_mode"]["selected_option"]["value"] == "master"
    assert state["options"]["options"]["selected_options"][0]["value"] == "share_mc"


# -- signed requests through a real Bolt app ------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: tests must not print."""


@pytest.fixture
def bolt_app(fake: SlackEmulator) -> App:
    return App(
        signing_secret=SECRET, client=WebClient(token=fake.bot_token, base_url=fake.base_url)
    )


@pytest.fixture
def seen() -> "queue.Queue[Any]":
    return queue.Queue()


@pytest.fixture
def sender(bolt_app: App) -> Iterator[SlackSender]:
    server: WSGIServer = make_server(
        "127.0.0.1", 0, SlackRequestHandler(bolt_app), handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield SlackSender(f"http://127.0.0.1:{server.server_port}/slack/events", SECRET)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5.0)


def test_signed_slash_command_reaches_a_bolt_listener(bolt_app, sender):

    @bolt_app.command("/zoom-subaccount")
    def on_command(ack, command):
        ack(text=f"hello {command['user_id']}")

    answer = sender.slash(user_id="U1", text="help")

    assert answer.status_code == 200
    assert answer.text == "hello U1"


def test_wrong_signature_is_refused_by_bolt(sender):

    answer = sender.slash(user_id="U1", timestamp=1)

    assert answer.status_code == 401


def test_view_submission_reaches_a_bolt_view_listener(bolt_app, sender, seen):

    @bolt_app.view("create_sub_account")
    def on_submit(ack, view):
        ack()
        seen.put(view["state"]["values"])

    answer = sender.submit_view(
        user_id="U1", values={"first_name": {"first_name": plain_text_value("Ada")}}
    )

    assert answer.status_code == 200
    assert seen.get(timeout=5)["first_name"]["first_name"]["value"] == "Ada"


def test_click_reaches_a_bolt_action_listener(bolt_app, sender, seen):

    @bolt_app.action("approve_request")
    def on_click(ack, body):
        ack()
        seen.put(body)

    sender.click(
        user_id="U2", action_id="approve_request", value="42", channel_id="C9", message_ts="1.1"
    )

    body = seen.get(timeout=5)
    assert (body["actions"][0]["value"], body["container"]["channel_id"]) == ("42", "C9")


def test_reaction_reaches_a_bolt_event_listener(bolt_app, sender, seen):

    @bolt_app.event("reaction_added")
    def on_reaction(event):
        seen.put(event)

    answer = sender.react(
        user_id="U2", reaction="white_check_mark", channel_id="C9", message_ts="1.1"
    )

    assert answer.status_code == 200
    assert seen.get(timeout=5)["item"] == {"type": "message", "channel": "C9", "ts": "1.1"}

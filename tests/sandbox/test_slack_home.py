"""The emulator's App Home: views.publish keeps one Home per person, the snapshot shows the
viewer's, and the signed payloads of app_home_opened and of a click in a view have Slack's shape.
Driven through the real slack_sdk WebClient over loopback HTTP."""

import json
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_signing import app_home_opened_body, view_block_actions_body

ANN, BEN = "UANN0001", "UBEN0001"
HOME = {
    "type": "home",
    "blocks": [
        {
            "type": "actions",
            "block_id": "b1",
            "elements": [
                {
                    "type": "button",
                    "action_id": "go",
                    "value": "7",
                    "text": {"type": "plain_text", "text": "Go"},
                }
            ],
        }
    ],
}


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.base_url)


def _api_error(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return str(raised.value.response["error"])


def test_publish_stores_the_home_of_that_person_only(slack, client):
    answer = client.views_publish(user_id=ANN, view=HOME)

    assert answer["view"]["type"] == "home"
    assert slack.snapshot(ANN)["home"]["view"] == HOME
    assert slack.snapshot(BEN)["home"] is None


def test_publishing_again_replaces_the_home_and_keeps_its_id(slack, client):
    first = client.views_publish(user_id=ANN, view=HOME)["view"]

    second = client.views_publish(user_id=ANN, view={"type": "home", "blocks": []})["view"]

    assert second["id"] == first["id"]
    assert second["hash"] != first["hash"]
    assert slack.home_view(ANN)["view"]["blocks"] == []


def test_a_stale_hash_is_refused_as_slack_does(client):
    client.views_publish(user_id=ANN, view=HOME)

    error = _api_error(lambda: client.views_publish(user_id=ANN, view=HOME, hash="stale"))

    assert error == "hash_conflict"


@pytest.mark.parametrize(
    "view",
    [
        {"type": "modal", "blocks": []},
        {"type": "home", "blocks": [{"type": "divider"}] * 101},
    ],
    ids=["not a home view", "over 100 blocks"],
)
def test_views_slack_refuses_are_refused(slack, client, view):
    error = _api_error(lambda: client.views_publish(user_id=ANN, view=view))

    assert error == "invalid_arguments"
    assert slack.home_view(ANN) is None


def test_app_home_opened_carries_the_last_published_home(slack, client):
    client.views_publish(user_id=ANN, view=HOME)
    home = slack.home_view(ANN)

    body, content_type = app_home_opened_body(user_id=ANN, view=home)

    event = json.loads(body)["event"]
    assert content_type == "application/json"
    assert (event["type"], event["user"], event["tab"]) == ("app_home_opened", ANN, "home")
    assert (event["view"]["id"], event["view"]["type"]) == (home["id"], "home")


def test_a_click_in_a_view_names_the_view_and_no_message(slack, client):
    client.views_publish(user_id=ANN, view=HOME)
    home = slack.home_view(ANN)

    body, _ = view_block_actions_body(
        user_id=ANN, action_id="go", value="7", opened=home, block_id="b1"
    )

    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert payload["container"] == {"type": "view", "view_id": home["id"]}
    assert payload["view"]["type"] == "home"
    assert "message" not in payload
    assert "channel" not in payload
    assert payload["actions"][0]["value"] == "7"

"""The Slack emulator as a workspace: threads, edits, reactions, ephemerals, response_url
semantics, modal stacks and trigger ids, persistence and the snapshot the sandbox page renders.
Driven through the real slack_sdk WebClient and WebhookClient over loopback HTTP.
"""

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from sandbox.slack_emulator import ActionRefused, SlackEmulator, SlackStateError

BOT, ANN, BEN = "UZOOMBOT", "UANN0001", "UBEN0001"
CHANNEL, OTHER = "CAPPROVALS", "CREQUESTS"
MODAL = {"type": "modal", "callback_id": "form", "title": {"type": "plain_text", "text": "F"}}


def _populate(slack: SlackEmulator) -> None:
    slack.add_user(BOT, name="zoombot")
    slack.add_user(ANN, email="ann@example.org", name="Ann Archer")
    slack.add_user(BEN, email="ben@example.org", name="Ben Baker")
    slack.add_channel(OTHER, "zoom-requests")
    slack.add_channel(CHANNEL, "zoom-approvals")


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_user_id=BOT) as emulator:
        _populate(emulator)
        yield emulator


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.base_url)


def _channel(snapshot: dict, channel_id: str) -> dict:
    return next(channel for channel in snapshot["channels"] if channel["id"] == channel_id)


def _messages(slack: SlackEmulator, channel_id: str = CHANNEL, viewer: str = ANN) -> list[dict]:
    return _channel(slack.snapshot(viewer), channel_id)["messages"]


def _api_error(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return str(raised.value.response["error"])


# -- messages, threads, edits --------------------------------------------------------------


def test_default_timestamps_keep_the_fixed_test_sequence(client):
    first = client.chat_postMessage(channel=CHANNEL, text="a")["ts"]
    second = client.chat_postMessage(channel=CHANNEL, text="b")["ts"]

    assert (first, second) == ("1700000000.000100", "1700000000.000200")


def test_posted_message_is_by_the_bot_user(slack, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="hello", blocks=[{"type": "divider"}])["ts"]

    (message,) = _messages(slack)
    assert message["user"] == BOT
    assert (message["ts"], message["text"], message["blocks"]) == (
        ts,
        "hello",
        [{"type": "divider"}],
    )
    assert (message["edited"], message["thread_ts"], message["replies"]) == (False, None, [])


def test_thread_reply_is_listed_under_its_parent_not_in_the_channel(slack, client):
    parent = client.chat_postMessage(channel=CHANNEL, text="parent")["ts"]

    reply = client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=parent)["ts"]

    (shown,) = _messages(slack)
    assert shown["thread_ts"] == parent
    assert [(item["ts"], item["thread_ts"]) for item in shown["replies"]] == [(reply, parent)]


def test_reply_to_a_reply_joins_the_parents_thread(slack, client):
    parent = client.chat_postMessage(channel=CHANNEL, text="parent")["ts"]
    first = client.chat_postMessage(channel=CHANNEL, text="1", thread_ts=parent)["ts"]

    client.chat_postMessage(channel=CHANNEL, text="2", thread_ts=first)

    (shown,) = _messages(slack)
    assert [item["text"] for item in shown["replies"]] == ["1", "2"]


def test_broadcast_reply_shows_in_the_thread_and_in_the_channel(slack, client):
    parent = client.chat_postMessage(channel=CHANNEL, text="parent")["ts"]

    client.chat_postMessage(channel=CHANNEL, text="news", thread_ts=parent, reply_broadcast=True)

    top = _messages(slack)
    assert [item["text"] for item in top] == ["parent", "news"]
    assert top[1]["broadcast"] is True
    assert [item["text"] for item in top[0]["replies"]] == ["news"]


def test_update_marks_the_message_edited_and_keeps_omitted_fields(slack, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="pending", blocks=[{"type": "divider"}])[
        "ts"
    ]

    client.chat_update(channel=CHANNEL, ts=ts, text="approved")

    (message,) = _messages(slack)
    assert (message["text"], message["blocks"], message["edited"]) == (
        "approved",
        [{"type": "divider"}],
        True,
    )


def test_legacy_message_reader_keeps_its_shape(slack, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="x")["ts"]

    assert slack.message(CHANNEL, ts) == {"text": "x", "blocks": [], "ts": ts}


def test_post_to_a_user_lands_in_that_users_dm_shown_only_to_them(slack, client):
    client.chat_postMessage(channel=ANN, text="your password")

    ann_dm = _channel(slack.snapshot(ANN), f"D{ANN}")
    assert (ann_dm["kind"], ann_dm["name"]) == ("im", "zoombot")
    assert [message["text"] for message in ann_dm["messages"]] == ["your password"]
    assert _channel(slack.snapshot(BEN), f"D{BEN}")["messages"] == []


# -- reactions -------------------------------------------------------------------------------


def test_bot_reaction_is_stored_and_a_repeat_answers_already_reacted(slack, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="x")["ts"]
    client.reactions_add(channel=CHANNEL, timestamp=ts, name="white_check_mark")

    error = _api_error(
        lambda: client.reactions_add(channel=CHANNEL, timestamp=ts, name="white_check_mark")
    )

    assert error == "already_reacted"
    assert _messages(slack)[0]["reactions"] == [
        {"name": "white_check_mark", "users": [BOT], "count": 1}
    ]


def test_reaction_on_an_unknown_message_fails(client):
    error = _api_error(lambda: client.reactions_add(channel=CHANNEL, timestamp="1.0", name="x"))

    assert error == "message_not_found"


def test_people_add_to_the_same_reaction_once_each(slack, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="x")["ts"]
    client.reactions_add(channel=CHANNEL, timestamp=ts, name="x")
    slack.add_reaction(CHANNEL, ts, "x", ANN)

    with pytest.raises(ActionRefused) as refused:
        slack.add_reaction(CHANNEL, ts, "x", ANN)

    assert refused.value.code == "already_reacted"
    assert _messages(slack)[0]["reactions"] == [{"name": "x", "users": [BOT, ANN], "count": 2}]


# -- ephemerals and response_url -------------------------------------------------------------


def test_ephemeral_is_shown_only_to_its_user(slack, client):
    client.chat_postEphemeral(channel=CHANNEL, user=ANN, text="only you")

    (shown,) = slack.snapshot(ANN)["ephemerals"]
    assert (shown["channel"], shown["text"], shown["blocks"]) == (CHANNEL, "only you", [])
    assert slack.snapshot(BEN)["ephemerals"] == []


def test_response_url_post_is_ephemeral_by_default(slack):
    url = slack.register_response_url(user_id=ANN, channel_id=OTHER)

    sent = WebhookClient(url).send(text="Sorry, not allowed")

    assert sent.status_code == 200
    assert [item["text"] for item in slack.snapshot(ANN)["ephemerals"]] == ["Sorry, not allowed"]
    assert _messages(slack, OTHER) == []


def test_response_url_in_channel_posts_a_bot_message(slack):
    url = slack.register_response_url(user_id=ANN, channel_id=OTHER)

    WebhookClient(url).send(text="for everyone", response_type="in_channel")

    (message,) = _messages(slack, OTHER, viewer=BEN)
    assert (message["user"], message["text"]) == (BOT, "for everyone")
    assert slack.snapshot(ANN)["ephemerals"] == []


def test_response_url_replace_original_updates_the_message(slack, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="old")["ts"]
    url = slack.register_response_url(user_id=ANN, channel_id=CHANNEL, message_ts=ts)

    WebhookClient(url).send(text="new", replace_original=True)

    (message,) = _messages(slack)
    assert (message["ts"], message["text"], message["edited"]) == (ts, "new", False)


def test_response_url_delete_original_removes_the_message(slack, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="old")["ts"]
    url = slack.register_response_url(user_id=ANN, channel_id=CHANNEL, message_ts=ts)

    sent = WebhookClient(url).send_dict({"delete_original": True})

    assert sent.status_code == 200
    assert _messages(slack) == []


def test_response_url_without_text_is_refused(slack):
    url = slack.register_response_url(user_id=ANN, channel_id=OTHER)

    sent = httpx.post(url, json={"response_type": "ephemeral"})

    assert (sent.status_code, sent.text) == (400, "no_text")
    assert slack.snapshot(ANN)["ephemerals"] == []


def test_unregistered_response_url_only_records(slack):
    url = slack.response_url("legacy")
    version = slack.version

    WebhookClient(url).send(text="hello")

    assert slack.response_posts[0]["body"] == {"text": "hello"}
    assert slack.snapshot(ANN)["ephemerals"] == []
    assert slack.version == version


# -- modals ------------------------------------------------------------------------------------


def test_view_opened_with_an_issued_trigger_belongs_to_that_person(slack, client):
    trigger = slack.issue_trigger(ANN)

    opened = client.views_open(trigger_id=trigger, view=MODAL)["view"]

    shown = slack.snapshot(ANN)["view"]
    assert shown == {"id": opened["id"], "view": MODAL, "errors": {}, "depth": 1}
    assert slack.snapshot(BEN)["view"] is None


def test_unknown_trigger_is_answered_but_opens_nothing(slack, client):
    opened = client.views_open(trigger_id="made-up", view=MODAL)["view"]

    assert opened["callback_id"] == "form"
    assert slack.snapshot(ANN)["view"] is None


def test_trigger_older_than_three_seconds_is_expired(slack, client):
    trigger = slack.issue_trigger(ANN, issued_at=time.monotonic() - 3.5)

    error = _api_error(lambda: client.views_open(trigger_id=trigger, view=MODAL))

    assert error == "expired_trigger_id"
    assert slack.snapshot(ANN)["view"] is None


def test_trigger_works_only_once(slack, client):
    trigger = slack.issue_trigger(ANN)
    client.views_open(trigger_id=trigger, view=MODAL)

    error = _api_error(lambda: client.views_open(trigger_id=trigger, view=MODAL))

    assert error == "exchanged_trigger_id"


def test_push_stacks_views_up_to_three(slack, client):
    client.views_open(trigger_id=slack.issue_trigger(ANN), view=MODAL)
    pushed = []
    for title in ("second", "third"):
        view = {**MODAL, "title": {"type": "plain_text", "text": title}}
        pushed.append(client.views_push(trigger_id=slack.issue_trigger(ANN), view=view)["view"])

    error = _api_error(lambda: client.views_push(trigger_id=slack.issue_trigger(ANN), view=MODAL))

    shown = slack.snapshot(ANN)["view"]
    assert error == "push_limit_reached"
    assert (shown["id"], shown["depth"]) == (pushed[-1]["id"], 3)
    assert pushed[-1]["previous_view_id"] == pushed[0]["id"]


def test_update_by_view_id_replaces_the_content_and_clears_errors(slack, client):
    opened = client.views_open(trigger_id=slack.issue_trigger(ANN), view=MODAL)["view"]
    slack.set_view_errors(ANN, opened["id"], {"email": "bad"})
    updated = {**MODAL, "callback_id": "done"}

    client.views_update(view_id=opened["id"], view=updated)

    assert slack.snapshot(ANN)["view"] == {
        "id": opened["id"],
        "view": updated,
        "errors": {},
        "depth": 1,
    }


def test_update_by_external_id_finds_the_view(slack, client):
    client.views_open(trigger_id=slack.issue_trigger(ANN), view={**MODAL, "external_id": "ext-1"})

    client.views_update(external_id="ext-1", view={**MODAL, "external_id": "ext-1", "x": 1})

    assert slack.snapshot(ANN)["view"]["view"]["x"] == 1


def test_update_of_an_unknown_external_id_fails(client):
    error = _api_error(lambda: client.views_update(external_id="nope", view=MODAL))

    assert error == "not_found"


def test_update_with_a_stale_hash_fails(slack, client):
    opened = client.views_open(trigger_id=slack.issue_trigger(ANN), view=MODAL)["view"]

    error = _api_error(
        lambda: client.views_update(view_id=opened["id"], view=MODAL, hash="stale-hash")
    )

    assert error == "hash_conflict"


def test_closing_a_pushed_view_shows_the_one_below(slack, client):
    first = client.views_open(trigger_id=slack.issue_trigger(ANN), view=MODAL)["view"]
    second = client.views_push(trigger_id=slack.issue_trigger(ANN), view=MODAL)["view"]

    closed = slack.close_view(ANN, second["id"])

    assert closed is True
    assert (slack.snapshot(ANN)["view"]["id"], slack.snapshot(ANN)["view"]["depth"]) == (
        first["id"],
        1,
    )


# -- version, snapshot, persistence ------------------------------------------------------------


def test_version_grows_on_every_change_and_not_on_reads(slack, client):
    before = slack.version
    slack.snapshot(ANN)
    unchanged = slack.version

    ts = client.chat_postMessage(channel=CHANNEL, text="x")["ts"]
    after_post = slack.version
    client.chat_update(channel=CHANNEL, ts=ts, text="y")

    assert unchanged == before
    assert before < after_post < slack.version


def test_snapshot_has_the_designed_shape(slack, client):
    client.chat_postMessage(channel=CHANNEL, text="x")

    snapshot = slack.snapshot(ANN)

    assert set(snapshot) == {
        "version",
        "viewer",
        "bot_user_id",
        "users",
        "channels",
        "ephemerals",
        "view",
        "home",
    }
    assert (snapshot["viewer"], snapshot["bot_user_id"]) == (ANN, BOT)
    assert {"id": ANN, "name": "Ann Archer", "email": "ann@example.org", "is_bot": False} in (
        snapshot["users"]
    )
    assert [(item["id"], item["kind"]) for item in snapshot["channels"]] == [
        (OTHER, "channel"),
        (CHANNEL, "channel"),
        (f"D{ANN}", "im"),
    ]
    assert set(_messages(slack)[0]) == {
        "ts",
        "user",
        "text",
        "blocks",
        "edited",
        "thread_ts",
        "broadcast",
        "replies",
        "reactions",
    }
    json.dumps(snapshot)  # JSON-ready


def test_workspace_survives_a_restart_on_the_same_state_file(tmp_path):
    path = tmp_path / "slack.json"
    with SlackEmulator(bot_user_id=BOT, state_path=path) as first:
        _populate(first)
        client = WebClient(token=first.bot_token, base_url=first.base_url)
        ts = client.chat_postMessage(channel=CHANNEL, text="request")["ts"]
        client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=ts)
        client.chat_update(channel=CHANNEL, ts=ts, text="approved")
        first.add_reaction(CHANNEL, ts, "white_check_mark", ANN)
        client.chat_postEphemeral(channel=CHANNEL, user=ANN, text="psst")
        client.views_open(trigger_id=first.issue_trigger(ANN), view=MODAL)
        before = first.snapshot(ANN)

    with SlackEmulator(bot_user_id=BOT, state_path=path) as second:
        after = second.snapshot(ANN)
        later = WebClient(token=second.bot_token, base_url=second.base_url).chat_postMessage(
            channel=CHANNEL, text="later"
        )["ts"]

    assert after["channels"] == before["channels"]
    assert after["users"] == before["users"]
    assert after["ephemerals"] == before["ephemerals"]
    assert after["version"] == before["version"]
    assert after["view"] is None  # Slack closes open modals too
    assert float(later) > float(ts)


def test_clock_timestamps_are_real_times_and_keep_increasing_across_a_restart(tmp_path):
    path = tmp_path / "slack.json"
    with SlackEmulator(state_path=path, clock_ts=True) as first:
        ts = WebClient(token=first.bot_token, base_url=first.base_url).chat_postMessage(
            channel=CHANNEL, text="a"
        )["ts"]
    # A clock that went back (or a saved file from a faster machine) must not reuse times.
    saved = json.loads(path.read_text())
    saved["last_ts_us"] = int((time.time() + 86_400) * 1_000_000)
    path.write_text(json.dumps(saved))

    with SlackEmulator(state_path=path, clock_ts=True) as second:
        later = WebClient(token=second.bot_token, base_url=second.base_url).chat_postMessage(
            channel=CHANNEL, text="b"
        )["ts"]

    assert abs(float(ts) - time.time()) < 3600
    assert float(later) * 1_000_000 > saved["last_ts_us"]


def test_saving_leaves_no_temporary_files(tmp_path):
    with SlackEmulator(state_path=tmp_path / "slack.json") as slack:
        _populate(slack)

    assert [item.name for item in tmp_path.iterdir()] == ["slack.json"]


def test_no_state_path_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SlackEmulator() as slack:
        _populate(slack)

    assert list(tmp_path.iterdir()) == []


def test_a_damaged_state_file_is_refused_with_its_path(tmp_path):
    path = tmp_path / "slack.json"
    path.write_text("{not json")

    with pytest.raises(SlackStateError, match=r"slack\.json"):
        SlackEmulator(state_path=path)

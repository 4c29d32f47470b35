"""Workspace drives the real bot as Slack's client would: a person's command, modal submission,
click and reaction become signed requests, and the bot's answers land in the emulator's
workspace exactly where a Slack user would see them.
"""

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from slack_sdk import WebClient

from sandbox.slack_emulator import SlackEmulator
from sandbox.view_state import UnsupportedInput, state_values
from sandbox.workspace import Outcome, Workspace
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    BOT_TOKEN,
    GOOD_PASSWORD,
    ORIGIN_CHANNEL,
    OUTSIDER,
    REQUESTER,
    SIGNING_SECRET,
    BotHarness,
    running_bot,
)

VALID = {
    "first_name": "Jill",
    "last_name": "Chill",
    "email": "jill@example.com",
    "password": GOOD_PASSWORD,
    "pay_mode": "sub",
    "options": ["share_mc"],
    "reason": "Onboarding a new partner",
}


@contextmanager
def sandbox(database_url: str, tmp_path, **overrides) -> Iterator[tuple[BotHarness, Workspace]]:
    """The real bot behind the harness's emulator, with the channels a person would see."""
    with running_bot(database_url, tmp_path, **overrides) as bot:
        bot.slack.add_channel(ORIGIN_CHANNEL, "zoom-requests")
        bot.slack.add_channel(APPROVAL_CHANNEL, "zoom-approvals")
        yield bot, Workspace(bot.slack, bot_url=bot.url, signing_secret=SIGNING_SECRET)


@pytest.fixture
def world(database_url, tmp_path) -> Iterator[tuple[BotHarness, Workspace]]:
    with sandbox(database_url, tmp_path) as pair:
        yield pair


def _until(slack: SlackEmulator, condition, what: str, timeout: float = 10.0) -> None:
    assert slack.wait_until(condition, timeout=timeout), f"timed out waiting for {what}"


def _open_form(bot: BotHarness, workspace: Workspace, user_id: str = REQUESTER) -> str:
    outcome = workspace.run_command(user_id=user_id, channel_id=ORIGIN_CHANNEL)
    assert outcome == Outcome(ok=True, result="delivered")
    _until(bot.slack, lambda: bot.slack.snapshot(user_id)["view"] is not None, "the modal")
    return str(bot.slack.snapshot(user_id)["view"]["id"])


def _approval_messages(bot: BotHarness, viewer: str = APPROVER) -> list[dict]:
    snapshot = bot.slack.snapshot(viewer)
    channel = next(item for item in snapshot["channels"] if item["id"] == APPROVAL_CHANNEL)
    return channel["messages"]


def _preview_shown(bot: BotHarness, workspace: Workspace, user_id: str = REQUESTER) -> str:
    """Run the command and submit a valid form: the modal turns into its confirmation step."""
    view_id = _open_form(bot, workspace, user_id)
    outcome = workspace.submit_view(user_id=user_id, view_id=view_id, inputs=VALID)
    assert outcome.result == "view_updated", outcome
    shown = bot.slack.snapshot(user_id)["view"]
    assert (shown["id"], shown["view"]["callback_id"]) == (view_id, "confirm_sub_account")
    return view_id


def _request_posted(bot: BotHarness, workspace: Workspace, user_id: str = REQUESTER) -> dict:
    """Run the command, submit a valid form and confirm it, wait for the approval message and
    return it."""
    count = len(_approval_messages(bot))
    view_id = _preview_shown(bot, workspace, user_id)
    outcome = workspace.submit_view(user_id=user_id, view_id=view_id, inputs={})
    assert outcome.result == "view_updated", outcome
    _until(bot.slack, lambda: len(_approval_messages(bot)) > count, "the approval message")
    message = _approval_messages(bot)[-1]
    # The bot's own ✅/❌ arrive just after the post; wait so later counts are stable.
    _until(bot.slack, lambda: len(_approval_messages(bot)[-1]["reactions"]) == 2, "bot reactions")
    bot.wait()  # the request row learns its message's ts after the post
    return message


def _buttons(message: dict) -> list[dict]:
    return [
        {**element, "block_id": block["block_id"]}
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def _texts(items: list[dict]) -> str:
    return "\n".join(item["text"] for item in items)


# -- the command and the modal -----------------------------------------------------------------


def test_command_from_a_requester_opens_the_modal_for_that_person_only(world):
    bot, workspace = world

    _open_form(bot, workspace)

    shown = bot.slack.snapshot(REQUESTER)["view"]
    assert (shown["view"]["callback_id"], shown["depth"], shown["errors"]) == (
        "create_sub_account",
        1,
        {},
    )
    assert bot.slack.snapshot(APPROVER)["view"] is None


def test_command_from_an_outsider_shows_a_refusal_only_to_them(world):
    bot, workspace = world

    outcome = workspace.run_command(user_id=OUTSIDER, channel_id=ORIGIN_CHANNEL)

    _until(bot.slack, lambda: bot.slack.snapshot(OUTSIDER)["ephemerals"], "the refusal")
    (refusal,) = bot.slack.snapshot(OUTSIDER)["ephemerals"]
    assert outcome.ok is True
    assert (refusal["channel"], "not on the list" in refusal["text"]) == (ORIGIN_CHANNEL, True)
    assert bot.slack.snapshot(OUTSIDER)["view"] is None
    assert bot.slack.snapshot(REQUESTER)["ephemerals"] == []


def test_command_reply_body_becomes_an_ephemeral(world):
    bot, workspace = world

    outcome = workspace.run_command(user_id=REQUESTER, channel_id=ORIGIN_CHANNEL, text="help")

    (shown,) = bot.slack.snapshot(REQUESTER)["ephemerals"]
    assert outcome.result == "delivered"
    assert "opens a form" in shown["text"]
    assert bot.slack.snapshot(REQUESTER)["view"] is None


def test_bad_email_comes_back_as_field_errors_and_the_modal_stays(world):
    bot, workspace = world
    view_id = _open_form(bot, workspace)

    outcome = workspace.submit_view(
        user_id=REQUESTER, view_id=view_id, inputs={**VALID, "email": "jill@"}
    )

    shown = bot.slack.snapshot(REQUESTER)["view"]
    assert (outcome.ok, outcome.result, list(outcome.errors)) == (True, "view_errors", ["email"])
    assert (shown["id"], shown["errors"]) == (view_id, outcome.errors)
    assert bot.requests() == []


def test_valid_submission_shows_the_preview_and_stores_nothing(world):
    bot, workspace = world

    view_id = _preview_shown(bot, workspace)
    bot.wait()

    shown = bot.slack.snapshot(REQUESTER)["view"]["view"]
    assert (shown["title"]["text"], shown["submit"]["text"]) == (
        "Check the request",
        "Submit request",
    )
    assert '"password": "********"' in shown["blocks"][1]["text"]["text"]
    assert GOOD_PASSWORD not in json.dumps(shown)
    assert bot.requests() == []
    assert _approval_messages(bot) == []
    assert bot.slack.snapshot(REQUESTER)["view"]["id"] == view_id


def test_back_on_the_preview_shows_the_form_filled_in_without_the_password(world):
    bot, workspace = world
    view_id = _preview_shown(bot, workspace)

    outcome = workspace.click_in_view(
        user_id=REQUESTER, view_id=view_id, action_id="preview_back", block_id="preview_back"
    )
    _until(
        bot.slack,
        lambda: (
            bot.slack.snapshot(REQUESTER)["view"]["view"]["callback_id"] == "create_sub_account"
        ),
        "the form again",
    )

    assert outcome.result == "delivered"
    form = bot.slack.snapshot(REQUESTER)["view"]
    inputs = {b["block_id"]: b["element"] for b in form["view"]["blocks"] if b["type"] == "input"}
    assert form["id"] == view_id
    assert (inputs["first_name"]["initial_value"], inputs["email"]["initial_value"]) == (
        "Jill",
        "jill@example.com",
    )
    assert inputs["pay_mode"]["initial_option"]["value"] == "sub"
    assert "initial_value" not in inputs["password"]
    again = workspace.submit_view(
        user_id=REQUESTER, view_id=view_id, inputs={"password": GOOD_PASSWORD}
    )
    assert again.result == "view_updated"
    assert bot.slack.snapshot(REQUESTER)["view"]["view"]["callback_id"] == "confirm_sub_account"


def test_valid_submission_posts_the_request_with_decision_buttons(world):
    bot, workspace = world

    message = _request_posted(bot, workspace)

    notice = bot.slack.snapshot(REQUESTER)["view"]
    assert notice["view"]["title"]["text"] == "Request sent"
    assert message["user"] == bot.slack.bot_user_id
    assert [button["action_id"] for button in _buttons(message)] == [
        "approve_request",
        "reject_request",
    ]
    request = bot.latest_request()
    assert (request.first_name, request.email, request.approval_ts) == (
        "Jill",
        "jill@example.com",
        message["ts"],
    )


def test_closing_the_notice_closes_the_modal(world):
    bot, workspace = world
    _request_posted(bot, workspace)
    view_id = bot.slack.snapshot(REQUESTER)["view"]["id"]

    outcome = workspace.close_view(user_id=REQUESTER, view_id=view_id)

    assert outcome == Outcome(ok=True, result="view_closed")
    assert bot.slack.snapshot(REQUESTER)["view"] is None


# -- deciding ------------------------------------------------------------------------------------


def test_approve_click_edits_the_message_and_replies_with_the_zoom_result(world):
    bot, workspace = world
    message = _request_posted(bot, workspace)
    (approve, _) = _buttons(message)

    outcome = workspace.click(
        user_id=APPROVER,
        channel_id=APPROVAL_CHANNEL,
        message_ts=message["ts"],
        action_id=approve["action_id"],
        block_id=approve["block_id"],
        value=None,
    )

    _until(bot.slack, lambda: "Created" in _texts(_approval_messages(bot)[-1]["replies"]), "Zoom")
    shown = _approval_messages(bot)[-1]
    assert outcome == Outcome(ok=True, result="delivered")
    assert shown["edited"] is True
    assert "Approved by" in _texts(shown["replies"])
    assert bot.latest_request().status == "created"


def test_an_approvers_reaction_approves_the_request(world):
    bot, workspace = world
    message = _request_posted(bot, workspace)

    outcome = workspace.react(
        user_id=APPROVER,
        channel_id=APPROVAL_CHANNEL,
        message_ts=message["ts"],
        name="white_check_mark",
    )

    _until(bot.slack, lambda: "Created" in _texts(_approval_messages(bot)[-1]["replies"]), "Zoom")
    reactions = _approval_messages(bot)[-1]["reactions"]
    assert outcome == Outcome(ok=True, result="delivered")
    assert reactions[0] == {
        "name": "white_check_mark",
        "users": [bot.slack.bot_user_id, APPROVER],
        "count": 2,
    }
    assert bot.latest_request().approver_id == APPROVER


def test_reacting_twice_with_the_same_emoji_is_refused(world):
    bot, workspace = world
    message = _request_posted(bot, workspace)
    where = {"channel_id": APPROVAL_CHANNEL, "message_ts": message["ts"], "name": "eyes"}
    workspace.react(user_id=APPROVER, **where)

    outcome = workspace.react(user_id=APPROVER, **where)

    assert (outcome.ok, outcome.result) == (False, "already_reacted")
    assert "already reacted" in outcome.message


def test_the_requesters_own_reaction_decides_nothing(database_url, tmp_path):
    # APPROVER may request too here, and then must not approve her own request.
    with sandbox(database_url, tmp_path, requester_allowlist=f"{REQUESTER},{APPROVER}") as (
        bot,
        workspace,
    ):
        message = _request_posted(bot, workspace, user_id=APPROVER)

        outcome = workspace.react(
            user_id=APPROVER,
            channel_id=APPROVAL_CHANNEL,
            message_ts=message["ts"],
            name="white_check_mark",
        )

        _until(bot.slack, lambda: bot.slack.snapshot(APPROVER)["ephemerals"], "the refusal")
        bot.wait()
        shown = _approval_messages(bot)[-1]
        (refusal,) = bot.slack.snapshot(APPROVER)["ephemerals"]
        assert outcome.result == "delivered"
        assert "can't decide" in refusal["text"]
        assert (shown["edited"], shown["replies"]) == (False, [])
        assert bot.latest_request().status == "pending_approval"


# -- the bot failing -----------------------------------------------------------------------------


def test_a_bot_refusing_the_signature_is_a_bot_error(world):
    bot, _ = world
    impostor = Workspace(bot.slack, bot_url=bot.url, signing_secret="not-the-secret")

    outcome = impostor.run_command(user_id=REQUESTER, channel_id=ORIGIN_CHANNEL)

    assert outcome == Outcome(ok=False, result="bot_error", message="the bot answered HTTP 401")
    assert "not-the-secret" not in repr(outcome)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_bot_is_a_bot_error_in_plain_words():
    with SlackEmulator() as slack:
        bot_url = f"http://127.0.0.1:{_closed_port()}/slack/events"
        workspace = Workspace(slack, bot_url=bot_url, signing_secret="s", timeout_seconds=2)

        outcome = workspace.run_command(user_id=REQUESTER, channel_id=ORIGIN_CHANNEL)

    assert (outcome.ok, outcome.result) == (False, "bot_error")
    assert outcome.message == "could not reach the bot (ConnectError)"


# -- view state as Slack builds it ----------------------------------------------------------------


def test_unknown_input_type_is_refused_before_anything_is_sent():
    with SlackEmulator(bot_token=BOT_TOKEN) as slack:
        view = {
            "type": "modal",
            "callback_id": "x",
            "blocks": [
                {
                    "type": "input",
                    "block_id": "who",
                    "label": {"type": "plain_text", "text": "Who"},
                    "element": {"type": "users_select", "action_id": "who"},
                }
            ],
        }
        client = WebClient(token=BOT_TOKEN, base_url=slack.base_url)
        view_id = client.views_open(trigger_id=slack.issue_trigger(REQUESTER), view=view)["view"][
            "id"
        ]
        workspace = Workspace(slack, bot_url="http://127.0.0.1:9/", signing_secret="s")

        outcome = workspace.submit_view(user_id=REQUESTER, view_id=view_id, inputs={"who": "U1"})

    assert (outcome.ok, outcome.result) == (False, "invalid")
    assert "users_select" in outcome.message


def _input(block_id: str, element: dict) -> dict:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": block_id},
        "element": {"action_id": block_id, **element},
    }


def _options(*values: str) -> list[dict]:
    return [
        {"text": {"type": "plain_text", "text": value.title()}, "value": value} for value in values
    ]


def test_state_values_carry_slacks_shapes_and_full_options():
    view = {
        "blocks": [
            _input("name", {"type": "plain_text_input"}),
            _input("mail", {"type": "email_text_input"}),
            _input("count", {"type": "number_input", "is_decimal_allowed": False}),
            _input("pay", {"type": "static_select", "options": _options("master", "sub")}),
            _input("size", {"type": "radio_buttons", "options": _options("s", "m")}),
            _input("flags", {"type": "checkboxes", "options": _options("a", "b", "c")}),
        ]
    }

    values = state_values(
        view,
        {"name": "", "mail": "a@b.c", "count": 3, "pay": "sub", "size": None, "flags": ["c", "a"]},
    )

    assert values == {
        "name": {"name": {"type": "plain_text_input", "value": None}},
        "mail": {"mail": {"type": "email_text_input", "value": "a@b.c"}},
        "count": {"count": {"type": "number_input", "value": "3"}},
        "pay": {"pay": {"type": "static_select", "selected_option": _options("sub")[0]}},
        "size": {"size": {"type": "radio_buttons", "selected_option": None}},
        "flags": {"flags": {"type": "checkboxes", "selected_options": _options("a", "c")}},
    }


def test_state_values_keep_initial_values_of_untouched_inputs():
    view = {"blocks": [_input("name", {"type": "plain_text_input", "initial_value": "Ada"})]}

    assert state_values(view, {}) == {
        "name": {"name": {"type": "plain_text_input", "value": "Ada"}}
    }


@pytest.mark.parametrize(
    ("inputs", "problem"),
    [
        ({"pay": "nope"}, "not one of the options"),
        ({"ghost": "x"}, "no input block named ghost"),
        ({"pay": ["sub"]}, "takes one option value"),
    ],
)
def test_state_values_refuse_what_slack_could_not_send(inputs, problem):
    view = {"blocks": [_input("pay", {"type": "static_select", "options": _options("sub")})]}

    with pytest.raises(UnsupportedInput, match=problem):
        state_values(view, inputs)


def test_state_values_give_a_file_input_its_uploaded_file_ids():
    view = {"blocks": [_input("upload", {"type": "file_input"})]}

    assert state_values(view, {}) == {"upload": {"upload": {"type": "file_input", "files": []}}}
    assert state_values(view, {"upload": ["F1"]}) == {
        "upload": {"upload": {"type": "file_input", "files": [{"id": "F1"}]}}
    }
    with pytest.raises(UnsupportedInput, match="list of file ids"):
        state_values(view, {"upload": "F1"})

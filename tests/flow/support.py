"""Small readers over what the fakes recorded, shared by the scenario tests in this folder."""

from __future__ import annotations

import json
from typing import Any

from bot.db.models import SubaccountRequest
from sandbox.slack_emulator import SlackCall
from tests.harness import APPROVER, BotHarness


def approve(bot: BotHarness, request: SubaccountRequest, approver: str = APPROVER) -> Any:
    """React with the approve emoji as `approver`, wait for the work, return the stored row."""
    response = bot.react(approver, request)
    assert response.status_code == 200, response.text
    bot.wait()
    return bot.request(request.id)


def posts(bot: BotHarness, channel: str) -> list[SlackCall]:
    """Top-level chat.postMessage calls to `channel` (thread replies excluded)."""
    return [
        call
        for call in bot.slack.calls_to("chat.postMessage")
        if call.params.get("channel") == channel and not call.params.get("thread_ts")
    ]


def post_texts(bot: BotHarness, channel: str) -> list[str]:
    return [str(call.params.get("text", "")) for call in posts(bot, channel)]


def thread_replies(bot: BotHarness, request: SubaccountRequest) -> list[str]:
    assert request.approval_ts, "the request was never posted for approval"
    return [
        str(call.params.get("text", ""))
        for call in bot.slack.calls_to("chat.postMessage")
        if call.params.get("thread_ts") == request.approval_ts
    ]


def dms(bot: BotHarness, user_id: str) -> list[str]:
    """Texts the bot sent in its DM with `user_id` (SlackEmulator names that channel D<user>)."""
    return post_texts(bot, f"D{user_id}")


def ephemerals(bot: BotHarness, user_id: str) -> list[str]:
    return [
        str(call.params.get("text", ""))
        for call in bot.slack.calls_to("chat.postEphemeral")
        if call.params.get("user") == user_id
    ]


def updates_of(bot: BotHarness, request: SubaccountRequest) -> list[SlackCall]:
    return [
        call
        for call in bot.slack.calls_to("chat.update")
        if (call.params.get("channel"), call.params.get("ts"))
        == (request.approval_channel_id, request.approval_ts)
    ]


def block_types(message: dict[str, Any]) -> list[str]:
    return [str(block.get("type")) for block in message.get("blocks", [])]


def message_text(message: dict[str, Any]) -> str:
    """The fallback text and every block's text, as one string to search."""
    return message.get("text", "") + "\n" + json.dumps(message.get("blocks", []))


def calls_after_startup(bot: BotHarness) -> list[SlackCall]:
    """Every Slack call except the auth.test calls the bot makes while starting."""
    return [call for call in bot.slack.calls if call.method != "auth.test"]


def json_body(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.text)
    return body

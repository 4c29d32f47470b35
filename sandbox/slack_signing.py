"""Requests as Slack sends them to the bot: payload builders shaped like Slack's, the v0 request
signature, and `SlackSender`, which posts signed requests to the bot's `/slack/events`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
TEAM_ID = "T0001"
APP_ID = "A0001"
BOT_ID = "B0001"
# Slack still sends the deprecated verification token in every payload; Bolt ignores it.
VERIFICATION_TOKEN = "legacy-verification-token"  # noqa: S105 - a documented dummy
# Nothing listens on the discard port: a test that wants response_url posts passes its own.
UNREACHABLE_RESPONSE_URL = "http://127.0.0.1:9/response/unset"

_sequence = itertools.count(1)

Body = tuple[bytes, str]


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_sequence):06d}"


def sign(
    body: bytes, *, secret: str, timestamp: int | None = None, content_type: str | None = None
) -> dict[str, str]:
    """Headers Slack adds: `v0=` + hex HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


# -- view state values, shaped as in `view.state.values` -----------------------------------


def plain_text_value(value: str | None) -> dict[str, Any]:
    """An empty plain text input arrives as `"value": null`."""
    return {"type": "plain_text_input", "value": value}


def email_value(value: str | None) -> dict[str, Any]:
    return {"type": "email_text_input", "value": value}


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}


def static_select_value(value: str | None) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": None if value is None else _option(value)}


def checkboxes_value(values: list[str]) -> dict[str, Any]:
    return {"type": "checkboxes", "selected_options": [_option(value) for value in values]}


# -- payload builders ------------------------------------------------------------------------


def _user(user_id: str, name: str | None = None) -> dict[str, Any]:
    username = name or user_id.lower()
    return {"id": user_id, "username": username, "name": username, "team_id": TEAM_ID}


def _payload_form(payload: dict[str, Any]) -> Body:
    return urlencode({"payload": json.dumps(payload)}).encode(), FORM


def slash_command_body(
    *,
    user_id: str,
    channel_id: str = "C0REQ",
    text: str = "",
    command: str = "/zoom-subaccount",
    trigger_id: str | None = None,
    response_url: str = UNREACHABLE_RESPONSE_URL,
    team_id: str = TEAM_ID,
    user_name: str | None = None,
    channel_name: str = "requests",
) -> Body:
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _unique("trig-"),
    }
    return urlencode(fields).encode(), FORM


def view_submission_body(
    *,
    user_id: str,
    values: dict[str, dict[str, dict[str, Any]]],
    callback_id: str = "create_sub_account",
    private_metadata: str = "",
    view_id: str = "V1",
    opened: dict[str, Any] | None = None,
    trigger_id: str | None = None,
    user_name: str | None = None,
) -> Body:
    """`values` is `{block_id: {action_id: element_state}}`, as in `view.state.values`.

    `opened` is a view the emulator tracks (SlackEmulator.open_view): the payload then carries
    that view as the bot sent it, with its id, hash and stack ids."""
    if opened is None:
        opened = {
            "id": view_id,
            "view": {
                "type": "modal",
                "blocks": [],
                "private_metadata": private_metadata,
                "callback_id": callback_id,
                "title": {"type": "plain_text", "text": "Zoom sub account"},
            },
        }
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or _unique("trig-"),
        "view": _view_payload(opened, values),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_form(payload)


def view_closed_body(
    *,
    user_id: str,
    opened: dict[str, Any],
    is_cleared: bool = False,
    user_name: str | None = None,
) -> Body:
    """Sent when a person closes a view whose `notify_on_close` is true."""
    payload = {
        "type": "view_closed",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": _view_payload(opened, {}),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_form(payload)


def _view_payload(opened: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A view as Slack puts it in a payload: what the bot sent, plus Slack's fields."""
    view_id = str(opened["id"])
    return {
        "id": view_id,
        "team_id": TEAM_ID,
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "hash": f"hash-{view_id}",
        "clear_on_close": False,
        "notify_on_close": False,
        "previous_view_id": opened.get("previous_view_id"),
        "root_view_id": opened.get("root_view_id") or view_id,
        "app_id": APP_ID,
        "external_id": "",
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
        **opened["view"],
        **({"hash": opened["hash"]} if opened.get("hash") else {}),
        "state": {"values": values},
    }


def block_actions_body(
    *,
    user_id: str,
    action_id: str,
    value: str,
    channel_id: str,
    message_ts: str,
    response_url: str = UNREACHABLE_RESPONSE_URL,
    block_id: str = "decision",
    message: dict[str, Any] | None = None,
    element: dict[str, Any] | None = None,
    trigger_id: str | None = None,
    user_name: str | None = None,
    channel_name: str = "approvals",
) -> Body:
    """A button click on a message; `message` defaults to a bare bot message at `message_ts`,
    `element` (the button as on the message: text, style...) to a plain button."""
    action = {
        "type": "button",
        "text": {"type": "plain_text", "text": action_id, "emoji": True},
        **(element or {}),
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "action_ts": f"{time.time():.6f}",
    }
    shown = {"type": "message", "user": "UBOT", "bot_id": BOT_ID, "text": "", "blocks": []}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or _unique("trig-"),
        "team": {"id": TEAM_ID, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "message": {**shown, **(message or {}), "ts": message_ts},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    return _payload_form(payload)


def view_block_actions_body(
    *,
    user_id: str,
    action_id: str,
    value: str,
    opened: dict[str, Any],
    block_id: str,
    element: dict[str, Any] | None = None,
    trigger_id: str | None = None,
    user_name: str | None = None,
) -> Body:
    """A button click in a view (the App Home, or a modal): `container` names the view, and
    there is no channel, message or response_url. `opened` is `{"id", "view", "hash"}`."""
    action = {
        "type": "button",
        "text": {"type": "plain_text", "text": action_id, "emoji": True},
        **(element or {}),
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "action_ts": f"{time.time():.6f}",
    }
    view_id = str(opened["id"])
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": trigger_id or _unique("trig-"),
        "team": {"id": TEAM_ID, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": _view_payload(opened, {}),
        "actions": [action],
    }
    return _payload_form(payload)


def app_home_opened_body(
    *,
    user_id: str,
    tab: str = "home",
    view: dict[str, Any] | None = None,
    event_id: str | None = None,
    bot_user_id: str = "UBOT",
) -> Body:
    """A person opened the app's Home (or Messages) tab; `view` is the Home last published to
    them, which Slack includes once there is one."""
    event_time = int(time.time())
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": f"D{user_id}",
        "tab": tab,
        "event_ts": f"{event_time}.000200",
    }
    if view is not None:
        event["view"] = _view_payload(view, {})
    return _event_envelope(event, event_id=event_id, bot_user_id=bot_user_id)


def _event_envelope(
    event: dict[str, Any], *, event_id: str | None, bot_user_id: str, event_time: int | None = None
) -> Body:
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or _unique("Ev"),
        "event_time": event_time or int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(envelope).encode(), JSON


def reaction_added_body(
    *,
    user_id: str,
    reaction: str,
    channel_id: str,
    message_ts: str,
    item_user: str = "UBOT",
    event_id: str | None = None,
    event_ts: str | None = None,
    bot_user_id: str = "UBOT",
) -> Body:
    event_time = int(time.time())
    event = {
        "type": "reaction_added",
        "user": user_id,
        "reaction": reaction,
        "item_user": item_user,
        "item": {"type": "message", "channel": channel_id, "ts": message_ts},
        "event_ts": event_ts or f"{event_time}.000100",
    }
    return _event_envelope(event, event_id=event_id, bot_user_id=bot_user_id, event_time=event_time)


class SlackSender:
    """Posts signed requests to the bot the way Slack does (one short-lived connection each)."""

    def __init__(self, bot_url: str, secret: str, *, timeout_seconds: float = 10.0) -> None:
        self.bot_url = bot_url
        self._secret = secret
        self._timeout_seconds = timeout_seconds

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        headers_override: dict[str, str | None] | None = None,
        timestamp: int | None = None,
        retry_num: int | None = None,
    ) -> httpx.Response:
        """`headers_override` replaces headers; a `None` value removes that header."""
        headers: dict[str, str | None] = {
            **sign(body, secret=self._secret, timestamp=timestamp, content_type=content_type)
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        headers.update(headers_override or {})
        sent = {name: value for name, value in headers.items() if value is not None}
        return httpx.post(self.bot_url, content=body, headers=sent, timeout=self._timeout_seconds)

    def slash(self, *, timestamp: int | None = None, **fields: Any) -> httpx.Response:
        return self.post(*slash_command_body(**fields), timestamp=timestamp)

    def submit_view(self, *, timestamp: int | None = None, **fields: Any) -> httpx.Response:
        return self.post(*view_submission_body(**fields), timestamp=timestamp)

    def click(self, *, timestamp: int | None = None, **fields: Any) -> httpx.Response:
        return self.post(*block_actions_body(**fields), timestamp=timestamp)

    def click_in_view(self, *, timestamp: int | None = None, **fields: Any) -> httpx.Response:
        return self.post(*view_block_actions_body(**fields), timestamp=timestamp)

    def home_opened(self, *, timestamp: int | None = None, **fields: Any) -> httpx.Response:
        return self.post(*app_home_opened_body(**fields), timestamp=timestamp)

    def react(
        self, *, timestamp: int | None = None, retry_num: int | None = None, **fields: Any
    ) -> httpx.Response:
        body, content_type = reaction_added_body(**fields)
        return self.post(body, content_type, timestamp=timestamp, retry_num=retry_num)

"""The Slack client side of the sandbox: turns what a person does (a command, a modal submission,
a click, a reaction) into the signed request Slack would send the bot, then applies the bot's HTTP
reply to the emulator as Slack would. The bot cannot tell it from Slack. Like Slack, it can lose
events: a reaction stored but never delivered, or the next events dropped (drop_next_events).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.slack_emulator import ActionRefused, SlackEmulator
from sandbox.slack_signing import (
    Body,
    SlackSender,
    app_home_opened_body,
    block_actions_body,
    reaction_added_body,
    slash_command_body,
    view_block_actions_body,
    view_closed_body,
    view_submission_body,
)
from sandbox.view_state import UnsupportedInput, state_values

DELIVERED = "delivered"
VIEW_CLOSED = "view_closed"
VIEW_ERRORS = "view_errors"
VIEW_UPDATED = "view_updated"
VIEW_PUSHED = "view_pushed"
BOT_ERROR = "bot_error"
# Beyond the design's results: what Slack's client would not even send.
INVALID = "invalid"
ALREADY_REACTED = "already_reacted"
# Applied in Slack, but the event never reached the bot (react(deliver=False), drop_next_events).
NOT_DELIVERED = "not_delivered"


@dataclass(frozen=True)
class Outcome:
    """What came of one action; `message` is plain words for a person when not ok."""

    ok: bool
    result: str
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""


def _bot_error(message: str) -> Outcome:
    return Outcome(ok=False, result=BOT_ERROR, message=message)


def _invalid(message: str) -> Outcome:
    return Outcome(ok=False, result=INVALID, message=message)


class Workspace:
    def __init__(
        self,
        slack: SlackEmulator,
        *,
        bot_url: str,
        signing_secret: str,
        command: str = "/zoom-subaccount",
        timeout_seconds: float = 10.0,
    ) -> None:
        self.command = command
        self._slack = slack
        self._sender = SlackSender(bot_url, signing_secret, timeout_seconds=timeout_seconds)
        self._drop_lock = threading.Lock()
        self._events_to_drop = 0
        self.dropped_events = 0  # how many events were applied in Slack but never sent

    def drop_next_events(self, n: int = 1) -> None:
        """The next `n` Events API events (reaction_added, app_home_opened) are applied in Slack
        (the reaction is stored) but never sent to the bot, as when Slack gives up delivering
        them; their actions answer Outcome(ok=True, result=NOT_DELIVERED). Commands, clicks and
        modal submissions are not events: they are still sent."""
        with self._drop_lock:
            self._events_to_drop += n

    # -- the slash command ------------------------------------------------------------------

    def run_command(self, *, user_id: str, channel_id: str, text: str = "") -> Outcome:
        """The bot's reply body, if any, shows as Slack shows it (an ephemeral by default)."""
        body = slash_command_body(
            user_id=user_id,
            channel_id=channel_id,
            text=text,
            command=self.command,
            trigger_id=self._slack.issue_trigger(user_id),
            response_url=self._slack.register_response_url(user_id=user_id, channel_id=channel_id),
            user_name=self._slack.user_name(user_id),
            channel_name=self._slack.channel_name(channel_id),
        )
        reply = self._send(body)
        if isinstance(reply, Outcome):
            return reply
        return self._show_command_reply(reply, user_id=user_id, channel_id=channel_id)

    def _show_command_reply(
        self, reply: httpx.Response, *, user_id: str, channel_id: str
    ) -> Outcome:
        text = reply.text.strip()
        if not text:
            return Outcome(ok=True, result=DELIVERED)
        answer = _json_object(text)
        try:
            self._slack.apply_response(
                answer if answer is not None else {"text": text},
                user_id=user_id,
                channel_id=channel_id,
                message_ts=None,
            )
        except ActionRefused as refused:
            return _bot_error(f"the bot's reply to the command was refused ({refused.code})")
        return Outcome(ok=True, result=DELIVERED)

    # -- modals -----------------------------------------------------------------------------

    def submit_view(self, *, user_id: str, view_id: str, inputs: dict[str, Any]) -> Outcome:
        """`inputs` maps block_id to a plain value (see view_state.state_values)."""
        opened = self._slack.open_view(user_id, view_id)
        if opened is None:
            return _invalid(f"{user_id} has no open view {view_id}")
        try:
            values = state_values(opened["view"], inputs)
        except UnsupportedInput as exc:
            return _invalid(str(exc))
        body = view_submission_body(
            user_id=user_id,
            values=values,
            opened=opened,
            trigger_id=self._slack.issue_trigger(user_id),
            user_name=self._slack.user_name(user_id),
        )
        reply = self._send(body)
        if isinstance(reply, Outcome):
            return reply
        return self._apply_view_reply(reply, user_id=user_id, opened=opened)

    def _apply_view_reply(
        self, reply: httpx.Response, *, user_id: str, opened: dict[str, Any]
    ) -> Outcome:
        """Slack's handling of a view_submission's HTTP answer: empty closes the view."""
        text = reply.text.strip()
        answer = _json_object(text) if text else {}
        if answer is None:
            return _bot_error("the bot's answer to the submission was not a JSON object")
        action = answer.get("response_action")
        if action == "errors":
            return self._show_errors(answer.get("errors"), user_id=user_id, opened=opened)
        if action in (None, "clear"):
            if action is None:
                self._slack.close_view(user_id, str(opened["id"]))
            else:
                self._slack.clear_views(user_id)
            return Outcome(ok=True, result=VIEW_CLOSED)
        if action in ("update", "push") and isinstance(answer.get("view"), dict):
            return self._show_view(action, answer["view"], user_id=user_id, opened=opened)
        return _bot_error(f"the bot answered the submission with response_action {action!r}")

    def _show_view(
        self, action: str, view: dict[str, Any], *, user_id: str, opened: dict[str, Any]
    ) -> Outcome:
        if action == "update":
            self._slack.replace_view(user_id, str(opened["id"]), view)
            return Outcome(ok=True, result=VIEW_UPDATED)
        try:
            self._slack.push_view(user_id, view)
        except ActionRefused as refused:
            return _bot_error(f"the bot pushed a view Slack refuses ({refused.code})")
        return Outcome(ok=True, result=VIEW_PUSHED)

    def _show_errors(self, errors: Any, *, user_id: str, opened: dict[str, Any]) -> Outcome:
        if not isinstance(errors, dict) or not all(
            isinstance(text, str) for text in errors.values()
        ):
            return _bot_error("the bot's field errors are not a JSON object of texts")
        inputs = {
            block.get("block_id")
            for block in opened["view"].get("blocks") or []
            if block.get("type") == "input"
        }
        stray = sorted(set(errors) - inputs)
        if stray:
            # Slack then shows only a generic "trouble connecting" error in the modal.
            return _bot_error(f"the bot's errors name blocks the view lacks: {', '.join(stray)}")
        self._slack.set_view_errors(user_id, str(opened["id"]), errors)
        return Outcome(ok=True, result=VIEW_ERRORS, errors=dict(errors))

    def close_view(self, *, user_id: str, view_id: str) -> Outcome:
        """Closes the view; the bot hears of it only when the view asked (notify_on_close)."""
        opened = self._slack.open_view(user_id, view_id)
        if opened is None:
            return _invalid(f"{user_id} has no open view {view_id}")
        self._slack.close_view(user_id, view_id)
        if opened["view"].get("notify_on_close"):
            body = view_closed_body(
                user_id=user_id, opened=opened, user_name=self._slack.user_name(user_id)
            )
            reply = self._send(body)
            if isinstance(reply, Outcome):
                return reply
        return Outcome(ok=True, result=VIEW_CLOSED)

    # -- the App Home -------------------------------------------------------------------------

    def open_home(self, user_id: str) -> Outcome:
        """The person opens the app's Home tab: Slack delivers app_home_opened, with the Home
        last published to them if any; the bot answers by publishing one (views.publish)."""
        body = app_home_opened_body(
            user_id=user_id,
            view=self._slack.home_view(user_id),
            event_id=f"Ev{secrets.token_hex(5).upper()}",
            bot_user_id=self._slack.bot_user_id,
        )
        return self._deliver_event(body)

    def click_in_view(
        self, *, user_id: str, view_id: str, action_id: str, block_id: str, value: str | None = None
    ) -> Outcome:
        """A button in a view the person sees: their Home, or a modal on their stack. As for
        messages, Slack sends the value on the button; `value` only for one that has none."""
        home = self._slack.home_view(user_id)
        opened = home if home is not None and home["id"] == view_id else None
        opened = opened or self._slack.open_view(user_id, view_id)
        if opened is None:
            return _invalid(f"{user_id} sees no view {view_id}")
        element = _element(
            opened["view"].get("blocks") or [], block_id=block_id, action_id=action_id
        )
        if element is None or element.get("type") != "button":
            return _invalid(f"that view has no button {action_id} in block {block_id}")
        body = view_block_actions_body(
            user_id=user_id,
            action_id=action_id,
            value=str(element.get("value") or value or ""),
            opened=opened,
            block_id=block_id,
            element=element,
            trigger_id=self._slack.issue_trigger(user_id),
            user_name=self._slack.user_name(user_id),
        )
        reply = self._send(body)
        return reply if isinstance(reply, Outcome) else Outcome(ok=True, result=DELIVERED)

    # -- messages ---------------------------------------------------------------------------

    def click(
        self,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        block_id: str,
        value: str | None,
    ) -> Outcome:
        """A button on a message. Slack sends the value that is on the button; `value` is
        used only for a button that has none."""
        message = self._slack.slack_message(channel_id, message_ts)
        if message is None:
            return _invalid(f"there is no message {message_ts} in {channel_id}")
        element = _element(message.get("blocks") or [], block_id=block_id, action_id=action_id)
        if element is None or element.get("type") != "button":
            return _invalid(f"that message has no button {action_id} in block {block_id}")
        body = block_actions_body(
            user_id=user_id,
            action_id=action_id,
            value=str(element.get("value") or value or ""),
            channel_id=channel_id,
            message_ts=message_ts,
            response_url=self._slack.register_response_url(
                user_id=user_id, channel_id=channel_id, message_ts=message_ts
            ),
            block_id=block_id,
            message=message,
            element=element,
            trigger_id=self._slack.issue_trigger(user_id),
            user_name=self._slack.user_name(user_id),
            channel_name=self._slack.channel_name(channel_id),
        )
        reply = self._send(body)
        # Slack ignores the body of a block_actions answer.
        return reply if isinstance(reply, Outcome) else Outcome(ok=True, result=DELIVERED)

    def react(
        self, *, user_id: str, channel_id: str, message_ts: str, name: str, deliver: bool = True
    ) -> Outcome:
        """Stores the reaction, then delivers the reaction_added event the bot subscribed to.

        With `deliver` False the reaction is stored (reactions.get shows it) but no event is
        sent, as when Slack never delivers it: Outcome(ok=True, result=NOT_DELIVERED)."""
        name = name.strip().strip(":")
        message = self._slack.slack_message(channel_id, message_ts)
        if message is None or not name:
            return _invalid(f"there is no message {message_ts} in {channel_id} to react to")
        try:
            self._slack.add_reaction(channel_id, message_ts, name, user_id)
        except ActionRefused:
            return Outcome(
                ok=False,
                result=ALREADY_REACTED,
                message=f"You already reacted with :{name}: to that message.",
            )
        body = reaction_added_body(
            user_id=user_id,
            reaction=name,
            channel_id=channel_id,
            message_ts=message_ts,
            item_user=str(message.get("user") or ""),
            event_id=f"Ev{secrets.token_hex(5).upper()}",
            event_ts=f"{time.time():.6f}",
            bot_user_id=self._slack.bot_user_id,
        )
        return self._deliver_event(body, deliver=deliver)

    # -- delivery ---------------------------------------------------------------------------

    def _deliver_event(self, body: Body, *, deliver: bool = True) -> Outcome:
        """Sends an Events API event, unless it is not to be delivered or is one to drop."""
        with self._drop_lock:
            dropped = not deliver or self._events_to_drop > 0
            if deliver and dropped:
                self._events_to_drop -= 1
            self.dropped_events += int(dropped)
        if dropped:
            return Outcome(ok=True, result=NOT_DELIVERED, message="Slack never delivered it.")
        reply = self._send(body)
        return reply if isinstance(reply, Outcome) else Outcome(ok=True, result=DELIVERED)

    def _send(self, body: Body) -> httpx.Response | Outcome:
        """Posts a signed request; a bot that cannot be reached or fails becomes a bot_error."""
        try:
            reply = self._sender.post(*body)
        except httpx.TimeoutException:
            return _bot_error("the bot did not answer in time")
        except httpx.HTTPError as exc:
            return _bot_error(f"could not reach the bot ({type(exc).__name__})")
        if not reply.is_success:
            return _bot_error(f"the bot answered HTTP {reply.status_code}")
        return reply


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        decoded = json.loads(text)
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


def _element(blocks: list[Any], *, block_id: str, action_id: str) -> dict[str, Any] | None:
    """The interactive element on a message: in an actions block or a section's accessory."""
    for block in blocks:
        if not isinstance(block, dict) or block.get("block_id") != block_id:
            continue
        candidates = [*(block.get("elements") or []), block.get("accessory") or {}]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    return None

"""The requests the benchmark sends, built with the tests' Slack payload builders and signed
exactly as Slack signs them; and the presigned request files wrk replays.

The modal submission measured is the one that stores a request: the confirmation step's Submit
(bot/requests/preview.py), its values sealed with the bots' PASSWORD_ENCRYPTION_KEY exactly
as the bot seals them when it answers the form's submit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from bench.identities import (
    APPROVE_REACTION,
    BOT_USER,
    COMMAND,
    ORIGIN_CHANNEL,
    OUTSIDER,
    REQUESTER,
    SIGNING_SECRET,
)
from bot.requests.passwords import PasswordVault
from bot.requests.preview import Draft, seal_draft
from bot.requests.validation import RequestInput
from bot.slack.ids import APPROVE_ACTION, PREVIEW_CALLBACK
from sandbox.slack_signing import (
    block_actions_body,
    reaction_added_body,
    sign,
    slash_command_body,
    view_submission_body,
)

# The bots' PASSWORD_ENCRYPTION_KEY (run.py gives it to them): submissions are sealed with it.
ENCRYPTION_KEY = Fernet.generate_key().decode()


@dataclass(frozen=True)
class Body:
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Message:
    """A request message the bot posted for approval, as reactions and clicks name it."""

    channel_id: str
    ts: str
    request_id: int | None = None  # the request posted there: its buttons' value


def slash_command(index: int) -> Body:
    """`/zoom-subaccount` with no text: ack, then views.open on the web process's pool."""
    del index  # every one is alike; the builder gives each its own trigger_id
    return Body(*slash_command_body(user_id=REQUESTER, channel_id=ORIGIN_CHANNEL, command=COMMAND))


def slash_command_with_trigger(trigger_id: str) -> Body:
    """The same, with a trigger_id to find its views.open by."""
    return Body(
        *slash_command_body(
            user_id=REQUESTER, channel_id=ORIGIN_CHANNEL, command=COMMAND, trigger_id=trigger_id
        )
    )


def submission(email: str) -> Body:
    """A valid request confirmed (its confirmation step's Submit), the password left empty (the
    recommended way): the bot validates, inserts the request (and the outbox rows that post it)
    and acks with its id; the worker posts it. Valid for the confirmation step's 15 minutes."""
    typed = RequestInput(first_name="Bench", last_name="Load", email=email, reason="Benchmark")
    draft = Draft(user_id=REQUESTER, channel_id=ORIGIN_CHANNEL, raw=typed)
    sealed = seal_draft(draft, PasswordVault(ENCRYPTION_KEY.encode()))
    return Body(
        *view_submission_body(
            user_id=REQUESTER, values={}, callback_id=PREVIEW_CALLBACK, private_metadata=sealed
        )
    )


def reaction(*, user_id: str, message: Message, name: str = APPROVE_REACTION) -> Body:
    """A reaction on a message the bot posted: `item_user` is the bot user (the bot drops
    reactions on anyone else's message before any database work)."""
    return Body(
        *reaction_added_body(
            user_id=user_id,
            reaction=name,
            channel_id=message.channel_id,
            message_ts=message.ts,
            item_user=BOT_USER,
            bot_user_id=BOT_USER,
        )
    )


def refused_approval(message: Message) -> Body:
    """An approval reaction by someone not on the approver list on a pending request's message:
    the bot finds the request, refuses and records the refusal before the ack, every time, so it
    can be repeated on the same request message."""
    return reaction(user_id=OUTSIDER, message=message)


def click(*, user_id: str, message: Message, action_id: str = APPROVE_ACTION) -> Body:
    """The Approve button on a request's approval message, as Slack sends the click: value the
    request id, container.message_ts the message's ts, channel the approval channel."""
    if message.request_id is None:
        raise ValueError("a click names its request: the message must carry its request id")
    return Body(
        *block_actions_body(
            user_id=user_id,
            action_id=action_id,
            value=str(message.request_id),
            channel_id=message.channel_id,
            message_ts=message.ts,
        )
    )


def refused_click(message: Message) -> Body:
    """Approve clicked by someone not on the approver list: like `refused_approval`, the bot
    reads the request, refuses and records the refusal before the ack; repeatable."""
    return click(user_id=OUTSIDER, message=message)


def signed_headers(body: Body) -> dict[str, str]:
    return sign(body.content, secret=SIGNING_SECRET, content_type=body.content_type)


def write_presigned(path: Path, make: Callable[[int], Body], count: int) -> Path:
    """One signed request per line for bench/replay.lua: timestamp, signature, type, body (tab
    separated; urlencoded forms and json.dumps output never contain a tab or newline)."""
    lines = []
    for index in range(count):
        body = make(index)
        headers = signed_headers(body)
        text = body.content.decode()
        if "\t" in text or "\n" in text:
            raise ValueError("a presigned body must fit on one line")
        lines.append(
            "\t".join(
                (
                    headers["X-Slack-Request-Timestamp"],
                    headers["X-Slack-Signature"],
                    body.content_type,
                    text,
                )
            )
        )
    path.write_text("\n".join(lines) + "\n")
    return path

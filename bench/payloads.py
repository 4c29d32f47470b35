"""The three requests the benchmark sends, built with the tests' Slack payload builders and signed
exactly as Slack signs them; and the presigned request files wrk replays."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.identities import (
    APPROVE_REACTION,
    COMMAND,
    ORIGIN_CHANNEL,
    OUTSIDER,
    REQUESTER,
    SIGNING_SECRET,
)
from bot.sandbox.slack_signing import (
    reaction_added_body,
    sign,
    slash_command_body,
    view_submission_body,
)
from tests.harness import modal_values


@dataclass(frozen=True)
class Body:
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Message:
    """A request message the bot posted for approval, as reactions name it."""

    channel_id: str
    ts: str


def slash_command(index: int) -> Body:
    """`/zoom-subaccount` with no text: ack, then views.open in the background."""
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
    """A valid modal submission with the password left empty (the recommended way)."""
    values = modal_values(
        first_name="Bench", last_name="Load", email=email, password=None, reason="Benchmark"
    )
    return Body(
        *view_submission_body(
            user_id=REQUESTER,
            values=values,
            private_metadata=json.dumps({"channel_id": ORIGIN_CHANNEL}),
        )
    )


def reaction(*, user_id: str, message: Message, name: str = APPROVE_REACTION) -> Body:
    return Body(
        *reaction_added_body(
            user_id=user_id, reaction=name, channel_id=message.channel_id, message_ts=message.ts
        )
    )


def refused_approval(message: Message) -> Body:
    """An approval reaction by someone not on the approver list: refused and logged, every time,
    so it can be repeated on the same request message."""
    return reaction(user_id=OUTSIDER, message=message)


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

"""What the person is told when a listener failed unexpectedly: the reference id that is also in
the log line (bot/slack/app.py's error handler), said privately where they acted. Run on the
background pool: the ack has already failed, and Slack's answer must not wait on this."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

logger = logging.getLogger(__name__)


def unexpected_error_text(reference: str) -> str:
    return (
        f"Something went wrong in the bot (reference {reference}). Please try again; if it "
        "keeps happening, give this reference to the bot's admins."
    )


def tell_reference(
    reference: str, *, body: dict[str, Any], respond: Any, client: WebClient
) -> None:
    """Through the payload's response_url when it has one (`respond`), else as an ephemeral in
    the channel the person acted in; nothing when the payload names no person or channel."""
    text = unexpected_error_text(reference)
    user_id, channel_id = person_of(body)
    try:
        if respond is not None:
            respond(text=text, response_type="ephemeral", replace_original=False)
        elif user_id and channel_id:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
    except (OSError, SlackClientError) as exc:
        logger.warning("could not tell reference %s (%s)", reference, type(exc).__name__)


def person_of(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(user id, channel id) of a slash command, an interaction or an event payload."""
    event = body.get("event") or {}
    user = body.get("user") or {}
    channel = body.get("channel") or {}
    user_id = body.get("user_id") or user.get("id") or event.get("user")
    channel_id = (
        body.get("channel_id")
        or channel.get("id")
        or (event.get("item") or {}).get("channel")
        or event.get("channel")
    )
    return user_id, channel_id

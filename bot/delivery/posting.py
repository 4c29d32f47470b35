"""Posting a row's message at most once, and every other Slack call of a delivery.

Posts carry Slack message `metadata` naming their row. chat.postMessage has no idempotency key,
so after an attempt that may have reached Slack (a timeout, a lost answer, a 5xx) the next
attempt first looks for that metadata in the channel (or thread) with conversations.history
(conversations.replies) and, when found, returns the message it finds instead of posting again.
A post commits its attempt and takes its queue's next slot (the pacing) before it leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.delivery.slack_errors import classify
from bot.delivery.store import OutboxRow, OutboxStore

logger = logging.getLogger(__name__)

METADATA_TYPE = "zoombot_outbox"
LOOKUP_PAGES = 5  # of 200 messages: a channel busier than that since the row was owed is rare


def call_slack(method: Callable[..., Any], **arguments: Any) -> Any:
    """One Slack call, its None arguments left out; any failure raised as a SlackFailure."""
    try:
        return method(**{key: value for key, value in arguments.items() if value is not None})
    except Exception as exc:  # noqa: BLE001 - classified; an unknown kind re-raises
        raise classify(exc) from None


class Poster:
    def __init__(
        self, *, client: WebClient, store: OutboxStore, post_interval_seconds: float
    ) -> None:
        self.client = client
        self._store = store
        self._post_interval = post_interval_seconds

    def post_once(
        self, row: OutboxRow, *, channel: str, thread_ts: str | None = None, **message: Any
    ) -> str:
        """The ts of the row's message: found when an earlier attempt may have posted it,
        else posted now (the attempt committed first, so a crash mid-call is looked up)."""
        if row.maybe_sent:
            found = self._find_posted(row, channel=channel, thread_ts=thread_ts)
            if found is not None:
                return found
        self._store.mark_sending(row, pace_seconds=self._post_interval)
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                metadata=_metadata(row),
                unfurl_links=False,
                **{key: value for key, value in message.items() if value is not None},
            )
        except Exception as exc:  # noqa: BLE001 - classified; an unknown kind re-raises
            failure = classify(exc)
            failure.posted = True
            raise failure from None
        return str(response["ts"])

    def dm_channel(self, row: OutboxRow) -> str:
        """The row's DM channel, opened (and kept on the row) the first time."""
        if row.channel_id:
            return row.channel_id
        response = call_slack(self.client.conversations_open, users=row.user_id)
        channel = str(response["channel"]["id"])
        self._store.set_channel(row, channel)
        return channel

    def _find_posted(self, row: OutboxRow, *, channel: str, thread_ts: str | None) -> str | None:
        cursor: str | None = None
        for _page in range(LOOKUP_PAGES):
            if thread_ts is not None:
                response = call_slack(
                    self.client.conversations_replies,
                    channel=channel,
                    ts=thread_ts,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            else:
                response = call_slack(
                    self.client.conversations_history,
                    channel=channel,
                    oldest=f"{row.created_at.timestamp() - 60:.6f}",
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            for found in response.get("messages") or []:
                if _is_ours(found, row):
                    logger.info("outbox row %s was posted before: not posting again", row.id)
                    return str(found["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None


def _metadata(row: OutboxRow) -> dict[str, Any]:
    return {
        "event_type": METADATA_TYPE,
        "event_payload": {"outbox_id": row.id, "owed_at": int(row.created_at.timestamp())},
    }


def _is_ours(message: dict[str, Any], row: OutboxRow) -> bool:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_TYPE:
        return False
    payload = metadata.get("event_payload") or {}
    return bool(
        payload.get("outbox_id") == row.id
        and payload.get("owed_at") == int(row.created_at.timestamp())
    )

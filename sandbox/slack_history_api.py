"""The Slack Web API methods that read a workspace back: conversations.history,
conversations.replies and reactions.get, answered as Slack does (newest-first history, a
thread's parent then its replies, cursor pagination, message metadata only on request).
Called with the emulator's lock held.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.slack_state import Record, WorkspaceState

DEFAULT_LIMIT = 100
MAX_LIMIT = 999
CURSOR_PREFIX = "next_ts:"  # Slack's cursors are base64 of "next_ts:<ts>" too

Params = dict[str, Any]
ApiAnswer = dict[str, Any]


class _Refused(ValueError):
    """A parameter Slack would refuse; the message is Slack's error code."""


def _error(code: str) -> ApiAnswer:
    return {"ok": False, "error": code}


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}


def ts_key(ts: str) -> Decimal:
    """A message timestamp as a number that orders exactly (floats would round)."""
    try:
        return Decimal(ts)
    except InvalidOperation as exc:
        raise _Refused("invalid_ts") from exc


def encode_cursor(ts: str) -> str:
    return base64.b64encode(f"{CURSOR_PREFIX}{ts}".encode()).decode()


def _decode_cursor(cursor: str) -> Decimal | None:
    if not cursor:
        return None
    try:
        decoded = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _Refused("invalid_cursor") from exc
    if not decoded.startswith(CURSOR_PREFIX):
        raise _Refused("invalid_cursor")
    try:
        return Decimal(decoded.removeprefix(CURSOR_PREFIX))
    except InvalidOperation as exc:
        raise _Refused("invalid_cursor") from exc


def _limit(params: Params) -> int:
    raw = params.get("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    try:
        limit = int(str(raw))
    except ValueError as exc:
        raise _Refused("invalid_limit") from exc
    return DEFAULT_LIMIT if limit <= 0 else min(limit, MAX_LIMIT)


@dataclass(frozen=True)
class _Window:
    """`oldest` / `latest` / `inclusive` as Slack reads them: bounds excluded unless inclusive."""

    oldest: Decimal | None
    latest: Decimal | None
    inclusive: bool

    @classmethod
    def of(cls, params: Params) -> _Window:
        bounds: list[Decimal | None] = []
        for key in ("oldest", "latest"):
            raw = str(params.get(key) or "")
            try:
                bounds.append(Decimal(raw) if raw else None)
            except InvalidOperation as exc:
                raise _Refused(f"invalid_ts_{key}") from exc
        return cls(bounds[0], bounds[1], _truthy(params.get("inclusive")))

    def holds(self, ts: str) -> bool:
        key = ts_key(ts)
        if self.inclusive:
            return (self.oldest is None or key >= self.oldest) and (
                self.latest is None or key <= self.latest
            )
        return (self.oldest is None or key > self.oldest) and (
            self.latest is None or key < self.latest
        )


class HistoryApi:
    def __init__(self, *, state: WorkspaceState) -> None:
        self._state = state

    def methods(self) -> dict[str, Callable[[Params], ApiAnswer]]:
        return {
            "conversations.history": self._refusing(self._history),
            "conversations.replies": self._refusing(self._replies),
            "reactions.get": self._refusing(self._reactions_get),
        }

    @staticmethod
    def _refusing(
        method: Callable[[Params], ApiAnswer],
    ) -> Callable[[Params], ApiAnswer]:
        def answer(params: Params) -> ApiAnswer:
            try:
                return method(params)
            except _Refused as refused:
                return _error(str(refused))

        return answer

    # -- the methods ----------------------------------------------------------------------

    def _history(self, params: Params) -> ApiAnswer:
        """The channel's top-level messages and broadcast replies, newest first."""
        channel = str(params.get("channel") or "")
        if not self._known(channel):
            return _error("channel_not_found")
        window, limit, start = (
            _Window.of(params),
            _limit(params),
            _decode_cursor(str(params.get("cursor") or "")),
        )
        listed = sorted(
            (
                record
                for record in self._in_channel(channel)
                if _shown_in_channel(record) and window.holds(record["ts"])
            ),
            key=lambda record: ts_key(record["ts"]),
            reverse=True,
        )
        if start is not None:
            listed = [record for record in listed if ts_key(record["ts"]) <= start]
        return self._page(
            channel, listed, limit, metadata=_truthy(params.get("include_all_metadata"))
        )

    def _replies(self, params: Params) -> ApiAnswer:
        """A thread: its parent first, then its replies oldest first."""
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        if not self._known(channel):
            return _error("channel_not_found")
        found = self._state.messages.get((channel, ts))
        root = (found["thread_ts"] or found["ts"]) if found is not None else ts
        parent = self._state.messages.get((channel, root))
        if parent is None:
            return _error("thread_not_found")
        window, limit, start = (
            _Window.of(params),
            _limit(params),
            _decode_cursor(str(params.get("cursor") or "")),
        )
        listed = [
            parent,
            *(reply for reply in self._thread(channel, root) if window.holds(reply["ts"])),
        ]
        if start is not None:
            listed = [record for record in listed if ts_key(record["ts"]) >= start]
        return self._page(
            channel, listed, limit, metadata=_truthy(params.get("include_all_metadata"))
        )

    def _reactions_get(self, params: Params) -> ApiAnswer:
        channel, ts = str(params.get("channel") or ""), str(params.get("timestamp") or "")
        if not channel:
            return _error("channel_not_found")
        shown = self._state.slack_message(channel, ts)
        if shown is None:
            return _error("message_not_found")
        return {"type": "message", "channel": channel, "message": shown}

    # -- helpers --------------------------------------------------------------------------

    def _page(self, channel: str, listed: list[Record], limit: int, *, metadata: bool) -> ApiAnswer:
        page, rest = listed[:limit], listed[limit:]
        answer: ApiAnswer = {
            "messages": [self._message(channel, record, metadata=metadata) for record in page],
            "has_more": bool(rest),
        }
        if rest:
            answer["response_metadata"] = {"next_cursor": encode_cursor(rest[0]["ts"])}
        return answer

    def _message(self, channel: str, record: Record, *, metadata: bool) -> Record:
        """As Slack lists it: slack_message()'s shape plus thread counts and the metadata."""
        shown = self._state.slack_message(channel, record["ts"]) or {}
        root = record["thread_ts"]
        if root == record["ts"]:
            replies = self._thread(channel, root)
            if replies:
                shown["reply_count"] = len(replies)
                shown["reply_users"] = list(dict.fromkeys(reply["user"] for reply in replies))
                shown["reply_users_count"] = len(shown["reply_users"])
                shown["latest_reply"] = replies[-1]["ts"]
        elif root:
            parent = self._state.messages.get((channel, root))
            if parent is not None:
                shown["parent_user_id"] = parent["user"]
            if record["broadcast"]:
                shown["subtype"] = "thread_broadcast"
        if metadata and record.get("metadata"):
            shown["metadata"] = copy.deepcopy(record["metadata"])
        return shown

    def _thread(self, channel: str, root: str) -> list[Record]:
        """A thread's replies (not its parent), oldest first."""
        replies = [
            record
            for record in self._in_channel(channel)
            if record["thread_ts"] == root and record["ts"] != root
        ]
        return sorted(replies, key=lambda record: ts_key(record["ts"]))

    def _in_channel(self, channel: str) -> list[Record]:
        return [record for (where, _), record in self._state.messages.items() if where == channel]

    def _known(self, channel: str) -> bool:
        """A public channel, any channel with messages, or a DM: conversations.open opens one
        with anybody, and it and chat.postMessage to a user ID answer its ID, D + the user ID."""
        if channel in self._state.channels or channel.startswith("D"):
            return True
        return bool(channel) and any(where == channel for where, _ in self._state.messages)


def _shown_in_channel(record: Record) -> bool:
    """Top-level messages, thread parents and replies also sent to the channel."""
    thread_ts = record["thread_ts"]
    return not thread_ts or thread_ts == record["ts"] or bool(record["broadcast"])

"""The Slack workspace the emulator holds: people, channels, messages with threads, reactions and
edits, ephemerals, files and counters, saved atomically to a JSON file so a restart keeps them.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sandbox.slack_files import FileStore

STATE_FORMAT = 1
TEAM_ID = "T0001"
BOT_ID = "B0001"
FIRST_TS_MICROSECONDS = 1_700_000_000_000_000
# Slack keeps ephemerals only until a reload; a cap keeps a long sandbox session's file small.
MAX_EPHEMERALS = 500

Record = dict[str, Any]


class SlackStateError(ValueError):
    """The state file cannot be read as emulator state."""


class ActionRefused(Exception):
    """A workspace action Slack would refuse; `code` is Slack's error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class WorkspaceState:
    """Plain data plus the operations on it; the emulator serializes access with its lock."""

    def __init__(self, *, clock_ts: bool = False) -> None:
        self.clock_ts = clock_ts
        self.users: dict[str, Record] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.channels: dict[str, str] = {}  # id → name, public channels in the order added
        # Channels the bot is not a member of (it is in every other one); not saved: a sandbox
        # restart puts the bot back in every channel.
        self.bot_outside: set[str] = set()
        self.messages: dict[tuple[str, str], Record] = {}  # (channel, ts) → record, oldest first
        self.ephemerals: list[Record] = []
        self.files = FileStore()
        self.last_ts_us = FIRST_TS_MICROSECONDS
        self.next_id = 1
        self.version = 0

    # -- counters --------------------------------------------------------------------------

    def new_ts(self) -> str:
        """A message timestamp: a fixed sequence for tests, or the clock; always increasing."""
        step = self.last_ts_us + (1 if self.clock_ts else 100)
        self.last_ts_us = max(time.time_ns() // 1000, step) if self.clock_ts else step
        return f"{self.last_ts_us // 1_000_000}.{self.last_ts_us % 1_000_000:06d}"

    def new_number(self) -> int:
        number = self.next_id
        self.next_id += 1
        return number

    # -- people and channels ----------------------------------------------------------------

    def put_user(self, user_id: str, *, email: str | None, name: str | None) -> None:
        display_name = name or user_id.lower()
        profile: Record = {"real_name": display_name, "display_name": display_name}
        if email is not None:
            profile["email"] = email
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": display_name,
            "real_name": display_name,
            "deleted": False,
            "is_bot": False,
            "profile": profile,
        }

    def user_by_email(self, email: str) -> Record | None:
        wanted = email.lower()
        return next(
            (user for user in self.users.values() if _email_of(user).lower() == wanted), None
        )

    # -- messages ---------------------------------------------------------------------------

    def post(
        self,
        channel: str,
        *,
        user: str,
        text: str,
        blocks: list[Any],
        bot_id: str | None = None,
        thread_ts: str | None = None,
        broadcast: bool = False,
        files: list[str] | None = None,
        metadata: Record | None = None,
    ) -> Record:
        ts = self.new_ts()
        parent = self.messages.get((channel, thread_ts)) if thread_ts else None
        if parent is not None:
            # A reply to a reply joins the parent's thread, as in Slack.
            thread_ts = parent["thread_ts"] or parent["ts"]
            self.messages[(channel, thread_ts)]["thread_ts"] = thread_ts
        record: Record = {
            "channel": channel,
            "ts": ts,
            "user": user,
            "bot_id": bot_id,
            "text": text,
            "blocks": blocks,
            "edited": False,
            "thread_ts": thread_ts,
            "broadcast": bool(thread_ts) and broadcast,
            "reactions": [],
        }
        if files:
            record["files"] = list(files)  # ids; only a file share carries the key
        if metadata is not None:
            record["metadata"] = copy.deepcopy(metadata)  # only a message posted with it has it
        self.messages[(channel, ts)] = record
        return record

    def update(self, channel: str, ts: str, *, changes: Record, edited: bool = True) -> Record:
        record = self._message(channel, ts)
        # Like Slack, fields left out of the update keep their previous value.
        for key in ("text", "blocks"):
            if key in changes:
                record[key] = changes[key]
        record["edited"] = record["edited"] or edited
        return record

    def delete(self, channel: str, ts: str) -> None:
        self._message(channel, ts)
        del self.messages[(channel, ts)]

    def react(self, channel: str, ts: str, *, name: str, user: str) -> None:
        reactions: list[Record] = self._message(channel, ts)["reactions"]
        found = next((reaction for reaction in reactions if reaction["name"] == name), None)
        if found is None:
            reactions.append({"name": name, "users": [user]})
        elif user in found["users"]:
            raise ActionRefused("already_reacted")
        else:
            found["users"].append(user)

    def add_ephemeral(self, channel: str, *, user: str, text: str, blocks: list[Any]) -> str:
        ts = self.new_ts()
        entry = {"channel": channel, "user": user, "ts": ts, "text": text, "blocks": blocks}
        self.ephemerals = [*self.ephemerals, entry][-MAX_EPHEMERALS:]
        return ts

    def _message(self, channel: str, ts: str) -> Record:
        record = self.messages.get((channel, ts))
        if record is None:
            raise ActionRefused("message_not_found")
        return record

    # -- views of the data ------------------------------------------------------------------

    def slack_message(self, channel: str, ts: str) -> Record | None:
        """The message as Slack puts it in payloads (`message` of a block_actions)."""
        record = self.messages.get((channel, ts))
        if record is None:
            return None
        shown: Record = {
            "type": "message",
            "user": record["user"],
            "text": record["text"],
            "blocks": copy.deepcopy(record["blocks"]),
            "ts": record["ts"],
            "team": TEAM_ID,
        }
        if record["bot_id"]:
            shown["bot_id"] = record["bot_id"]
        if record["thread_ts"]:
            shown["thread_ts"] = record["thread_ts"]
        if record["edited"]:
            shown["edited"] = {"user": record["user"], "ts": record["ts"]}
        if record["reactions"]:
            shown["reactions"] = _reactions(record)
        if record.get("files"):
            shown["files"] = [self.files.slack_file(file_id) for file_id in record["files"]]
        return shown

    def channel_messages(self, channel: str, *, metadata: bool = False) -> list[Record]:
        """Top-level messages (broadcast replies too), each with its replies, oldest first;
        with `metadata`, each (replies too) has its `metadata` (None when posted without)."""
        replies: dict[str, list[Record]] = {}
        top: list[Record] = []
        for record in self._in_channel(channel):
            thread_ts = record["thread_ts"]
            if thread_ts and thread_ts != record["ts"]:
                replies.setdefault(thread_ts, []).append(self._shown(record, [], metadata))
            if not thread_ts or thread_ts == record["ts"] or record["broadcast"]:
                top.append(record)
        return [self._shown(record, replies.get(record["ts"], []), metadata) for record in top]

    def messages_with_metadata(self, event_type: str) -> list[Record]:
        """Every message (thread replies too, any channel) whose metadata has `event_type`,
        oldest first: channel, ts, thread_ts, text and metadata."""
        return [
            {
                "channel": record["channel"],
                "ts": record["ts"],
                "thread_ts": record["thread_ts"],
                "text": record["text"],
                "metadata": copy.deepcopy(record["metadata"]),
            }
            for record in self.messages.values()
            if (record.get("metadata") or {}).get("event_type") == event_type
        ]

    def _shown(self, record: Record, replies: list[Record], metadata: bool = False) -> Record:
        shown = _public(record, replies)
        if record.get("files"):
            shown["files"] = [self.files.summary(file_id) for file_id in record["files"]]
        if metadata:
            shown["metadata"] = copy.deepcopy(record.get("metadata"))
        return shown

    def people(self) -> list[Record]:
        return [
            {
                "id": user["id"],
                "name": user["real_name"],
                "email": user["profile"].get("email"),
                "is_bot": bool(user.get("is_bot")),
            }
            for user in self.users.values()
        ]

    def visible_channels(self, viewer: str, *, bot_name: str) -> list[Record]:
        """Public channels in the order added, then the viewer's DM with the bot."""
        listed = [(key, name, "channel") for key, name in self.channels.items()]
        listed.append((f"D{viewer}", bot_name, "im"))
        return [
            {"id": key, "name": name, "kind": kind, "messages": self.channel_messages(key)}
            for key, name, kind in listed
        ]

    def user_ephemerals(self, user: str) -> list[Record]:
        keys = ("channel", "ts", "text", "blocks")
        return [
            {key: copy.deepcopy(entry[key]) for key in keys}
            for entry in self.ephemerals
            if entry["user"] == user
        ]

    def _in_channel(self, channel: str) -> Iterable[Record]:
        return (record for (where, _), record in self.messages.items() if where == channel)

    # -- persistence ------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write atomically: a crash mid-write leaves the previous file, never half of one."""
        data = {
            "format": STATE_FORMAT,
            "users": self.users,
            "usergroups": self.usergroups,
            "channels": [{"id": key, "name": name} for key, name in self.channels.items()],
            "messages": list(self.messages.values()),
            "ephemerals": self.ephemerals,
            "files": self.files.saved(),
            "last_ts_us": self.last_ts_us,
            "next_id": self.next_id,
            "version": self.version,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(data, file)
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != STATE_FORMAT:
                raise SlackStateError(f"unknown format {data.get('format')!r}")
            self.users = dict(data["users"])
            self.usergroups = dict(data["usergroups"])
            self.channels = {item["id"]: item["name"] for item in data["channels"]}
            self.messages = {(item["channel"], item["ts"]): item for item in data["messages"]}
            self.ephemerals = list(data["ephemerals"])
            self.files.load(list(data.get("files", [])))  # absent from files saved before uploads
            self.last_ts_us = int(data["last_ts_us"])
            self.next_id = int(data["next_id"])
            self.version = int(data["version"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            problem = f"{path} is not readable Slack emulator state ({type(exc).__name__}: {exc})"
            raise SlackStateError(f"{problem}; delete it to start afresh") from exc


def _email_of(user: Record) -> str:
    return str(user["profile"].get("email", ""))


def _reactions(record: Record) -> list[Record]:
    return [
        {
            "name": reaction["name"],
            "users": list(reaction["users"]),
            "count": len(reaction["users"]),
        }
        for reaction in record["reactions"]
    ]


def _public(record: Record, replies: list[Record]) -> Record:
    """A message in the snapshot's shape (see the sandbox design)."""
    return {
        "ts": record["ts"],
        "user": record["user"],
        "text": record["text"],
        "blocks": copy.deepcopy(record["blocks"]),
        "edited": record["edited"],
        "thread_ts": record["thread_ts"],
        "broadcast": record["broadcast"],
        "replies": replies,
        "reactions": _reactions(record),
    }

"""Writing what the bot owes Slack: one `slack_outbox` row per message, update, reaction or DM,
added to the caller's own transaction so the change and its notice commit (or vanish) together.

Rows of one queue are delivered in id order, one at a time (see store.py): a channel's posts and
thread replies share the channel's queue, so a reply never overtakes the message it replies to;
a request's message updates share one queue, so they never cross; a person's DMs share theirs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, text
from sqlalchemy.orm import Session

from bot.db.models import SlackOutbox

NOTIFY_CHANNEL = "zoombot_work"  # PostgreSQL LISTEN/NOTIFY: a worker starts within milliseconds
WAKE_FLAG = "zoombot_wake"  # set on a connection whose commit should wake this process's worker
DEFAULT_DEADLINE = timedelta(hours=24)

_OUTBOX = cast(Table, SlackOutbox.__table__)
_INSERT = insert(_OUTBOX)

Db = Session | Connection


class Kind(enum.StrEnum):
    """What a row delivers; the sender renders each kind (rendering.py) at send time."""

    REQUEST_POST = "request_post"  # the approval message, from the request row
    REQUEST_UPDATE = "request_update"  # chat.update of it, from the row's newest state
    REACTION = "reaction"  # reactions.add under the approval message
    THREAD_REPLY = "thread_reply"  # a reply under the approval message
    MESSAGE = "message"  # a message in a channel (the requester's, the ops channel)
    DM = "dm"  # a direct message to a person
    PASSWORD_DM = "password_dm"  # noqa: S105 - a kind; the password is decrypted only to send
    HOME = "home"  # views.publish of a person's App Home
    # A bulk request's own message (payload {"batch_id": N}); its reactions are REACTION rows
    # queued with its updates (batch_reaction below).
    BATCH_POST = "batch_post"  # the batch's approval message, from the batch's rows
    BATCH_UPDATE = "batch_update"  # chat.update of it, from the batch's newest state
    BATCH_REPLY = "batch_reply"  # a reply under it (stored text; top-level if never posted)
    # A file shared in a channel or DM (payload {"file": what, …}; its bytes are made at send
    # time, see files.py), and an ephemeral answer through a slash command's response_url.
    FILE = "file"
    RESPONSE = "response"


POSTING_KINDS = frozenset(
    {
        Kind.REQUEST_POST,
        Kind.THREAD_REPLY,
        Kind.MESSAGE,
        Kind.DM,
        Kind.PASSWORD_DM,
        Kind.BATCH_POST,
        Kind.BATCH_REPLY,
        Kind.FILE,  # a share is a message: paced, and looked up before it is shared again
    }
)


@dataclass(frozen=True)
class Owed:
    """One row to write. `queue` orders it (see the module docstring)."""

    kind: Kind
    queue: str
    request_id: int | None = None
    channel_id: str | None = None
    user_id: str | None = None
    payload: dict[str, Any] | None = None


def owe(db: Db, *owed: Owed, deadline: timedelta = DEFAULT_DEADLINE) -> None:
    """Add `owed` to the transaction of `db`; the worker is woken once that commits."""
    if not owed:
        return
    now = datetime.now(UTC)
    rows = [_values(item, now=now, deadline=deadline) for item in owed]
    db.execute(_INSERT, rows)
    wake_after_commit(db)


def wake_after_commit(db: Db) -> None:
    """Across processes, PostgreSQL's NOTIFY (delivered at commit); in this process, a flag the
    engine's commit hook turns into a wake-up (bot/delivery/wakeup.py)."""
    connection = db.connection() if isinstance(db, Session) else db
    connection.info[WAKE_FLAG] = True
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


def _values(item: Owed, *, now: datetime, deadline: timedelta) -> dict[str, Any]:
    return {
        "kind": item.kind.value,
        "queue": item.queue,
        "status": "pending",
        "request_id": item.request_id,
        "channel_id": item.channel_id,
        "user_id": item.user_id,
        "payload": item.payload,
        "attempts": 0,
        "maybe_sent": False,
        "next_attempt_at": now,
        "deadline_at": now + deadline,
        "created_at": now,
    }


# -- the rows the flows owe ------------------------------------------------------------------


def request_post(request_id: int, *, channel_id: str, requester_id: str) -> Owed:
    return Owed(
        Kind.REQUEST_POST,
        channel_id,
        request_id=request_id,
        channel_id=channel_id,
        user_id=requester_id,  # told if the message can never be posted
    )


def request_update(request_id: int) -> Owed:
    return Owed(Kind.REQUEST_UPDATE, f"update:{request_id}", request_id=request_id)


def reaction(request_id: int, *, channel_id: str, ts: str, name: str) -> Owed:
    payload = {"ts": ts, "name": name}
    return Owed(
        Kind.REACTION,
        f"update:{request_id}",
        request_id=request_id,
        channel_id=channel_id,
        payload=payload,
    )


def thread_reply(request_id: int, *, channel_id: str, text: str, broadcast: bool = False) -> Owed:
    payload: dict[str, Any] = {"text": text, "broadcast": broadcast}
    return Owed(
        Kind.THREAD_REPLY, channel_id, request_id=request_id, channel_id=channel_id, payload=payload
    )


def message(
    channel_id: str,
    *,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    request_id: int | None = None,
) -> Owed:
    payload: dict[str, Any] = {"text": text, "blocks": blocks}
    return Owed(
        Kind.MESSAGE, channel_id, request_id=request_id, channel_id=channel_id, payload=payload
    )


def dm(
    user_id: str,
    *,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    request_id: int | None = None,
) -> Owed:
    payload: dict[str, Any] = {"text": text, "blocks": blocks}
    return Owed(Kind.DM, f"dm:{user_id}", request_id=request_id, user_id=user_id, payload=payload)


def password_dm(request_id: int, *, user_id: str) -> Owed:
    return Owed(Kind.PASSWORD_DM, f"dm:{user_id}", request_id=request_id, user_id=user_id)


def home(user_id: str, *, notice: str | None = None) -> Owed:
    payload = {"notice": notice} if notice else None
    return Owed(Kind.HOME, f"home:{user_id}", user_id=user_id, payload=payload)


# -- a bulk request's own message (bot/slack/notifier.py owes these) -------------------------------


def batch_post(batch_id: int, *, channel_id: str, requester_id: str) -> Owed:
    return Owed(
        Kind.BATCH_POST,
        channel_id,
        channel_id=channel_id,
        user_id=requester_id,  # told whether (and where) it was posted
        payload={"batch_id": batch_id},
    )


def batch_update(batch_id: int) -> Owed:
    return Owed(Kind.BATCH_UPDATE, f"batch-update:{batch_id}", payload={"batch_id": batch_id})


def batch_reaction(batch_id: int, *, channel_id: str, ts: str, name: str) -> Owed:
    """A REACTION row (the sender needs only the channel, ts and name), in the batch's queue."""
    payload = {"ts": ts, "name": name, "batch_id": batch_id}
    return Owed(Kind.REACTION, f"batch-update:{batch_id}", channel_id=channel_id, payload=payload)


def batch_reply(batch_id: int, *, channel_id: str, text: str) -> Owed:
    payload: dict[str, Any] = {"batch_id": batch_id, "text": text}
    return Owed(Kind.BATCH_REPLY, channel_id, channel_id=channel_id, payload=payload)


# -- files and answers to a slash command ---------------------------------------------------


def file_share(
    what: str,
    *,
    queue: str,
    channel_id: str | None = None,
    user_id: str | None = None,
    details: dict[str, Any],
) -> Owed:
    """A file (`what`, made from `details`: see files.py) shared in `channel_id`, or in
    `user_id`'s DM."""
    payload = {"file": what, **details}
    return Owed(Kind.FILE, queue, channel_id=channel_id, user_id=user_id, payload=payload)


def response(response_url: str, *, text: str, user_id: str) -> Owed:
    """An ephemeral answer to a slash command (its response_url works for 30 minutes)."""
    payload = {"response_url": response_url, "text": text}
    return Owed(Kind.RESPONSE, f"response:{user_id}", user_id=user_id, payload=payload)

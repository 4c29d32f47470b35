"""What a delivery attempt's result writes. Delivered: the row settled in the same transaction
that records what the delivery made true (the approval message's ts, the password erased).
Failed for now: retried after a backoff (a 429 pauses the queue's posts) until its deadline.
Failed for good: settled, and what it still owes people is owed (the requester told, the
password erased, OPS_CHANNEL alerted). Deferred: waiting for another row, no attempt used.
Every attempt is recorded as an event of the request it concerns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, update

from bot.db.models import RequestEvent, SlackOutbox, SubaccountRequest
from bot.delivery import batch_delivery, outbox
from bot.delivery.files import Files
from bot.delivery.outbox import POSTING_KINDS, Kind
from bot.delivery.rendering import Renderer
from bot.delivery.slack_errors import SlackFailure, Verdict
from bot.delivery.store import OutboxRow, OutboxStore, backoff_seconds
from bot.errors import BotError
from bot.requests.events import EventKind
from bot.slack.render.blocks import mention

logger = logging.getLogger(__name__)

EVENTS = cast(Table, RequestEvent.__table__)
WAIT_FOR_MESSAGE_SECONDS = 1.0


class Deferred(BotError):
    """This row waits for another (its request's message): due again soon, no attempt used."""


class Settler:
    def __init__(
        self,
        *,
        engine: Engine,
        store: OutboxStore,
        renderer: Renderer,
        files: Files,
        ops_channel: str | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._renderer = renderer
        self._files = files
        self._ops_channel = ops_channel

    def settle(
        self,
        row: OutboxRow,
        *,
        ts: str | None,
        channel_id: str | None = None,
        result: str = "delivered",
        after: Callable[[Connection], None] | None = None,
    ) -> None:
        with self._engine.begin() as connection:
            self._store.delivered(connection, row, ts=ts, channel_id=channel_id)
            record_attempt(connection, row, result=result, attempt=row.attempts + 1)
            if after is not None:
                after(connection)

    def defer(self, row: OutboxRow) -> None:
        self._store.retry(
            row,
            delay_seconds=WAIT_FOR_MESSAGE_SECONDS,
            maybe_sent=row.maybe_sent,
            error="waiting",
            counted=False,
        )

    def failed_attempt(self, row: OutboxRow, failure: SlackFailure) -> None:
        posted = failure.posted
        # After a post that certainly did not act, nothing of this row is in Slack: an earlier
        # ambiguous try was looked up (not found) before this post.
        maybe_sent = failure.verdict is Verdict.AMBIGUOUS if posted else row.maybe_sent
        if failure.verdict is Verdict.PERMANENT:
            self.fail(row, failure)
            return
        delay = backoff_seconds(row.attempts + 1)
        if failure.verdict is Verdict.RATE_LIMITED:
            delay = failure.retry_after_seconds
            if row.kind in POSTING_KINDS:
                self._store.pause_queue(row.queue, delay)
        if datetime.now(UTC) + timedelta(seconds=delay) > row.deadline_at:
            self.fail(row, SlackFailure(Verdict.PERMANENT, f"gave_up:{failure.error}"[:64]))
            return
        with self._engine.begin() as connection:
            record_attempt(
                connection,
                row,
                result=failure.verdict.value,
                error=failure.error,
                attempt=row.attempts + 1,
                retry_in_seconds=round(delay, 3),
            )
        self._store.retry(row, delay_seconds=delay, maybe_sent=maybe_sent, error=failure.error)
        logger.info(
            "Slack delivery of outbox row %s (%s) %s: %s; retrying in %.1fs",
            row.id,
            row.kind,
            failure.verdict.value,
            failure.error,
            delay,
        )

    def fail(self, row: OutboxRow, failure: SlackFailure, *, alert: bool = True) -> None:
        logger.warning(
            "Slack delivery of outbox row %s (%s) failed for good: %s", row.id, row.kind, failure
        )
        with self._engine.begin() as connection:
            self._store.failed(connection, row, error=failure.error)
            record_attempt(
                connection, row, result="failed", error=failure.error, attempt=row.attempts + 1
            )
            self._after_failure(connection, row, failure.error, alert=alert)

    def _after_failure(
        self, connection: Connection, row: OutboxRow, error: str, *, alert: bool
    ) -> None:
        """What a row that will never be delivered still owes people."""
        owed: list[outbox.Owed] = []
        if row.kind == Kind.PASSWORD_DM and row.request_id is not None:
            erase_password(connection, row.request_id, delivered_ts=None, reason=error)
            request = self._renderer.request_row(row.request_id)
            owed.append(_password_lost_notice(request))
        if row.kind == Kind.REQUEST_POST and row.request_id is not None and row.user_id:
            detail = {"channel": row.channel_id, "error": error}
            connection.execute(
                EVENTS.insert().values(
                    request_id=row.request_id, kind=EventKind.POST_FAILED, detail=detail
                )
            )
            owed.append(_not_posted_notice(row))
        if row.kind == Kind.BATCH_POST:
            batch = self._renderer.batch_row(batch_delivery.batch_id_of(row.payload))
            owed += batch_delivery.batch_not_posted(
                connection, batch, channel_id=row.channel_id, error=error
            )
        if row.kind == Kind.FILE:
            owed += self._files.failed(connection, row.payload, error=error)
        if row.kind == Kind.RESPONSE:
            forget_response_url(connection, row)
        if alert and self._ops_channel and row.queue != self._ops_channel:
            owed.append(outbox.message(self._ops_channel, text=_ops_text(row, error)))
        outbox.owe(connection, *owed)


def record_attempt(connection: Connection, row: OutboxRow, *, result: str, **detail: Any) -> None:
    """Every attempt is an event of the request it concerns (request_id NULL otherwise)."""
    connection.execute(
        insert(EVENTS).values(
            request_id=row.request_id,
            kind=EventKind.SLACK_DELIVERY,
            detail={"outbox_id": row.id, "kind": row.kind, "result": result, **detail},
        )
    )


def erase_password(
    connection: Connection, request_id: int, *, delivered_ts: str | None, reason: str = ""
) -> None:
    connection.execute(
        update(SubaccountRequest)
        .where(SubaccountRequest.id == request_id)
        .values(password_ciphertext=None)
    )
    kind, detail = (
        (EventKind.PASSWORD_ERASED, {"dm_ts": delivered_ts})
        if delivered_ts is not None
        else (EventKind.PASSWORD_UNDELIVERABLE, {"error": reason})
    )
    connection.execute(EVENTS.insert().values(request_id=request_id, kind=kind, detail=detail))


def forget_response_url(connection: Connection, row: OutboxRow) -> None:
    """A response_url can post into the person's view: kept no longer than needed."""
    payload = {key: value for key, value in row.payload.items() if key != "response_url"}
    connection.execute(update(SlackOutbox).where(SlackOutbox.id == row.id).values(payload=payload))


def _password_lost_notice(request: SubaccountRequest) -> outbox.Owed:
    text = (
        f"{mention(request.requester_id)}: the generated password of the new Zoom account for "
        f"request #{request.id} could not be sent to you and has been erased. Reset it in Zoom "
        "(Admin > Account Management > Sub Accounts, or the account owner's "
        '"Forgot password" on the Zoom sign-in page).'
    )
    channel = request.approval_channel_id or request.channel_id or ""
    return outbox.thread_reply(request.id, channel_id=channel, text=text)


def _not_posted_notice(row: OutboxRow) -> outbox.Owed:
    text = (
        f":warning: Your request #{row.request_id} is saved, but the bot could not post it for "
        "approval (is the bot in the approval channel?). Ask an admin."
    )
    return outbox.dm(row.user_id or "", text=text, request_id=row.request_id)


def _ops_text(row: OutboxRow, error: str) -> str:
    about = f" of request #{row.request_id}" if row.request_id is not None else ""
    where = f" in <#{row.channel_id}>" if row.channel_id and not row.user_id else ""
    return (
        f":warning: zoombot could not deliver a {row.kind.replace('_', ' ')}{about}{where} to "
        f"Slack: `{error}` (outbox row {row.id}). It will not be retried."
    )

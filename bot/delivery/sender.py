"""One delivery attempt of one claimed outbox row, and what its result writes.

Posts carry Slack message `metadata` naming their row. chat.postMessage has no idempotency key,
so after an attempt that may have reached Slack (a timeout, a lost answer, a 5xx) the next
attempt first looks for that metadata in the channel (or thread) and, when found, records the
message it finds instead of posting again. What a delivery makes true (the approval message's
ts, the password erased) commits in the same transaction that marks the row delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Connection, Engine, select, update

from bot.db.models import RequestStatus, SlackOutbox, SubaccountRequest
from bot.delivery import batch_delivery, outbox
from bot.delivery.file_upload import FileUploads
from bot.delivery.files import Files
from bot.delivery.outbox import POSTING_KINDS, Kind
from bot.delivery.rendering import Renderer
from bot.delivery.slack_errors import SlackFailure, Verdict, classify
from bot.delivery.store import EVENTS, OutboxRow, OutboxStore, backoff_seconds
from bot.errors import BotError
from bot.observability.redaction import forget_secret, register_secret
from bot.requests.events import EventKind
from bot.requests.passwords import PasswordVaultError
from bot.requests.workflow import attach_approval_message
from bot.slack.render import messages
from bot.slack.render.blocks import ApprovalSettings, Rendered, mention

logger = logging.getLogger(__name__)

METADATA_TYPE = "zoombot_outbox"
LOOKUP_PAGES = 5  # of 200 messages: a channel busier than that since the row was owed is rare
WAIT_FOR_MESSAGE_SECONDS = 1.0
# Called once a request's approval message is posted (of one account or a bulk request's), with
# its id, channel and ts: the reactions held for that message are applied then.
OnPosted = Callable[[int, str, str], None]


class Deferred(BotError):
    """This row waits for another (its request's message): due again soon, no attempt used."""


class Sender:
    def __init__(
        self,
        *,
        engine: Engine,
        store: OutboxStore,
        client: WebClient,
        renderer: Renderer,
        approval: ApprovalSettings,
        post_interval_seconds: float,
        ops_channel: str | None = None,
        files: Files,
        uploads: FileUploads,
        on_posted: OnPosted | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._client = client
        self._renderer = renderer
        self._approval = approval
        self._post_interval = post_interval_seconds
        self._ops_channel = ops_channel
        self._files = files
        self._uploads = uploads
        self._on_posted = on_posted or (lambda _request_id, _channel, _ts: None)
        self._handlers: dict[str, Callable[[OutboxRow], None]] = {
            Kind.REQUEST_POST: self._request_post,
            Kind.REQUEST_UPDATE: self._request_update,
            Kind.REACTION: self._reaction,
            Kind.THREAD_REPLY: self._thread_reply,
            Kind.MESSAGE: self._message,
            Kind.DM: self._dm,
            Kind.PASSWORD_DM: self._password_dm,
            Kind.HOME: self._home,
            Kind.BATCH_POST: self._batch_post,
            Kind.BATCH_UPDATE: self._batch_update,
            Kind.BATCH_REPLY: self._batch_reply,
            Kind.FILE: self._file,
            Kind.RESPONSE: self._response,
        }

    def deliver(self, row: OutboxRow) -> None:
        handler = self._handlers.get(row.kind)
        if handler is None:
            self._fail(row, SlackFailure(Verdict.PERMANENT, f"unknown_kind:{row.kind}"[:64]))
            return
        try:
            handler(row)
        except Deferred:
            self._store.retry(
                row,
                delay_seconds=WAIT_FOR_MESSAGE_SECONDS,
                maybe_sent=row.maybe_sent,
                error="waiting",
                counted=False,
            )
        except SlackFailure as failure:
            self._failed_attempt(row, failure)

    # -- the kinds --------------------------------------------------------------------------

    def _request_post(self, row: OutboxRow) -> None:
        assert row.request_id is not None
        assert row.channel_id is not None
        request, rendered = self._renderer.request(row.request_id)
        if request.approval_ts is not None:  # posted by an earlier row (a repair raced it)
            self._settle(row, ts=request.approval_ts, result="already_posted")
            return
        ts = self._post_once(
            row, channel=row.channel_id, text=rendered.text, blocks=rendered.blocks
        )

        def record(connection: Connection) -> None:
            # The ts first: a reaction that arrives from now on finds its request.
            attach_approval_message(
                connection, request_id=request.id, channel_id=row.channel_id or "", ts=ts
            )
            names = (self._approval.approve_reaction, self._approval.reject_reaction)
            owed = [
                outbox.reaction(request.id, channel_id=row.channel_id or "", ts=ts, name=name)
                for name in names
            ]
            if request.status == RequestStatus.PENDING_APPROVAL and row.user_id:
                text = f"Your request #{request.id} was sent for approval in <#{row.channel_id}>."
                owed.append(outbox.dm(row.user_id, text=text, request_id=request.id))
            outbox.owe(connection, *owed)

        self._settle(row, ts=ts, after=record)
        self._on_posted(request.id, row.channel_id, ts)

    def _request_update(self, row: OutboxRow) -> None:
        assert row.request_id is not None
        request, rendered = self._renderer.request(row.request_id)
        if request.approval_ts is None or request.approval_channel_id is None:
            self._wait_for_message(row)
            return
        self._update_in_place(
            row, channel=request.approval_channel_id, ts=request.approval_ts, rendered=rendered
        )

    def _update_in_place(
        self, row: OutboxRow, *, channel: str, ts: str, rendered: Rendered
    ) -> None:
        """chat.update of an approval message (a request's or a batch's); idempotent, so a
        retry after any failure is safe."""
        self._call(
            self._client.chat_update,
            channel=channel,
            ts=ts,
            text=rendered.text,
            blocks=rendered.blocks,
        )
        self._settle(row, ts=ts, channel_id=channel)

    def _reaction(self, row: OutboxRow) -> None:
        try:
            self._call(
                self._client.reactions_add,
                channel=row.channel_id,
                timestamp=row.payload["ts"],
                name=row.payload["name"],
            )
        except SlackFailure as failure:
            if failure.error != "already_reacted":  # a retry of one that landed: done
                raise
        self._settle(row, ts=str(row.payload["ts"]))

    def _thread_reply(self, row: OutboxRow) -> None:
        assert row.request_id is not None
        assert row.channel_id is not None
        request = self._renderer.request_row(row.request_id)
        text = str(row.payload.get("text") or "")
        thread_ts = request.approval_ts
        if thread_ts is None and self._message_may_come(row):
            raise Deferred
        if thread_ts is None:
            # The approval message could not be posted: say it in the channel instead.
            text = f"Request #{request.id}: {text}"
        ts = self._post_once(
            row,
            channel=row.channel_id,
            text=text,
            thread_ts=thread_ts,
            reply_broadcast=bool(row.payload.get("broadcast")) or None,
        )
        self._settle(row, ts=ts)

    def _message(self, row: OutboxRow) -> None:
        assert row.channel_id is not None
        ts = self._post_once(
            row,
            channel=row.channel_id,
            text=str(row.payload.get("text") or ""),
            blocks=row.payload.get("blocks"),
        )
        self._settle(row, ts=ts)

    def _dm(self, row: OutboxRow) -> None:
        channel = self._dm_channel(row)
        ts = self._post_once(
            row,
            channel=channel,
            text=str(row.payload.get("text") or ""),
            blocks=row.payload.get("blocks"),
        )
        self._settle(row, ts=ts, channel_id=channel)

    def _password_dm(self, row: OutboxRow) -> None:
        assert row.request_id is not None
        request = self._renderer.request_row(row.request_id)
        try:
            password = self._renderer.password(request)
        except (PasswordVaultError, LookupError) as exc:
            reason = "undecryptable" if isinstance(exc, PasswordVaultError) else "erased"
            raise SlackFailure(Verdict.PERMANENT, f"password_{reason}") from None
        register_secret(password)  # scrubbed from every log line while it is in memory
        try:
            channel = self._dm_channel(row)
            ts = self._post_once(row, channel=channel, text=messages.password_dm(request, password))
        finally:
            forget_secret(password)

        def erase(connection: Connection) -> None:
            _erase_password(connection, request.id, delivered_ts=ts)

        self._settle(row, ts=ts, channel_id=channel, after=erase)

    def _home(self, row: OutboxRow) -> None:
        assert row.user_id is not None
        view = self._renderer.home_view(row.user_id, row.payload.get("notice"))
        self._call(self._client.views_publish, user_id=row.user_id, view=view)
        self._settle(row, ts=None)

    # -- a bulk request's own message ---------------------------------------------------------

    def _batch_post(self, row: OutboxRow) -> None:
        assert row.channel_id is not None
        batch_id = batch_delivery.batch_id_of(row.payload)
        batch, rendered = self._renderer.batch(batch_id)
        if batch.approval_ts is not None:  # posted by an earlier row
            self._settle(row, ts=batch.approval_ts, result="already_posted")
            return
        ts = self._post_once(
            row, channel=row.channel_id, text=rendered.text, blocks=rendered.blocks
        )

        def record(connection: Connection) -> None:
            # The ts first: a reaction that arrives from now on finds its batch.
            batch_delivery.batch_posted(
                connection,
                batch,
                channel_id=row.channel_id or "",
                ts=ts,
                approval=self._approval,
                requester_id=row.user_id,
            )

        self._settle(row, ts=ts, after=record)
        self._on_posted(batch_id, row.channel_id, ts)

    def _batch_update(self, row: OutboxRow) -> None:
        batch_id = batch_delivery.batch_id_of(row.payload)
        batch, rendered = self._renderer.batch(batch_id)
        if batch.approval_ts is None or batch.approval_channel_id is None:
            if batch_delivery.post_pending(self._engine, batch_id):
                raise Deferred
            self._fail(row, SlackFailure(Verdict.PERMANENT, "no_approval_message"), alert=False)
            return
        self._update_in_place(
            row, channel=batch.approval_channel_id, ts=batch.approval_ts, rendered=rendered
        )

    def _batch_reply(self, row: OutboxRow) -> None:
        assert row.channel_id is not None
        batch_id = batch_delivery.batch_id_of(row.payload)
        batch = self._renderer.batch_row(batch_id)
        text = str(row.payload.get("text") or "")
        thread_ts = batch.approval_ts
        if thread_ts is None and batch_delivery.post_pending(self._engine, batch_id):
            raise Deferred
        if thread_ts is None:
            # The batch's message could not be posted: say it in the channel instead.
            text = f"Bulk request #{batch_id}: {text}"
        ts = self._post_once(row, channel=row.channel_id, text=text, thread_ts=thread_ts)
        self._settle(row, ts=ts)

    def _file(self, row: OutboxRow) -> None:
        file = self._files.render(row.payload)
        if file is None:  # nothing left to send (its passwords were given up meanwhile)
            self._settle(row, ts=None, result="nothing_to_send")
            return
        thread_ts = None
        if file.batch_id is not None:
            thread_ts = self._renderer.batch_row(file.batch_id).approval_ts
            if thread_ts is None and batch_delivery.post_pending(self._engine, file.batch_id):
                raise Deferred
        channel = self._file_channel(row)
        for secret in file.secrets:
            register_secret(secret)  # whatever fails below, no log line may carry one
        try:
            file_id = self._uploads.share_once(row, file, channel=channel, thread_ts=thread_ts)
        finally:
            for secret in file.secrets:
                forget_secret(secret)
        self._settle(
            row,
            ts=None,
            channel_id=channel,
            after=lambda connection: self._files.delivered(
                connection, row.payload, file_id=file_id
            ),
        )

    def _file_channel(self, row: OutboxRow) -> str:
        try:
            return self._dm_channel(row)
        except SlackFailure as failure:
            if failure.verdict is Verdict.PERMANENT:
                raise SlackFailure(Verdict.PERMANENT, "dm_unavailable") from None
            raise

    def _response(self, row: OutboxRow) -> None:
        self._uploads.respond(str(row.payload["response_url"]), str(row.payload["text"]))
        self._settle(row, ts=None, after=lambda connection: _forget_response_url(connection, row))

    # -- posting once -----------------------------------------------------------------------

    def _post_once(
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
            response = self._client.chat_postMessage(
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

    def _find_posted(self, row: OutboxRow, *, channel: str, thread_ts: str | None) -> str | None:
        cursor: str | None = None
        for _page in range(LOOKUP_PAGES):
            if thread_ts is not None:
                response = self._call(
                    self._client.conversations_replies,
                    channel=channel,
                    ts=thread_ts,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            else:
                response = self._call(
                    self._client.conversations_history,
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

    def _dm_channel(self, row: OutboxRow) -> str:
        if row.channel_id:
            return row.channel_id
        response = self._call(self._client.conversations_open, users=row.user_id)
        channel = str(response["channel"]["id"])
        self._store.set_channel(row, channel)
        return channel

    def _call(self, method: Callable[..., Any], **arguments: Any) -> Any:
        try:
            return method(**{key: value for key, value in arguments.items() if value is not None})
        except Exception as exc:  # noqa: BLE001 - classified; an unknown kind re-raises
            raise classify(exc) from None

    def _message_may_come(self, row: OutboxRow) -> bool:
        """Whether the request's approval message is still owed (not failed for good)."""
        return _post_pending(self._engine, row.request_id)

    def _wait_for_message(self, row: OutboxRow) -> None:
        if self._message_may_come(row):
            raise Deferred
        self._fail(row, SlackFailure(Verdict.PERMANENT, "no_approval_message"), alert=False)

    # -- settling ---------------------------------------------------------------------------

    def _settle(
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
            self._store.record_attempt(connection, row, result=result, attempt=row.attempts + 1)
            if after is not None:
                after(connection)

    def _failed_attempt(self, row: OutboxRow, failure: SlackFailure) -> None:
        posted = failure.posted
        # After a post that certainly did not act, nothing of this row is in Slack: an earlier
        # ambiguous try was looked up (not found) before this post.
        maybe_sent = failure.verdict is Verdict.AMBIGUOUS if posted else row.maybe_sent
        if failure.verdict is Verdict.PERMANENT:
            self._fail(row, failure)
            return
        delay = backoff_seconds(row.attempts + 1)
        if failure.verdict is Verdict.RATE_LIMITED:
            delay = failure.retry_after_seconds
            if row.kind in POSTING_KINDS:
                self._store.pause_queue(row.queue, delay)
        if datetime.now(UTC) + timedelta(seconds=delay) > row.deadline_at:
            self._fail(row, SlackFailure(Verdict.PERMANENT, f"gave_up:{failure.error}"[:64]))
            return
        with self._engine.begin() as connection:
            self._store.record_attempt(
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

    def _fail(self, row: OutboxRow, failure: SlackFailure, *, alert: bool = True) -> None:
        logger.warning(
            "Slack delivery of outbox row %s (%s) failed for good: %s", row.id, row.kind, failure
        )
        with self._engine.begin() as connection:
            self._store.failed(connection, row, error=failure.error)
            self._store.record_attempt(
                connection, row, result="failed", error=failure.error, attempt=row.attempts + 1
            )
            self._after_failure(connection, row, failure.error, alert=alert)

    def _after_failure(
        self, connection: Connection, row: OutboxRow, error: str, *, alert: bool
    ) -> None:
        """What a row that will never be delivered still owes people."""
        owed: list[outbox.Owed] = []
        if row.kind == Kind.PASSWORD_DM and row.request_id is not None:
            _erase_password(connection, row.request_id, delivered_ts=None, reason=error)
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
            _forget_response_url(connection, row)
        if alert and self._ops_channel and row.queue != self._ops_channel:
            owed.append(outbox.message(self._ops_channel, text=_ops_text(row, error)))
        outbox.owe(connection, *owed)


def _forget_response_url(connection: Connection, row: OutboxRow) -> None:
    """A response_url can post into the person's view: kept no longer than needed."""
    payload = {key: value for key, value in row.payload.items() if key != "response_url"}
    connection.execute(update(SlackOutbox).where(SlackOutbox.id == row.id).values(payload=payload))


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


def _post_pending(engine: Engine, request_id: int | None) -> bool:
    with engine.connect() as connection:
        found = connection.scalar(
            select(SlackOutbox.id).where(
                SlackOutbox.request_id == request_id,
                SlackOutbox.kind == Kind.REQUEST_POST,
                SlackOutbox.status == "pending",
            )
        )
    return found is not None


def _erase_password(
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

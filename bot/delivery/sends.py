"""How each kind of row about a request of one, a person or a channel is delivered: the
approval message (posted once, then updated in place), its reactions and thread replies, plain
messages and DMs, the password DM, the App Home. Each ends in one settle (settling.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from bot.db.models import RequestStatus, SlackOutbox
from bot.delivery import outbox
from bot.delivery.outbox import Kind
from bot.delivery.posting import Poster, call_slack
from bot.delivery.rendering import Renderer
from bot.delivery.settling import Deferred, Settler, erase_password
from bot.delivery.slack_errors import SlackFailure, Verdict
from bot.delivery.store import OutboxRow
from bot.observability.redaction import forget_secret, register_secret
from bot.requests.passwords import PasswordVaultError
from bot.requests.workflow import attach_approval_message
from bot.slack.render import messages
from bot.slack.render.blocks import ApprovalSettings, Rendered

# Called once a request's approval message is posted (of one account or a bulk request's), with
# its id, channel and ts: the reactions held for that message are applied then.
OnPosted = Callable[[int, str, str], None]


@dataclass(frozen=True)
class SendParts:
    """What every kind's delivery uses: the database, the poster, the settler, the renderer."""

    engine: Engine
    poster: Poster
    settler: Settler
    renderer: Renderer


def update_in_place(
    poster: Poster,
    settler: Settler,
    row: OutboxRow,
    *,
    channel: str,
    ts: str,
    rendered: Rendered,
) -> None:
    """chat.update of an approval message (a request's or a batch's); idempotent, so a
    retry after any failure is safe."""
    call_slack(
        poster.client.chat_update,
        channel=channel,
        ts=ts,
        text=rendered.text,
        blocks=rendered.blocks,
    )
    settler.settle(row, ts=ts, channel_id=channel)


class Sending:
    """What every kind's sends work with: the poster, the settler, the renderer."""

    def __init__(
        self, parts: SendParts, *, approval: ApprovalSettings, on_posted: OnPosted
    ) -> None:
        self._engine = parts.engine
        self._poster = parts.poster
        self._settler = parts.settler
        self._renderer = parts.renderer
        self._approval = approval
        self._on_posted = on_posted


class Sends(Sending):
    def request_post(self, row: OutboxRow) -> None:
        assert row.request_id is not None
        assert row.channel_id is not None
        request, rendered = self._renderer.request(row.request_id)
        if request.approval_ts is not None:  # posted by an earlier row (a repair raced it)
            self._settler.settle(row, ts=request.approval_ts, result="already_posted")
            return
        ts = self._poster.post_once(
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

        self._settler.settle(row, ts=ts, after=record)
        self._on_posted(request.id, row.channel_id, ts)

    def request_update(self, row: OutboxRow) -> None:
        assert row.request_id is not None
        request, rendered = self._renderer.request(row.request_id)
        if request.approval_ts is None or request.approval_channel_id is None:
            self._wait_for_message(row)
            return
        update_in_place(
            self._poster,
            self._settler,
            row,
            channel=request.approval_channel_id,
            ts=request.approval_ts,
            rendered=rendered,
        )

    def reaction(self, row: OutboxRow) -> None:
        try:
            call_slack(
                self._poster.client.reactions_add,
                channel=row.channel_id,
                timestamp=row.payload["ts"],
                name=row.payload["name"],
            )
        except SlackFailure as failure:
            if failure.error != "already_reacted":  # a retry of one that landed: done
                raise
        self._settler.settle(row, ts=str(row.payload["ts"]))

    def thread_reply(self, row: OutboxRow) -> None:
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
        ts = self._poster.post_once(
            row,
            channel=row.channel_id,
            text=text,
            thread_ts=thread_ts,
            reply_broadcast=bool(row.payload.get("broadcast")) or None,
        )
        self._settler.settle(row, ts=ts)

    def message(self, row: OutboxRow) -> None:
        assert row.channel_id is not None
        ts = self._poster.post_once(
            row,
            channel=row.channel_id,
            text=str(row.payload.get("text") or ""),
            blocks=row.payload.get("blocks"),
        )
        self._settler.settle(row, ts=ts)

    def dm(self, row: OutboxRow) -> None:
        channel = self._poster.dm_channel(row)
        ts = self._poster.post_once(
            row,
            channel=channel,
            text=str(row.payload.get("text") or ""),
            blocks=row.payload.get("blocks"),
        )
        self._settler.settle(row, ts=ts, channel_id=channel)

    def password_dm(self, row: OutboxRow) -> None:
        assert row.request_id is not None
        request = self._renderer.request_row(row.request_id)
        try:
            password = self._renderer.password(request)
        except (PasswordVaultError, LookupError) as exc:
            reason = "undecryptable" if isinstance(exc, PasswordVaultError) else "erased"
            raise SlackFailure(Verdict.PERMANENT, f"password_{reason}") from None
        register_secret(password)  # scrubbed from every log line while it is in memory
        try:
            channel = self._poster.dm_channel(row)
            ts = self._poster.post_once(
                row, channel=channel, text=messages.password_dm(request, password)
            )
        finally:
            forget_secret(password)

        def erase(connection: Connection) -> None:
            erase_password(connection, request.id, delivered_ts=ts)

        self._settler.settle(row, ts=ts, channel_id=channel, after=erase)

    def home(self, row: OutboxRow) -> None:
        assert row.user_id is not None
        view = self._renderer.home_view(row.user_id, row.payload.get("notice"))
        call_slack(self._poster.client.views_publish, user_id=row.user_id, view=view)
        self._settler.settle(row, ts=None)

    def _message_may_come(self, row: OutboxRow) -> bool:
        """Whether the request's approval message is still owed (not failed for good)."""
        return _post_pending(self._engine, row.request_id)

    def _wait_for_message(self, row: OutboxRow) -> None:
        if self._message_may_come(row):
            raise Deferred
        self._settler.fail(row, SlackFailure(Verdict.PERMANENT, "no_approval_message"), alert=False)


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

"""How a bulk request's own message is delivered: posted once (then its reactions and the
requester's notice are owed, batch_delivery.py), updated in place, and replied to in its
thread (top-level when it could never be posted)."""

from __future__ import annotations

from sqlalchemy import Connection

from bot.delivery import batch_delivery
from bot.delivery.sends import Sending, update_in_place
from bot.delivery.settling import Deferred
from bot.delivery.slack_errors import SlackFailure, Verdict
from bot.delivery.store import OutboxRow


class BatchSends(Sending):
    def batch_post(self, row: OutboxRow) -> None:
        assert row.channel_id is not None
        batch_id = batch_delivery.batch_id_of(row.payload)
        batch, rendered = self._renderer.batch(batch_id)
        if batch.approval_ts is not None:  # posted by an earlier row
            self._settler.settle(row, ts=batch.approval_ts, result="already_posted")
            return
        ts = self._poster.post_once(
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

        self._settler.settle(row, ts=ts, after=record)
        self._on_posted(batch_id, row.channel_id, ts)

    def batch_update(self, row: OutboxRow) -> None:
        batch_id = batch_delivery.batch_id_of(row.payload)
        batch, rendered = self._renderer.batch(batch_id)
        if batch.approval_ts is None or batch.approval_channel_id is None:
            if batch_delivery.post_pending(self._engine, batch_id):
                raise Deferred
            self._settler.fail(
                row, SlackFailure(Verdict.PERMANENT, "no_approval_message"), alert=False
            )
            return
        update_in_place(
            self._poster,
            self._settler,
            row,
            channel=batch.approval_channel_id,
            ts=batch.approval_ts,
            rendered=rendered,
        )

    def batch_reply(self, row: OutboxRow) -> None:
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
        ts = self._poster.post_once(row, channel=row.channel_id, text=text, thread_ts=thread_ts)
        self._settler.settle(row, ts=ts)

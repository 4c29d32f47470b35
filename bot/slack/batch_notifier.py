"""What a bulk request owes Slack about its own message (the post with its reactions, updates in
place, thread replies): outbox rows (bot/delivery/outbox.py), in the caller's transaction when
given, delivered by the worker, which renders the message from the batch as it then stands.
The rest (DMs, ops alerts) goes through the shared Notifier."""

from __future__ import annotations

from bot.db.models import RequestBatch
from bot.delivery import outbox
from bot.slack.notifier import Notifier


class BatchNotifier:
    def __init__(self, notifier: Notifier, *, approval_channel: str | None) -> None:
        self._notifier = notifier
        self._approval_channel = approval_channel

    def channel_for(self, batch: RequestBatch) -> str | None:
        """Where the batch's message is (or will be) posted."""
        return batch.approval_channel_id or self._approval_channel or batch.channel_id

    def post(self, batch: RequestBatch, *, db: outbox.Db | None = None) -> str | None:
        """Owe the batch's message; the channel it goes to, None when there is none."""
        channel_id = self.channel_for(batch)
        if channel_id:
            owed = outbox.batch_post(
                batch.id, channel_id=channel_id, requester_id=batch.requester_id
            )
            self._notifier.owe(owed, db=db)
        return channel_id

    def refresh(self, batch_id: int, *, db: outbox.Db | None = None) -> None:
        """The message shows the batch as it is when the update is sent (the newest wins)."""
        self._notifier.owe(outbox.batch_update(batch_id), db=db)

    def reply(self, batch: RequestBatch, text: str, *, db: outbox.Db | None = None) -> bool:
        channel_id = self.channel_for(batch)
        if not channel_id:
            return False
        self._notifier.owe(outbox.batch_reply(batch.id, channel_id=channel_id, text=text), db=db)
        return True

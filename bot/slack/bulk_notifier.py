"""The Slack calls of a bulk request's own message (post with its reactions, update in place,
thread replies), each failure logged and contained as in notifier.py; the rest goes through the
shared Notifier."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

from bot.bulk_tracking import BatchSummary
from bot.db.models import RequestBatch
from bot.slack.blocks import ApprovalSettings
from bot.slack.bulk_blocks import batch_message
from bot.slack.notifier import call_slack, post_approval_message

logger = logging.getLogger(__name__)


class BatchNotifier:
    def __init__(self, client: WebClient, *, approval: ApprovalSettings) -> None:
        self._client = client
        self._approval = approval

    def post(self, *, channel_id: str, batch: RequestBatch, summary: BatchSummary) -> str | None:
        rendered = batch_message(batch, summary, settings=self._approval)
        return post_approval_message(
            self._client, self._approval, rendered, channel_id=channel_id, log=logger
        )

    def refresh(self, batch: RequestBatch, summary: BatchSummary) -> bool:
        if not (batch.approval_channel_id and batch.approval_ts):
            return False
        rendered = batch_message(batch, summary, settings=self._approval)
        response = _call(
            "chat.update",
            self._client.chat_update,
            channel=batch.approval_channel_id,
            ts=batch.approval_ts,
            text=rendered.text,
            blocks=rendered.blocks,
        )
        return response is not None

    def reply(self, batch: RequestBatch, text: str) -> bool:
        if not (batch.approval_channel_id and batch.approval_ts):
            return False
        response = _call(
            "chat.postMessage",
            self._client.chat_postMessage,
            channel=batch.approval_channel_id,
            thread_ts=batch.approval_ts,
            text=text,
        )
        return response is not None


def _call(method: str, function: Any, **arguments: Any) -> Any:
    return call_slack(logger, method, function, **arguments)

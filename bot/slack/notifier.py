"""Every message the bot sends to Slack outside an ack, each failure logged and contained.

A failed DM must not stop the thread reply or the message update, so each call stands alone and
reports success as a bool; the error code Slack gave (never the payload) goes to the log.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.views import View
from slack_sdk.webhook import WebhookClient

from bot.db.models import SubaccountRequest
from bot.slack.blocks import ApprovalSettings, Rendered, request_message
from bot.slack.uploads import Upload, upload_file

logger = logging.getLogger(__name__)


class Notifier:
    def __init__(self, client: WebClient, *, approval: ApprovalSettings) -> None:
        self._client = client
        self._approval = approval

    def open_modal(self, *, trigger_id: str, view: View | dict[str, Any]) -> bool:
        """`view` as a View or as its dict (modal.request_form's cached one: no rebuilding)."""
        return self._call("views.open", self._client.views_open, trigger_id=trigger_id, view=view)

    def update_view(self, *, view_id: str, view: View, view_hash: str | None = None) -> bool:
        """Replace an open view; with `view_hash`, only if nobody changed it meanwhile."""
        return self._call(
            "views.update", self._client.views_update, view_id=view_id, hash=view_hash, view=view
        )

    def post_request(
        self, *, channel_id: str, row: SubaccountRequest, approvers: list[str]
    ) -> str | None:
        rendered = request_message(row, approvers=approvers, settings=self._approval)
        return post_approval_message(
            self._client, self._approval, rendered, channel_id=channel_id, log=logger
        )

    def refresh_request(
        self, row: SubaccountRequest, *, approvers: list[str], outcome: str | None = None
    ) -> bool:
        if not (row.approval_channel_id and row.approval_ts):
            return False
        rendered = request_message(
            row, approvers=approvers, settings=self._approval, outcome=outcome
        )
        return self._call(
            "chat.update",
            self._client.chat_update,
            channel=row.approval_channel_id,
            ts=row.approval_ts,
            text=rendered.text,
            blocks=rendered.blocks,
        )

    def reply_in_thread(
        self, row: SubaccountRequest, text: str, *, broadcast: bool = False
    ) -> bool:
        if not (row.approval_channel_id and row.approval_ts):
            return False
        return self._call(
            "chat.postMessage",
            self._client.chat_postMessage,
            channel=row.approval_channel_id,
            thread_ts=row.approval_ts,
            text=text,
            reply_broadcast=broadcast or None,
        )

    def post(
        self, *, channel_id: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> bool:
        return self._call(
            "chat.postMessage",
            self._client.chat_postMessage,
            channel=channel_id,
            text=text,
            blocks=blocks,
        )

    def dm(self, *, user_id: str, text: str, blocks: list[dict[str, Any]] | None = None) -> bool:
        response = self._call_for(
            "conversations.open", self._client.conversations_open, users=user_id
        )
        if response is None:
            return False
        return self.post(channel_id=str(response["channel"]["id"]), text=text, blocks=blocks)

    def dm_channel(self, *, user_id: str) -> str | None:
        """The id of the bot's DM with `user_id` (files are shared to a channel id, not a user)."""
        response = self._call_for(
            "conversations.open", self._client.conversations_open, users=user_id
        )
        return None if response is None else str(response["channel"]["id"])

    def upload_file(
        self,
        *,
        channel_id: str,
        filename: str,
        content: bytes,
        title: str,
        initial_comment: str | None = None,
        thread_ts: str | None = None,
    ) -> Upload:
        return upload_file(
            self._client,
            channel_id=channel_id,
            filename=filename,
            content=content,
            title=title,
            initial_comment=initial_comment,
            thread_ts=thread_ts,
        )

    def ephemeral(self, *, channel_id: str, user_id: str, text: str) -> bool:
        return self._call(
            "chat.postEphemeral",
            self._client.chat_postEphemeral,
            channel=channel_id,
            user=user_id,
            text=text,
        )

    def respond(self, *, response_url: str, text: str) -> bool:
        try:
            response = WebhookClient(response_url, timeout=10).send(
                text=text, response_type="ephemeral"
            )
        except (OSError, SlackClientError) as exc:
            logger.warning("response_url post failed: %s", type(exc).__name__)
            return False
        if response.status_code != 200:
            logger.warning("response_url post answered HTTP %s", response.status_code)
        return response.status_code == 200

    def _call(self, method: str, function: Any, **arguments: Any) -> bool:
        return self._call_for(method, function, **arguments) is not None

    def _call_for(self, method: str, function: Any, **arguments: Any) -> Any:
        return call_slack(logger, method, function, **arguments)


def post_approval_message(
    client: WebClient,
    approval: ApprovalSettings,
    rendered: Rendered,
    *,
    channel_id: str,
    log: logging.Logger,
) -> str | None:
    """Post `rendered` and add the approve and reject reactions under it; its ts, None if the
    post failed (a failed reaction is only logged)."""
    response = call_slack(
        log,
        "chat.postMessage",
        client.chat_postMessage,
        channel=channel_id,
        text=rendered.text,
        blocks=rendered.blocks,
        unfurl_links=False,
    )
    if response is None:
        return None
    ts = str(response["ts"])
    for reaction in (approval.approve_reaction, approval.reject_reaction):
        call_slack(
            log,
            "reactions.add",
            client.reactions_add,
            channel=channel_id,
            timestamp=ts,
            name=reaction,
        )
    return ts


def call_slack(log: logging.Logger, method: str, function: Any, /, **arguments: Any) -> Any:
    """`function(**arguments)`'s response, or None with Slack's error code logged to `log`."""
    try:
        return function(**arguments)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "unknown"
        log.warning("Slack %s failed: %s", method, error)
    except (OSError, SlackClientError) as exc:
        log.warning("Slack %s failed: %s", method, type(exc).__name__)
    return None

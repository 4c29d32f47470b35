"""Every message the bot sends to Slack outside an ack: owed ones through the outbox, the
immediate ones (views, ephemerals, response_url, files) called here, each failure logged and
contained; the error code Slack gave (never the payload) goes to the log.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.views import View
from slack_sdk.webhook import WebhookClient
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import RequestBatch
from bot.delivery import outbox
from bot.requests.subjects import Head, Scope, Subject
from bot.runtime.tasks import BackgroundTasks
from bot.slack.render.blocks import ApprovalSettings, Rendered

logger = logging.getLogger(__name__)


class Notifier:
    """What the bot says to Slack. What it owes (messages, replies, updates, DMs) becomes outbox
    rows, in `db`'s transaction when given (else one of their own), delivered by the worker
    (bot/delivery/); what answers a person right now (views, ephemerals, response_url) is
    called here and now, since a trigger or an ephemeral is worth nothing later."""

    def __init__(
        self,
        client: WebClient,
        *,
        approval: ApprovalSettings,
        sessions: sessionmaker[Session],
        delivery_deadline: timedelta = outbox.DEFAULT_DEADLINE,
        later: BackgroundTasks | None = None,
        approval_channel: str | None = None,
    ) -> None:
        self._client = client
        self._approval_channel = approval_channel  # APPROVAL_CHANNEL: a bulk request's home
        self._later = later
        self._approval = approval
        self._sessions = sessions
        self._deadline = delivery_deadline

    def owe(self, *owed: outbox.Owed, db: outbox.Db | None = None) -> None:
        if db is not None:
            outbox.owe(db, *owed, deadline=self._deadline)
            return
        with self._sessions.begin() as session:
            outbox.owe(session, *owed, deadline=self._deadline)

    def open_modal(self, *, trigger_id: str, view: View | dict[str, Any]) -> bool:
        """`view` as a View or as its dict (modal.request_form's cached one: no rebuilding)."""
        return self._call("views.open", self._client.views_open, trigger_id=trigger_id, view=view)

    def update_view(self, *, view_id: str, view: View, view_hash: str | None = None) -> bool:
        """Replace an open view; with `view_hash`, only if nobody changed it meanwhile."""
        return self._call(
            "views.update", self._client.views_update, view_id=view_id, hash=view_hash, view=view
        )

    def refresh(self, subject: Subject, *, db: outbox.Db | None = None) -> None:
        """A request's message (of one account or of many) shows it as it is when the update
        is sent (rendered then from the database), so the newest state always wins."""
        if subject.scope == Scope.ONE:
            self.owe(outbox.request_update(subject.id), db=db)
        else:
            self.owe(outbox.batch_update(subject.id), db=db)

    def reply(
        self, head: Head, text: str, *, broadcast: bool = False, db: outbox.Db | None = None
    ) -> bool:
        """A line in the thread of a request's message; False when it has no channel."""
        channel_id = self.channel_for(head)
        if not channel_id:
            return False
        if isinstance(head, RequestBatch):
            owed = outbox.batch_reply(head.id, channel_id=channel_id, text=text)
        else:
            owed = outbox.thread_reply(
                head.id, channel_id=channel_id, text=text, broadcast=broadcast
            )
        self.owe(owed, db=db)
        return True

    def channel_for(self, head: Head) -> str | None:
        """Where a request's message is (or will be) posted."""
        if isinstance(head, RequestBatch):
            return head.approval_channel_id or self._approval_channel or head.channel_id
        return head.approval_channel_id or head.channel_id

    def post_batch(self, batch: RequestBatch, *, db: outbox.Db | None = None) -> str | None:
        """Owe a bulk request's message; the channel it goes to, None when there is none."""
        channel_id = self.channel_for(batch)
        if channel_id:
            owed = outbox.batch_post(
                batch.id, channel_id=channel_id, requester_id=batch.requester_id
            )
            self.owe(owed, db=db)
        return channel_id

    def post(
        self,
        *,
        channel_id: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        request_id: int | None = None,
        db: outbox.Db | None = None,
    ) -> bool:
        """`request_id`: the request it is about (its delivery attempts are that request's)."""
        self.owe(outbox.message(channel_id, text=text, blocks=blocks, request_id=request_id), db=db)
        return True

    def dm(
        self,
        *,
        user_id: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        request_id: int | None = None,
        db: outbox.Db | None = None,
    ) -> bool:
        self.owe(outbox.dm(user_id, text=text, blocks=blocks, request_id=request_id), db=db)
        return True

    def ephemeral(self, *, channel_id: str, user_id: str, text: str) -> bool:
        """Sent after the ack on `later` (the listener that decided may still be acking);
        worth nothing later than now, so not owed: a failure is logged."""
        if self._later is not None:
            self._later.submit(
                self._call,
                "chat.postEphemeral",
                self._client.chat_postEphemeral,
                channel=channel_id,
                user=user_id,
                text=text,
            )
            return True
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

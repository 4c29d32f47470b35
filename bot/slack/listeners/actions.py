"""The Approve and Reject buttons on a request message."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.flows.common import Choice
from bot.flows.decisions import Decisions
from bot.slack import ids

logger = logging.getLogger(__name__)


def register(app: App, *, decisions: Decisions) -> None:
    def on_click(choice: Choice, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        value = str(action.get("value") or "")
        channel_id = str((body.get("channel") or {}).get("id") or "")
        if not value.isdigit() or not channel_id:
            ack()
            logger.warning("ignored a %s click without a request id or channel", choice)
            return
        # The message the button is on: the decision must concern that message's request.
        message_ts = str((body.get("container") or {}).get("message_ts") or "") or None
        # Recorded before the ack (process_before_response): a click acked is a click counted.
        try:
            decisions.decide(
                request_id=int(value),
                user_id=str(body["user"]["id"]),
                choice=choice,
                channel_id=channel_id,
                message_ts=message_ts,
            )
        finally:
            ack()

    @app.action(ids.APPROVE_ACTION)
    def on_approve(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_click(Choice.APPROVE, ack, body, action)

    @app.action(ids.REJECT_ACTION)
    def on_reject(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_click(Choice.REJECT, ack, body, action)

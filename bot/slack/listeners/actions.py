"""The Approve and Reject buttons on a request's message: a request of one account's and a
bulk request's alike, decided on the one path of bot/flows/decisions.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot.flows.common import Choice
from bot.flows.decisions import Decisions
from bot.requests.subjects import Subject
from bot.slack import ids

logger = logging.getLogger(__name__)

# Each button's action id: what it decides and about what (its value is the request's id).
_BUTTONS: dict[str, tuple[Choice, Callable[[int], Subject]]] = {
    ids.APPROVE_ACTION: (Choice.APPROVE, Subject.one),
    ids.REJECT_ACTION: (Choice.REJECT, Subject.one),
    ids.APPROVE_BATCH_ACTION: (Choice.APPROVE, Subject.many),
    ids.REJECT_BATCH_ACTION: (Choice.REJECT, Subject.many),
}


def register(app: App, *, decisions: Decisions) -> None:
    def on_click(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        choice, subject_of = _BUTTONS[str(action.get("action_id"))]
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
                subject_of(int(value)),
                user_id=str(body["user"]["id"]),
                choice=choice,
                channel_id=channel_id,
                message_ts=message_ts,
            )
        finally:
            ack()

    for action_id in _BUTTONS:
        app.action(action_id)(on_click)

"""The "Request again" button on the DM about an expired request."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.flows.forms import RequestForms
from bot.runtime.tasks import BackgroundTasks
from bot.slack import ids

logger = logging.getLogger(__name__)


def register(app: App, *, forms: RequestForms, tasks: BackgroundTasks) -> None:
    @app.action(ids.REQUEST_AGAIN_ACTION)
    def on_request_again(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        value = str(action.get("value") or "")
        trigger_id = str(body.get("trigger_id") or "")
        if not value.isdigit() or not trigger_id:
            logger.warning("ignored a request-again click without a request id or trigger")
            return
        # views.open off the request path, as for the slash command; the trigger lives 3 s.
        tasks.submit(
            forms.reopen_form,
            user_id=str(body["user"]["id"]),
            request_id=int(value),
            trigger_id=trigger_id,
        )

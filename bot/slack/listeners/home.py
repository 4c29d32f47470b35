"""The App Home tab: published when a person opens it; its Approve and Reject buttons."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.flows.common import Choice
from bot.flows.home import HomeTab
from bot.runtime.tasks import BackgroundTasks
from bot.slack import ids

logger = logging.getLogger(__name__)


def register(app: App, *, home: HomeTab, tasks: BackgroundTasks) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any]) -> None:
        # The event also fires for the Messages tab, which shows no view.
        user_id = str(event.get("user") or "")
        if event.get("tab") == "home" and user_id:
            tasks.submit(home.opened, user_id)

    def on_click(choice: Choice, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        value = str(action.get("value") or "")
        from_home = (body.get("container") or {}).get("type") == "view" and (
            body.get("view") or {}
        ).get("type") == "home"
        if not from_home or not value.isdigit():
            # These ids are only ever on the Home view: anything else is a forged payload.
            ack()
            logger.warning("ignored a Home %s click not from the Home tab or without an id", choice)
            return
        try:  # recorded before the ack, as the channel's buttons
            home.decide(user_id=str(body["user"]["id"]), request_id=int(value), choice=choice)
        finally:
            ack()

    @app.action(ids.HOME_APPROVE_ACTION)
    def on_approve(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_click(Choice.APPROVE, ack, body, action)

    @app.action(ids.HOME_REJECT_ACTION)
    def on_reject(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_click(Choice.REJECT, ack, body, action)

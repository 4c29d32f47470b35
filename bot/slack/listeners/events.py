"""Events API: approval and rejection by emoji reaction on a request message."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.background import BackgroundTasks
from bot.flows import Flows


def register(app: App, *, flows: Flows, tasks: BackgroundTasks) -> None:
    @app.event("reaction_added")
    def on_reaction(event: dict[str, Any]) -> None:
        # The event carries no message text: the request is found by channel and ts.
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        tasks.submit(
            flows.react,
            user_id=str(event.get("user") or ""),
            reaction=str(event.get("reaction") or ""),
            channel_id=str(item.get("channel") or ""),
            ts=str(item.get("ts") or ""),
        )

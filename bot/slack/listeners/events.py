"""Events API: approval and rejection by emoji reaction on a request message."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from slack_bolt import App

from bot.flows.decisions import Decisions


class DeliveredEvents:
    """Event ids this process has already taken, so Slack's redeliveries are dropped.

    Slack redelivers an event when it thinks the first delivery was missed. The decision is
    idempotent in the database anyway; dropping the copy spares the person who reacted once a
    "request is already decided" reply. Per process: a copy that reaches another instance is
    still harmless.
    """

    def __init__(self, capacity: int = 1000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_delivery(self, event_id: str) -> bool:
        if not event_id:
            return True
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True


def register(app: App, *, decisions: Decisions) -> None:
    delivered = DeliveredEvents()

    @app.event("reaction_added")
    def on_reaction(event: dict[str, Any], body: dict[str, Any]) -> None:
        # The event carries no message text: the request is found by channel and ts.
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        # It comes for every emoji on every message in every channel the bot is in: only the
        # bot's own messages can be requests, so the rest is dropped before any database work.
        if decisions.bot_user_id and event.get("item_user") != decisions.bot_user_id:
            return
        if not delivered.first_delivery(str(body.get("event_id") or "")):
            return
        # Recorded before the ack (a few ms): a reaction acked is a reaction counted.
        decisions.react(
            user_id=str(event.get("user") or ""),
            reaction=str(event.get("reaction") or ""),
            channel_id=str(item.get("channel") or ""),
            ts=str(item.get("ts") or ""),
        )

"""Bulk requests: the form's and the preview's submissions, and closing the preview (Back).
The buttons on a batch's message are the request buttons' (listeners/actions.py)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.flows.batches import FormAnswer
from bot.runtime.batches import Bulk
from bot.runtime.tasks import BackgroundTasks
from bot.slack import ids
from bot.slack.render.batch_views import draft_from_metadata, parse_form
from bot.slack.render.modal import channel_from_metadata

logger = logging.getLogger(__name__)


def register(app: App, *, bulk: Bulk, tasks: BackgroundTasks) -> None:
    @app.view(ids.BULK_FORM_CALLBACK)
    def on_form(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        state = view.get("state")
        answer = bulk.flows.check(
            user_id=str(body["user"]["id"]),
            channel_id=channel_from_metadata(str(view.get("private_metadata") or "")),
            form=parse_form(state.get("values") if isinstance(state, dict) else None),
        )
        _ack(ack, answer)

    @app.view(ids.BULK_PREVIEW_CALLBACK)
    def on_preview(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        draft_id = draft_from_metadata(str(view.get("private_metadata") or ""))
        _ack(ack, bulk.flows.submit(user_id=str(body["user"]["id"]), draft_id=draft_id))

    @app.view_closed(ids.BULK_PREVIEW_CALLBACK)
    def on_back(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        ack()
        draft_id = draft_from_metadata(str(view.get("private_metadata") or ""))
        if draft_id is not None:
            tasks.submit(bulk.flows.discard, user_id=str(body["user"]["id"]), draft_id=draft_id)


def _ack(ack: Ack, answer: FormAnswer) -> None:
    if answer.errors:
        ack(response_action="errors", errors=answer.errors)
    elif answer.push is not None:
        ack(response_action="push", view=answer.push)
    else:
        ack(response_action="update", view=answer.update)

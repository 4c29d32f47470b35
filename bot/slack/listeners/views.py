"""The request modal's submission: field errors, a refusal, or a stored request."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.flows import Flows
from bot.slack import ids
from bot.slack.modal import channel_from_metadata, notice_view, parse_state


def register(app: App, *, flows: Flows) -> None:
    @app.view(ids.REQUEST_MODAL_CALLBACK)
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        state = view.get("state")
        result = flows.submit(
            user_id=str(body["user"]["id"]),
            channel_id=channel_from_metadata(str(view.get("private_metadata") or "")),
            raw=parse_state(state.get("values") if isinstance(state, dict) else None),
        )
        if result.errors:
            ack(response_action="errors", errors=result.errors)
        elif result.refusal:
            title = "Try again later" if result.unavailable else "Not allowed"
            ack(response_action="update", view=notice_view(title=title, text=result.refusal))
        else:
            text = (
                f"Request #{result.request_id} is saved and on its way to the approvers. "
                "You will get a message at each step."
            )
            ack(response_action="update", view=notice_view(title="Request sent", text=text))

"""The request modal's two steps: the form's submit (field errors, a refusal, or the confirmation
step) and the confirmation's Submit (a stored request) or Back (the form again, filled in)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.flows.forms import RequestForms, Submission
from bot.slack import ids
from bot.slack.render.modal import channel_from_metadata, notice_view, parse_state
from bot.slack.render.preview_view import preview_view


def register(app: App, *, forms: RequestForms) -> None:
    @app.view(ids.REQUEST_MODAL_CALLBACK)
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        state = view.get("state")
        result = forms.preview(
            user_id=str(body["user"]["id"]),
            channel_id=channel_from_metadata(str(view.get("private_metadata") or "")),
            raw=parse_state(state.get("values") if isinstance(state, dict) else None),
        )
        answer(ack, result)

    @app.view(ids.PREVIEW_CALLBACK)
    def on_confirm(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        result = forms.confirm(
            user_id=str(body["user"]["id"]), sealed=str(view.get("private_metadata") or "")
        )
        answer(ack, result)

    @app.action(ids.PREVIEW_BACK_ACTION)
    def on_back(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        view = body.get("view")
        shown: dict[str, Any] = view if isinstance(view, dict) else {}
        forms.back_to_form(
            user_id=str(body["user"]["id"]),
            sealed=str(shown.get("private_metadata") or ""),
            view_id=str(shown.get("id") or ""),
            view_hash=str(shown.get("hash") or ""),
        )


def answer(ack: Ack, result: Submission) -> None:
    """The submission's ack: errors beside the fields, or the view that replaces the modal."""
    if result.errors:
        ack(response_action="errors", errors=result.errors)
    elif result.preview is not None:
        ack(response_action="update", view=preview_view(result.preview))
    elif result.refusal:
        title = "Try again later" if result.unavailable else "Not allowed"
        title = "Start again" if result.start_again else title
        ack(response_action="update", view=notice_view(title=title, text=result.refusal))
    else:
        text = (
            f"Request #{result.request_id} is saved and on its way to the approvers. "
            "You will get a message at each step."
        )
        ack(response_action="update", view=notice_view(title="Request sent", text=text))

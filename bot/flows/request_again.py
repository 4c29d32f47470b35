""" "Request again" on an expired request: the form reopens filled with its values.

Only the requester may reopen their own request, and only while still on the allowlist; the
submission is then checked like any other (the form holds no password, so none is resent).
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import SubaccountRequest
from bot.requests import workflow
from bot.requests.events import EventKind
from bot.requests.policy import AccessPolicy
from bot.slack.notifier import Notifier
from bot.slack.render import messages
from bot.slack.render.prefill import prefilled_request_modal


def reopen_form(
    *,
    sessions: sessionmaker[Session],
    policy: AccessPolicy,
    notifier: Notifier,
    require_reason: bool,
    user_id: str,
    request_id: int,
    trigger_id: str,
) -> None:
    with sessions() as session:
        row = session.get(SubaccountRequest, request_id)
    if row is None or row.requester_id != user_id:
        # Slack only shows the button to the requester: anything else is a forged payload.
        with sessions.begin() as session:
            workflow.add_event(
                session,
                request_id=None if row is None else row.id,
                kind=EventKind.REQUEST_AGAIN_REFUSED,
                actor_id=user_id,
                detail={"reason": "not this person's request", "request_id": request_id},
            )
        return
    verdict = policy.may_request(user_id)
    if not verdict.allowed:
        with sessions.begin() as session:
            workflow.record_denied(
                session,
                requester_id=user_id,
                channel_id=row.channel_id,
                attempted="request_again",
                reason=verdict.reason,
            )
        notifier.dm(user_id=user_id, text=messages.denied_request_text())
        return
    with sessions.begin() as session:
        workflow.add_event(
            session, request_id=row.id, kind=EventKind.REQUEST_AGAIN, actor_id=user_id
        )
    view = prefilled_request_modal(row, require_reason=require_reason)
    notifier.open_modal(trigger_id=trigger_id, view=view)

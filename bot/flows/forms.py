"""The request form: the slash command's modal, its confirmation step, storing the request and
announcing it for approval."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import outbox
from bot.flows import request_again
from bot.flows.common import FlowSettings, logger, record_denied
from bot.flows.unavailable import when_database_down
from bot.requests import workflow
from bot.requests.passwords import PasswordVault
from bot.requests.policy import AccessPolicy, Verdict
from bot.requests.preview import Preview, PreviewError, Previews, PreviewTooLargeError
from bot.requests.validation import (
    InvalidRequestError,
    RequestInput,
    ValidRequest,
    validate_request,
)
from bot.runtime.tasks import BackgroundTasks
from bot.slack.notifier import Notifier
from bot.slack.render import messages
from bot.slack.render.blocks import escape, reason_fits
from bot.slack.render.modal import request_form
from bot.slack.render.preview_view import filled_form, start_again_text, start_again_view


@dataclass(frozen=True)
class Submission:
    """What the modal's ack should say: field errors, a refusal, or the stored request id."""

    errors: dict[str, str] | None = None
    refusal: str | None = None
    unavailable: bool = False  # the database could not be reached; nothing was stored
    request_id: int | None = None
    preview: Preview | None = None  # the confirmation step to show; nothing was stored yet
    start_again: bool = False  # the confirmation step could not be used; nothing was stored


class RequestForms:
    def __init__(
        self,
        *,
        settings: FlowSettings,
        sessions: sessionmaker[Session],
        policy: AccessPolicy,
        notifier: Notifier,
        vault: PasswordVault,
        tasks: BackgroundTasks,
        jobs_due: Callable[[], None],
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._policy = policy
        self._notifier = notifier
        self._vault = vault
        self._tasks = tasks
        self._jobs_due = jobs_due  # the provisioning worker's wake: a job is due now
        self._previews = Previews(
            vault=vault,
            policy=policy,
            approval_channel=settings.approval_channel,
            required_approvals=settings.required_approvals,
        )

    # -- the slash command ------------------------------------------------------------------

    def open_form(
        self, *, user_id: str, channel_id: str, trigger_id: str, response_url: str
    ) -> None:
        verdict = self._policy.may_request(user_id)
        if not verdict.allowed:
            record_denied(self._sessions, user_id, channel_id, "slash_command", verdict.reason)
            self._notifier.respond(response_url=response_url, text=messages.denied_request_text())
            return
        form = request_form(channel_id=channel_id, require_reason=self.settings.require_reason)
        self._notifier.open_modal(trigger_id=trigger_id, view=form)

    def reopen_form(self, *, user_id: str, request_id: int, trigger_id: str) -> None:
        """Reopen the form filled in: the "Request again" button on an expired request's DM."""
        request_again.reopen_form(
            sessions=self._sessions,
            policy=self._policy,
            notifier=self._notifier,
            require_reason=self.settings.require_reason,
            user_id=user_id,
            request_id=request_id,
            trigger_id=trigger_id,
        )

    # -- the modal --------------------------------------------------------------------------

    def preview(self, *, user_id: str, channel_id: str | None, raw: RequestInput) -> Submission:
        """The form's submit: checked as submit() checks it but nothing is stored (a refusal is
        still logged); a valid request is answered with its confirmation step
        (bot/requests/preview.py)."""
        try:
            request = validate_request(raw, require_reason=self.settings.require_reason)
        except InvalidRequestError as invalid:
            return Submission(errors=invalid.errors)
        verdict = self._policy.may_request(user_id)
        if not verdict.allowed:
            return self._checked_store(
                user_id=user_id, channel_id=channel_id, request=request, verdict=verdict
            )
        try:
            shown = self._previews.build(
                user_id=user_id, channel_id=channel_id, raw=raw, request=request
            )
        except PreviewTooLargeError as too_large:
            return Submission(errors=too_large.errors)
        return Submission(preview=shown)

    def confirm(self, *, user_id: str, sealed: str) -> Submission:
        """The confirmation step's Submit: the values it showed go through submit() unchanged."""
        command = self.settings.slash_command
        try:
            draft = self._previews.open(user_id=user_id, sealed=sealed)
        except PreviewError as stale:
            logger.warning("a confirmation step was refused (%s)", type(stale).__name__)
            return Submission(refusal=start_again_text(stale, command=command), start_again=True)
        result = self.submit(
            user_id=user_id,
            channel_id=draft.channel_id,
            raw=draft.raw,
            previewed_at=draft.made_at,
            submission_key=submission_key_of(sealed),
        )
        if result.errors:
            # The checks changed since the preview (a new release or setting): nothing stored.
            problems = "; ".join(f"{name}: {text}" for name, text in sorted(result.errors.items()))
            return Submission(refusal=start_again_text(problems, command=command), start_again=True)
        return result

    def back_to_form(self, *, user_id: str, sealed: str, view_id: str, view_hash: str) -> None:
        """The confirmation step's Back: the form again, filled in but for the password."""
        try:
            draft = self._previews.open(user_id=user_id, sealed=sealed)
        except PreviewError as stale:
            view = start_again_view(stale, command=self.settings.slash_command)
        else:
            view = filled_form(draft, require_reason=self.settings.require_reason)
        self._tasks.submit(
            self._notifier.update_view, view_id=view_id, view_hash=view_hash or None, view=view
        )

    def submit(
        self,
        *,
        user_id: str,
        channel_id: str | None,
        raw: RequestInput,
        previewed_at: datetime | None = None,
        submission_key: str | None = None,
    ) -> Submission:
        """Validate, authorize again (the allowlist may have changed), store, then announce.
        `previewed_at`: when the person was shown these values' confirmation step."""
        try:
            request = validate_request(raw, require_reason=self.settings.require_reason)
        except InvalidRequestError as invalid:
            return Submission(errors=invalid.errors)
        verdict = self._policy.may_request(user_id)
        return self._checked_store(
            user_id=user_id,
            channel_id=channel_id,
            request=request,
            verdict=verdict,
            previewed_at=previewed_at,
            submission_key=submission_key,
        )

    def _checked_store(
        self,
        *,
        user_id: str,
        channel_id: str | None,
        request: ValidRequest,
        verdict: Verdict,
        previewed_at: datetime | None = None,
        submission_key: str | None = None,
    ) -> Submission:
        with when_database_down("storing a request") as down:
            return self._store(
                user_id=user_id,
                channel_id=channel_id,
                request=request,
                allowed=verdict.allowed,
                reason=verdict.reason,
                previewed_at=previewed_at,
                submission_key=submission_key,
            )
        return Submission(refusal=down.text, unavailable=True)

    def _store(
        self,
        *,
        user_id: str,
        channel_id: str | None,
        request: ValidRequest,
        allowed: bool,
        reason: str,
        previewed_at: datetime | None,
        submission_key: str | None,
    ) -> Submission:
        if not allowed:
            with self._sessions.begin() as session:
                workflow.record_denied(
                    session,
                    requester_id=user_id,
                    channel_id=channel_id,
                    attempted="modal_submission",
                    reason=reason,
                )
            return Submission(refusal=messages.denied_request_text())
        # Committed before the ack, with everything it owes Slack in the same transaction, so
        # nothing acked is lost. A Connection, not a Session: this is the ack's critical path.
        try:
            with _engine(self._sessions).begin() as connection:
                request_id = workflow.submit_request(
                    connection,
                    requester_id=user_id,
                    channel_id=channel_id,
                    request=request,
                    vault=self._vault,
                    required_approvals=self.settings.required_approvals,
                    previewed_at=previewed_at,
                    approval_channel_id=self.settings.approval_channel or channel_id,
                    submission_key=submission_key,
                )
                self._owe_announcement(
                    connection, request_id=request_id, user_id=user_id, request=request
                )
        except IntegrityError:
            existing = self._stored_for(submission_key)
            if existing is None:
                raise
            logger.info("a confirmation step was submitted again: request %s", existing)
            return Submission(request_id=existing)
        if not self.settings.required_approvals:
            self._jobs_due()
        return Submission(request_id=request_id)

    def _stored_for(self, submission_key: str | None) -> int | None:
        if submission_key is None:
            return None
        with self._sessions() as session:
            return workflow.request_for_submission(session, submission_key)

    def _owe_announcement(
        self, connection: Connection, *, request_id: int, user_id: str, request: ValidRequest
    ) -> None:
        """The approval message, the requester's DM, and the whole reason when the message
        can show only the start of it."""
        channel_id = self.settings.approval_channel or None
        channel_id = channel_id or workflow.request_channel(connection, request_id)
        owed: list[outbox.Owed] = []
        if channel_id:
            owed.append(
                outbox.request_post(request_id, channel_id=channel_id, requester_id=user_id)
            )
            if request.reason and not reason_fits(request.reason):
                text = f"The whole reason of request #{request_id}:\n{escape(request.reason)}"
                owed.append(outbox.thread_reply(request_id, channel_id=channel_id, text=text))
        else:
            workflow.add_post_failed(connection, request_id=request_id)
        # "Sent for approval" is owed by the post itself once Slack took it (delivery/sends.py).
        told = self._submitted_dm(request_id, channel_id)
        if told is not None:
            owed.append(outbox.dm(user_id, text=told, request_id=request_id))
        self._notifier.owe(*owed, db=connection)

    def _submitted_dm(self, request_id: int, channel_id: str | None) -> str | None:
        if not channel_id:
            return (
                f":warning: Your request #{request_id} is saved, but the bot could not post it "
                "for approval (is the bot in the approval channel?). Ask an admin."
            )
        if not self.settings.required_approvals:
            return f"Your request #{request_id} needs no approval; creating it in Zoom now."
        return None


def submission_key_of(sealed: str) -> str:
    """The sealed confirmation step names one submission: its digest (the seal itself holds
    the typed values, encrypted, and is not stored)."""
    return hashlib.sha256(sealed.encode()).hexdigest()


def _engine(sessions: sessionmaker[Session]) -> Engine:
    """The engine the factory binds its sessions to (bot/db/session.py gives it one)."""
    bind = sessions.kw["bind"]
    if not isinstance(bind, Engine):
        raise TypeError(f"the session factory is bound to {type(bind).__name__}, not an Engine")
    return bind

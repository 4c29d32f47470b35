"""Flows: what happens after Slack is acked. Each joins the policy, the workflow and the notifier.

Listeners parse a payload and call one method here; the slow parts (Slack calls, Zoom) run on
the background pool so Slack gets its ack at once.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot import history, ops_alerts, request_again, slack_export, workflow
from bot.background import BackgroundTasks
from bot.db.models import RequestStatus, SubaccountRequest
from bot.passwords import PasswordVault
from bot.pending_notices import send_expired_dm
from bot.policy import AccessPolicy, Verdict
from bot.preview import Preview, PreviewError, Previews, PreviewTooLargeError
from bot.provisioning import ZoomAccounts, provision
from bot.redaction import redact
from bot.slack import messages
from bot.slack.modal import request_modal
from bot.slack.notifier import Notifier
from bot.slack.preview_view import filled_form, start_again_text, start_again_view
from bot.slack.request_list import request_list_text
from bot.validation import InvalidRequestError, RequestInput, ValidRequest, validate_request
from bot.workflow import Decision, DecisionOutcome

logger = logging.getLogger(__name__)

# How the person who decided is told what only they should see: an ephemeral in the channel
# they clicked or reacted in, or the notice on their App Home.
Tell = Callable[[str], object]


class Choice(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class FlowSettings:
    approval_channel: str | None
    required_approvals: int
    approval_ttl: timedelta
    require_reason: bool
    approve_reaction: str
    reject_reaction: str
    slash_command: str
    settle_seconds: float = 0.0
    ops_channel: str | None = None


@dataclass(frozen=True)
class Submission:
    """What the modal's ack should say: field errors, a refusal, or the stored request id."""

    errors: dict[str, str] | None = None
    refusal: str | None = None
    unavailable: bool = False  # the database could not be reached; nothing was stored
    request_id: int | None = None
    preview: Preview | None = None  # the confirmation step to show; nothing was stored yet
    start_again: bool = False  # the confirmation step could not be used; nothing was stored


class Flows:
    def __init__(
        self,
        *,
        settings: FlowSettings,
        sessions: sessionmaker[Session],
        policy: AccessPolicy,
        notifier: Notifier,
        zoom: ZoomAccounts,
        vault: PasswordVault,
        tasks: BackgroundTasks,
        bot_user_id: str | None,
        escalation: AccessPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._policy = policy
        self._notifier = notifier
        self._zoom = zoom
        self._vault = vault
        self._tasks = tasks
        self._bot_user_id = bot_user_id
        # ESCALATION_APPROVERS as approvers: they may decide a request once it is escalated.
        self._escalation = escalation
        self._previews = Previews(
            vault=vault,
            policy=policy,
            approval_channel=settings.approval_channel,
            required_approvals=settings.required_approvals,
        )
        # Set by the runtime to the provisioning worker's wake(): a job is due now.
        self.on_job_due: Callable[[], None] = lambda: None
        # Set by the runtime to the Home tab's refresh: a request was decided or provisioned.
        self.on_request_changed: Callable[[SubaccountRequest], None] = lambda _row: None
        # Set by the runtime to bulk onboarding (bot/bulk_runtime.py): a reaction on a message
        # that is no single request's (True when it was a batch's), and a batch row's outcome.
        self.on_batch_reaction: Callable[..., bool] = lambda **_reaction: False
        self.on_batch_row_done: Callable[[SubaccountRequest], None] = lambda _row: None

    # -- the slash command ------------------------------------------------------------------

    def open_form(
        self, *, user_id: str, channel_id: str, trigger_id: str, response_url: str
    ) -> None:
        verdict = self._policy.may_request(user_id)
        if not verdict.allowed:
            try:
                with self._sessions.begin() as session:
                    workflow.record_denied(
                        session,
                        requester_id=user_id,
                        channel_id=channel_id,
                        attempted="slash_command",
                        reason=verdict.reason,
                    )
            except SQLAlchemyError as exc:
                # The refusal still reaches the person; the log keeps what the table could not.
                logger.warning("denied %s but could not log it (%s)", user_id, type(exc).__name__)
            self._notifier.respond(response_url=response_url, text=messages.denied_request_text())
            return
        view = request_modal(channel_id=channel_id, require_reason=self.settings.require_reason)
        self._notifier.open_modal(trigger_id=trigger_id, view=view)

    def status(self, *, user_id: str, request_id: int) -> str:
        try:
            return self._status(user_id=user_id, request_id=request_id)
        except SQLAlchemyError as exc:
            logger.warning("status lookup failed (%s)", type(exc).__name__)
            return messages.unavailable_text()

    def _status(self, *, user_id: str, request_id: int) -> str:
        with self._sessions() as session:
            row = session.get(SubaccountRequest, request_id)
            visible = row is not None and (
                row.requester_id == user_id or self._policy.is_approver(user_id)
            )
            if row is None or not visible:
                return f"There is no request #{request_id} that you can see."
            return messages.status_text(row, workflow.approvers_of(session, request_id))

    def list_requests(self, *, user_id: str, team_domain: str) -> str:
        """`/zoom-subaccount list`: the caller's own recent requests, for their eyes only."""
        try:
            with self._sessions() as session:
                rows = history.recent_requests(session, requester_id=user_id)
        except SQLAlchemyError as exc:
            logger.warning("request list lookup failed (%s)", type(exc).__name__)
            return messages.unavailable_text()
        return request_list_text(
            rows,
            now=datetime.now(UTC),
            team_domain=team_domain,
            command=self.settings.slash_command,
        )

    def export(self, *, user_id: str, arguments: list[str], response_url: str) -> str:
        """`/zoom-subaccount export …`: an approver's audit export, uploaded to their DM."""
        exports = slack_export.SlackExports(
            sessions=self._sessions,
            policy=self._policy,
            notifier=self._notifier,
            tasks=self._tasks,
            command=self.settings.slash_command,
        )
        return exports.start(user_id=user_id, arguments=arguments, response_url=response_url)

    def help_text(self, *, user_id: str) -> str:
        command = self.settings.slash_command
        return slack_export.help_text(command, approver=self._policy.is_approver(user_id))

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
        still logged); a valid request is answered with its confirmation step (bot/preview.py)."""
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
            user_id=user_id, channel_id=draft.channel_id, raw=draft.raw, previewed_at=draft.made_at
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
        )

    def _checked_store(
        self,
        *,
        user_id: str,
        channel_id: str | None,
        request: ValidRequest,
        verdict: Verdict,
        previewed_at: datetime | None = None,
    ) -> Submission:
        try:
            return self._store(
                user_id=user_id,
                channel_id=channel_id,
                request=request,
                allowed=verdict.allowed,
                reason=verdict.reason,
                previewed_at=previewed_at,
            )
        except SQLAlchemyError as exc:
            logger.warning("could not store a request (%s)", type(exc).__name__)
            return Submission(refusal=messages.unavailable_text(), unavailable=True)

    def _store(
        self,
        *,
        user_id: str,
        channel_id: str | None,
        request: ValidRequest,
        allowed: bool,
        reason: str,
        previewed_at: datetime | None,
    ) -> Submission:
        with self._sessions.begin() as session:
            if not allowed:
                workflow.record_denied(
                    session,
                    requester_id=user_id,
                    channel_id=channel_id,
                    attempted="modal_submission",
                    reason=reason,
                )
                return Submission(refusal=messages.denied_request_text())
            row = workflow.submit_request(
                session,
                requester_id=user_id,
                channel_id=channel_id,
                request=request,
                vault=self._vault,
                required_approvals=self.settings.required_approvals,
                previewed_at=previewed_at,
            )
            request_id = row.id
        self._tasks.submit(self.announce, request_id)
        return Submission(request_id=request_id)

    def announce(self, request_id: int) -> None:
        """Post the request for approval; with no approval required, go straight to Zoom."""
        with self._sessions() as session:
            row = session.get_one(SubaccountRequest, request_id)
        channel_id = self.settings.approval_channel or row.channel_id
        ts = None
        if channel_id:
            ts = self._notifier.post_request(channel_id=channel_id, row=row, approvers=[])
        if channel_id and ts:
            with self._sessions.begin() as session:
                workflow.attach_approval_message(
                    session, request_id=request_id, channel_id=channel_id, ts=ts
                )
            row.approval_channel_id, row.approval_ts = channel_id, ts
        else:
            self._record(request_id, "post_failed", detail={"channel": channel_id})
        self._notifier.dm(user_id=row.requester_id, text=self._submitted_dm(row, channel_id, ts))
        if row.status == RequestStatus.PROVISIONING:
            with self._sessions.begin() as session:
                workflow.release_job(session, request_id=request_id)
            self.on_job_due()

    def _submitted_dm(self, row: SubaccountRequest, channel_id: str | None, ts: str | None) -> str:
        if not ts:
            return (
                f":warning: Your request #{row.id} is saved, but the bot could not post it for "
                "approval (is the bot in the approval channel?). Ask an admin."
            )
        if row.status == RequestStatus.PROVISIONING:
            return f"Your request #{row.id} needs no approval; creating it in Zoom now."
        return f"Your request #{row.id} was sent for approval in <#{channel_id}>."

    # -- approvals --------------------------------------------------------------------------

    def react(self, *, user_id: str, reaction: str, channel_id: str, ts: str) -> None:
        try:
            self._react(user_id=user_id, reaction=reaction, channel_id=channel_id, ts=ts)
        except SQLAlchemyError as exc:
            self._unavailable(exc, user_id=user_id, channel_id=channel_id)

    def _unavailable(self, exc: SQLAlchemyError, *, user_id: str, channel_id: str) -> None:
        logger.warning("a decision could not be recorded (%s)", type(exc).__name__)
        self._notifier.ephemeral(
            channel_id=channel_id,
            user_id=user_id,
            text=messages.unavailable_text() + " React or click again later.",
        )

    def _react(self, *, user_id: str, reaction: str, channel_id: str, ts: str) -> None:
        choice = self._choice_for(reaction)
        if choice is None or user_id == self._bot_user_id:
            return
        with self._sessions() as session:
            row = workflow.find_by_message(session, channel_id=channel_id, ts=ts)
        if row is None and self.on_batch_reaction(
            user_id=user_id, choice=choice, channel_id=channel_id, ts=ts
        ):
            return
        if row is None:
            self._record(
                None,
                "reaction_ignored",
                actor_id=user_id,
                detail={"reaction": reaction, "channel": channel_id, "ts": ts},
            )
            return
        self._decide(request_id=row.id, user_id=user_id, choice=choice, channel_id=channel_id)

    def _choice_for(self, reaction: str) -> Choice | None:
        # Skin-tone variants arrive as "name::skin-tone-2".
        name = reaction.split("::", 1)[0]
        if name == self.settings.approve_reaction:
            return Choice.APPROVE
        if name == self.settings.reject_reaction:
            return Choice.REJECT
        return None

    def decide(
        self,
        *,
        request_id: int,
        user_id: str,
        choice: Choice,
        channel_id: str,
        message_ts: str | None = None,
    ) -> None:
        """A button click: `message_ts` is the message the clicked button is on."""
        try:
            self._decide(
                request_id=request_id,
                user_id=user_id,
                choice=choice,
                channel_id=channel_id,
                message_ts=message_ts,
            )
        except SQLAlchemyError as exc:
            self._unavailable(exc, user_id=user_id, channel_id=channel_id)

    def decide_in_view(self, *, request_id: int, user_id: str, choice: Choice) -> str | None:
        """A button on the App Home: the channel's rules and code path, without the message
        check (a view has no message). Returns what only the clicker should be told, or None
        when their decision was recorded and the channel says so."""
        told: list[str] = []
        try:
            self._decide(
                request_id=request_id,
                user_id=user_id,
                choice=choice,
                channel_id="",
                tell=told.append,
            )
        except SQLAlchemyError as exc:
            logger.warning("a decision could not be recorded (%s)", type(exc).__name__)
            return messages.unavailable_text() + " Click again later."
        return "\n".join(told) or None

    def decides_any(self, user_id: str) -> bool:
        """On the approver list or the escalation approver list (the Home tab's question)."""
        if self._policy.is_approver(user_id):
            return True
        return self._escalation is not None and self._escalation.is_approver(user_id)

    def _decide(
        self,
        *,
        request_id: int,
        user_id: str,
        choice: Choice,
        channel_id: str,
        message_ts: str | None = None,
        tell: Tell | None = None,
    ) -> None:
        if tell is None:
            tell = self._ephemeral_to(channel_id=channel_id, user_id=user_id)
        with self._sessions() as session:
            row = session.get(SubaccountRequest, request_id)
        if row is None or row.status == RequestStatus.DENIED:
            self._record(
                None if row is None else row.id,
                f"{choice}_refused",
                actor_id=user_id,
                detail={"reason": "not a request this bot can decide", "request_id": request_id},
            )
            tell("That is not a request this bot can decide.")
            return
        if row.batch_id is not None:
            # A row of a bulk request is decided with its batch, on the batch's message only.
            reason = f"it is part of bulk request #{row.batch_id}; decide the whole batch"
            decision = workflow.refuse(
                self._sessions,
                request_id=row.id,
                actor_id=user_id,
                action=str(choice),
                reason=reason,
            )
        elif _on_another_message(row, channel_id=channel_id, message_ts=message_ts):
            # Slack only sends the value the bot put on that message's button: a value naming
            # another request is a forged or corrupted payload and decides nothing.
            decision = workflow.refuse(
                self._sessions,
                request_id=row.id,
                actor_id=user_id,
                action=str(choice),
                reason="that button is not on this request's message",
            )
        else:
            decision = self._decision(row, user_id=user_id, choice=choice)
        self._render_decision(decision, user_id=user_id, tell=tell)

    def _ephemeral_to(self, *, channel_id: str, user_id: str) -> Tell:
        return lambda text: self._notifier.ephemeral(
            channel_id=channel_id, user_id=user_id, text=text
        )

    def _decision(self, row: SubaccountRequest, *, user_id: str, choice: Choice) -> Decision:
        verdict = self.may_decide(row, user_id=user_id, choice=choice)
        if not verdict.allowed:
            return workflow.refuse(
                self._sessions,
                request_id=row.id,
                actor_id=user_id,
                action=str(choice),
                reason=verdict.reason,
            )
        if choice == Choice.REJECT:
            decision = workflow.reject(
                self._sessions,
                request_id=row.id,
                rejecter_id=user_id,
                ttl=self.settings.approval_ttl,
            )
        else:
            decision = workflow.approve(
                self._sessions,
                request_id=row.id,
                approver_id=user_id,
                required_approvals=self.settings.required_approvals,
                ttl=self.settings.approval_ttl,
            )
        if decision.outcome == DecisionOutcome.ALREADY_DECIDED:
            # Nothing changes, but a decision attempt on a closed request is still audited.
            status = decision.request.status.replace("_", " ")
            self._record(
                row.id,
                f"{choice}_refused",
                actor_id=user_id,
                detail={"reason": f"the request is already {status}"},
            )
        return decision

    def may_decide(self, row: SubaccountRequest, *, user_id: str, choice: Choice) -> Verdict:
        policies = [self._policy]
        if row.escalated_at is not None and self._escalation is not None:
            policies.append(self._escalation)
        verdict = Verdict(allowed=False)
        for policy in policies:
            decide = policy.may_approve if choice == Choice.APPROVE else policy.may_reject
            verdict = decide(user_id, requester_id=row.requester_id)
            if verdict.allowed:
                break
        return verdict

    def _render_decision(self, decision: Decision, *, user_id: str, tell: Tell) -> None:
        row, outcome = decision.request, decision.outcome
        private = _PRIVATE_ANSWERS.get(outcome)
        if private is not None:
            text = private.format(
                reason=decision.reason, status=row.status.replace("_", " "), id=row.id
            )
            tell(text)
            return
        self._notifier.refresh_request(row, approvers=decision.approvers)
        self.on_request_changed(row)
        if outcome == DecisionOutcome.APPROVED:
            # Wake the Zoom call now, not after the thread reply and DM: one Slack round trip
            # before Zoom instead of four. After the update, so the outcome's update lands last.
            self.on_job_due()
        if outcome == DecisionOutcome.WAITING_FOR_MORE:
            needed = self.settings.required_approvals
            self._notifier.reply_in_thread(
                row, f"<@{user_id}> approved ({len(decision.approvers)} of {needed} approvals)."
            )
            return
        if outcome == DecisionOutcome.EXPIRED:
            tell(f"Request #{row.id} expired before it was decided.")
            send_expired_dm(self._notifier, row)
            return
        self._notifier.reply_in_thread(row, _THREAD_DECISIONS[outcome].format(user=user_id))
        self._notifier.dm(user_id=row.requester_id, text=messages.decision_dm(row))

    # -- Zoom ---------------------------------------------------------------------------------

    def provision(self, request_id: int) -> None:
        """Run by the provisioning worker on a job it has claimed."""
        result = provision(
            self._sessions,
            request_id=request_id,
            zoom=self._zoom,
            vault=self._vault,
            settle_seconds=self.settings.settle_seconds,
        )
        if result.requeued:
            return  # rate limited: nothing happened at Zoom, the worker runs it again later
        row = result.request
        if row.batch_id is not None:
            self.on_batch_row_done(row)  # progress and the report are per batch, not per row
            return
        text = redact(messages.outcome_text(result))
        with self._sessions() as session:
            approvers = workflow.approvers_of(session, request_id)
        self._notifier.refresh_request(row, approvers=approvers, outcome=text)
        same_channel = row.channel_id == row.approval_channel_id
        self._notifier.reply_in_thread(row, text, broadcast=same_channel)
        if row.channel_id and not same_channel:
            self._notifier.post(channel_id=row.channel_id, text=f"Request #{row.id}: {text}")
        self._notifier.dm(user_id=row.requester_id, text=redact(messages.outcome_dm(result)))
        if result.generated_password:
            self._notifier.dm(
                user_id=row.requester_id, text=messages.password_dm(row, result.generated_password)
            )
        self._record(request_id, "notified", detail={"status": row.status})
        self.on_request_changed(row)
        if self.settings.ops_channel and ops_alerts.needs_alert(row):
            self._alert_ops(row, text, channel_id=self.settings.ops_channel)

    def _alert_ops(self, row: SubaccountRequest, text: str, *, channel_id: str) -> None:
        posted = self._notifier.post(channel_id=channel_id, text=ops_alerts.alert_text(row, text))
        self._record(row.id, "ops_alerted", detail={"channel": channel_id, "posted": posted})

    def _record(
        self,
        request_id: int | None,
        kind: str,
        *,
        actor_id: str | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        with self._sessions.begin() as session:
            workflow.add_event(
                session, request_id=request_id, kind=kind, actor_id=actor_id, detail=detail
            )


def _on_another_message(row: SubaccountRequest, *, channel_id: str, message_ts: str | None) -> bool:
    """True when a click comes from a message that is not the request's approval message."""
    if message_ts is None or row.approval_ts is None:
        return False  # a reaction (found by its message), or a request not yet posted
    return (channel_id, message_ts) != (row.approval_channel_id, row.approval_ts)


_PRIVATE_ANSWERS = {
    DecisionOutcome.REFUSED: "You can't decide request #{id}: {reason}. (This was logged.)",
    DecisionOutcome.ALREADY_DECIDED: "Request #{id} is already {status}; nothing changed.",
    DecisionOutcome.ALREADY_APPROVED_BY_YOU: (
        "You already approved request #{id}; it is waiting for another approver."
    ),
}
_THREAD_DECISIONS = {
    DecisionOutcome.APPROVED: ":white_check_mark: Approved by <@{user}>. Creating it in Zoom…",
    DecisionOutcome.REJECTED: ":no_entry: Rejected by <@{user}>.",
}

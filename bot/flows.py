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

from bot import history, ops_alerts, request_again, workflow
from bot.background import BackgroundTasks
from bot.db.models import RequestStatus, SubaccountRequest
from bot.passwords import PasswordVault
from bot.pending_notices import send_expired_dm
from bot.policy import AccessPolicy, Verdict
from bot.provisioning import ZoomAccounts, provision
from bot.redaction import redact
from bot.slack import messages
from bot.slack.modal import request_modal
from bot.slack.notifier import Notifier
from bot.slack.request_list import request_list_text
from bot.validation import InvalidRequestError, RequestInput, ValidRequest, validate_request
from bot.workflow import Decision, DecisionOutcome

logger = logging.getLogger(__name__)


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
        # Set by the runtime to the provisioning worker's wake(): a job is due now.
        self.on_job_due: Callable[[], None] = lambda: None

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

    def submit(self, *, user_id: str, channel_id: str | None, raw: RequestInput) -> Submission:
        """Validate, authorize again (the allowlist may have changed), store, then announce."""
        try:
            request = validate_request(raw, require_reason=self.settings.require_reason)
        except InvalidRequestError as invalid:
            return Submission(errors=invalid.errors)
        verdict = self._policy.may_request(user_id)
        try:
            return self._store(
                user_id=user_id,
                channel_id=channel_id,
                request=request,
                allowed=verdict.allowed,
                reason=verdict.reason,
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

    def _decide(
        self,
        *,
        request_id: int,
        user_id: str,
        choice: Choice,
        channel_id: str,
        message_ts: str | None = None,
    ) -> None:
        with self._sessions() as session:
            row = session.get(SubaccountRequest, request_id)
        if row is None or row.status == RequestStatus.DENIED:
            self._record(
                None if row is None else row.id,
                f"{choice}_refused",
                actor_id=user_id,
                detail={"reason": "not a request this bot can decide", "request_id": request_id},
            )
            self._notifier.ephemeral(
                channel_id=channel_id,
                user_id=user_id,
                text="That is not a request this bot can decide.",
            )
            return
        if _on_another_message(row, channel_id=channel_id, message_ts=message_ts):
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
        self._render_decision(decision, user_id=user_id, channel_id=channel_id)

    def _decision(self, row: SubaccountRequest, *, user_id: str, choice: Choice) -> Decision:
        verdict = self._may_decide(row, user_id=user_id, choice=choice)
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

    def _may_decide(self, row: SubaccountRequest, *, user_id: str, choice: Choice) -> Verdict:
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

    def _render_decision(self, decision: Decision, *, user_id: str, channel_id: str) -> None:
        row, outcome = decision.request, decision.outcome
        private = _PRIVATE_ANSWERS.get(outcome)
        if private is not None:
            text = private.format(
                reason=decision.reason, status=row.status.replace("_", " "), id=row.id
            )
            self._notifier.ephemeral(channel_id=channel_id, user_id=user_id, text=text)
            return
        self._notifier.refresh_request(row, approvers=decision.approvers)
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
            self._notifier.ephemeral(
                channel_id=channel_id,
                user_id=user_id,
                text=f"Request #{row.id} expired before it was decided.",
            )
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

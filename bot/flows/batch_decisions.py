"""A bulk request's decision from Slack: a reaction or a click on its message, under the same
rules as a single request (bot/flows/decisions.py), recorded once for all its rows
(bot/batch_decisions.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.db.models import BatchStatus, RequestBatch
from bot.flows.batches import BulkParts, BulkSettings
from bot.requests import batch_decisions, batches
from bot.requests.workflow import DecisionOutcome
from bot.slack.render import messages
from bot.slack.render.batch_blocks import decision_dm, decision_reply

logger = logging.getLogger(__name__)
APPROVE, REJECT = "approve", "reject"


class BatchApprovals:
    def __init__(self, *, settings: BulkSettings, parts: BulkParts) -> None:
        self.settings = settings
        self._sessions = parts.sessions
        self._policy = parts.policy
        self._notifier = parts.notifier
        self._batches = parts.batches
        # Set by the runtime to the provisioning worker's wake(): the rows are due now.
        self.on_job_due: Callable[[], None] = lambda: None

    def react(self, *, user_id: str, choice: str, channel_id: str, ts: str) -> bool:
        """A reaction on a message that is no single request's: True when it is a batch's."""
        with self._sessions() as session:
            batch = batches.find_by_message(session, channel_id=channel_id, ts=ts)
        if batch is None:
            return False
        self.decide(batch_id=batch.id, user_id=user_id, choice=choice, channel_id=channel_id)
        return True

    def decide(
        self,
        *,
        batch_id: int,
        user_id: str,
        choice: str,
        channel_id: str,
        message_ts: str | None = None,
    ) -> None:
        """A click (`message_ts`: the message its button is on) or a reaction on the batch."""
        try:
            self._decide(batch_id, user_id, choice, channel_id, message_ts)
        except SQLAlchemyError as exc:
            logger.warning("a batch decision could not be recorded (%s)", type(exc).__name__)
            text = messages.unavailable_text() + " React or click again later."
            self._notifier.ephemeral(channel_id=channel_id, user_id=user_id, text=text)

    def _decide(
        self, batch_id: int, user_id: str, choice: str, channel_id: str, message_ts: str | None
    ) -> None:
        with self._sessions() as session:
            batch = session.get(RequestBatch, batch_id)
        if batch is None or batch.status == BatchStatus.DRAFT:
            text = "That is not a request this bot can decide."
            self._notifier.ephemeral(channel_id=channel_id, user_id=user_id, text=text)
            return
        reason = self._refusal(batch, user_id, choice, channel_id, message_ts)
        if reason is not None:
            decision = batch_decisions.refuse(
                self._sessions, batch_id=batch_id, actor_id=user_id, action=choice, reason=reason
            )
        else:
            decision = self._decision(batch_id, user_id, choice)
        self._render(decision, user_id=user_id, channel_id=channel_id, choice=choice)

    def _decision(self, batch_id: int, user_id: str, choice: str) -> batch_decisions.BatchDecision:
        def owe(session: Session, decided: batch_decisions.BatchDecision) -> None:
            self._owe_notices(session, decided, user_id=user_id)

        if choice == REJECT:
            return batch_decisions.reject(
                self._sessions, batch_id=batch_id, rejecter_id=user_id, ttl=self._ttl, owe=owe
            )
        return batch_decisions.approve(
            self._sessions,
            batch_id=batch_id,
            approver_id=user_id,
            required_approvals=self.settings.required_approvals,
            ttl=self._ttl,
            owe=owe,
        )

    @property
    def _ttl(self) -> timedelta:
        return self.settings.approval_ttl

    def _refusal(
        self,
        batch: RequestBatch,
        user_id: str,
        choice: str,
        channel_id: str,
        message_ts: str | None,
    ) -> str | None:
        if message_ts is not None and (channel_id, message_ts) != (
            batch.approval_channel_id,
            batch.approval_ts,
        ):
            # Slack only sends the value the bot put on that message's button.
            return "that button is not on this request's message"
        decide = self._policy.may_approve if choice == APPROVE else self._policy.may_reject
        verdict = decide(user_id, requester_id=batch.requester_id)
        return None if verdict.allowed else verdict.reason

    def _render(
        self,
        decision: batch_decisions.BatchDecision,
        *,
        user_id: str,
        channel_id: str,
        choice: str,
    ) -> None:
        batch, outcome = decision.batch, decision.outcome
        private = _PRIVATE_ANSWERS.get(outcome)
        if outcome == DecisionOutcome.ALREADY_DECIDED:
            self._record_refusal(batch, user_id, choice)
        if private is not None:
            status = batch.status.replace("_", " ")
            text = private.format(id=batch.id, reason=decision.reason, status=status)
            self._notifier.ephemeral(channel_id=channel_id, user_id=user_id, text=text)
            return
        # Its notices were owed in the transaction that decided it (see _owe_notices), so they
        # were committed before any row could be provisioned: progress queues behind them.
        if outcome == DecisionOutcome.APPROVED:
            self.on_job_due()
        if outcome == DecisionOutcome.EXPIRED:
            text = f"Bulk request #{batch.id} expired before it was decided."
            self._notifier.ephemeral(channel_id=channel_id, user_id=user_id, text=text)

    def _owe_notices(
        self, session: Session, decision: batch_decisions.BatchDecision, *, user_id: str
    ) -> None:
        """The message (rendered as the batch then stands), a line in its thread, the
        requester's DM: added to the deciding transaction, so all are owed or none is."""
        batch, outcome = decision.batch, decision.outcome
        self._batches.refresh(batch.id, db=session)
        if outcome == DecisionOutcome.WAITING_FOR_MORE:
            needed = self.settings.required_approvals
            text = f"<@{user_id}> approved ({len(decision.approvers)} of {needed} approvals)."
            self._batches.reply(batch, text, db=session)
            return
        if outcome != DecisionOutcome.EXPIRED:
            self._batches.reply(batch, decision_reply(batch, user_id=user_id), db=session)
        self._notifier.dm(user_id=batch.requester_id, text=decision_dm(batch), db=session)

    def _record_refusal(self, batch: RequestBatch, user_id: str, choice: str) -> None:
        # Nothing changes, but a decision attempt on a closed request is still audited.
        with self._sessions.begin() as session:
            status = batch.status.replace("_", " ")
            batches.add_batch_event(
                session,
                batch_id=batch.id,
                kind=f"{choice}_refused",
                actor_id=user_id,
                detail={"reason": f"the request is already {status}"},
            )


_PRIVATE_ANSWERS = {
    DecisionOutcome.REFUSED: "You can't decide bulk request #{id}: {reason}. (This was logged.)",
    DecisionOutcome.ALREADY_DECIDED: "Bulk request #{id} is already {status}; nothing changed.",
    DecisionOutcome.ALREADY_APPROVED_BY_YOU: (
        "You already approved bulk request #{id}; it is waiting for another approver."
    ),
}

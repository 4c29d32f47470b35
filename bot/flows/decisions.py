"""Approvals: a reaction, a button in the channel or on the App Home, checked against who may
decide, recorded by the workflow, and told to the channel, the requester and the decider."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import RequestStatus, SubaccountRequest
from bot.flows.common import Choice, FlowHooks, FlowSettings, logger, record_event
from bot.flows.pending_notices import send_expired_dm
from bot.requests import workflow
from bot.requests.policy import AccessPolicy, Verdict
from bot.requests.workflow import Decision, DecisionOutcome
from bot.slack.notifier import Notifier
from bot.slack.render import messages

# How the person who decided is told what only they should see: an ephemeral in the channel
# they clicked or reacted in, or the notice on their App Home.
Tell = Callable[[str], object]


class Decisions:
    def __init__(
        self,
        *,
        settings: FlowSettings,
        sessions: sessionmaker[Session],
        policy: AccessPolicy,
        notifier: Notifier,
        hooks: FlowHooks,
        bot_user_id: str | None,
        escalation: AccessPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._policy = policy
        self._notifier = notifier
        self._hooks = hooks
        self._bot_user_id = bot_user_id
        # ESCALATION_APPROVERS as approvers: they may decide a request once it is escalated.
        self._escalation = escalation

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
        choice = self.choice_for(reaction)
        if choice is None or user_id == self._bot_user_id:
            return
        with self._sessions() as session:
            row = workflow.find_by_message(session, channel_id=channel_id, ts=ts)
        if row is None and self._hooks.on_batch_reaction(
            user_id=user_id, choice=choice, channel_id=channel_id, ts=ts
        ):
            return
        if row is None:
            # One of the bot's own messages (the listener dropped everyone else's) that no
            # request claims yet: its ts may be on its way to the database. Kept, and applied
            # once a request is posted there (apply_held).
            workflow.hold_reaction(
                self._sessions, channel_id=channel_id, ts=ts, user_id=user_id, reaction=reaction
            )
            return
        # The row just read is the one decided on: reading it again would only cost a round trip.
        self._decide_on(
            row, request_id=row.id, user_id=user_id, choice=choice, channel_id=channel_id
        )

    def apply_held(self, request_id: int, channel_id: str, ts: str) -> None:
        """Request `request_id` was just posted at (channel_id, ts): the reactions that came
        first count now, each once (the held row is deleted by whoever applies it)."""
        for held in workflow.take_held_reactions(self._sessions, channel_id=channel_id, ts=ts):
            logger.info("request %s: applying a reaction that came before its ts", request_id)
            self.react(user_id=held.user_id, reaction=held.reaction, channel_id=channel_id, ts=ts)

    def choice_for(self, reaction: str) -> Choice | None:
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
        with self._sessions() as session:
            row = session.get(SubaccountRequest, request_id)
        self._decide_on(
            row,
            request_id=request_id,
            user_id=user_id,
            choice=choice,
            channel_id=channel_id,
            message_ts=message_ts,
            tell=tell,
        )

    def _decide_on(
        self,
        row: SubaccountRequest | None,
        *,
        request_id: int,
        user_id: str,
        choice: Choice,
        channel_id: str,
        message_ts: str | None = None,
        tell: Tell | None = None,
    ) -> None:
        """`row`: the request as just read (None: there is no request `request_id`)."""
        if tell is None:
            tell = self._ephemeral_to(channel_id=channel_id, user_id=user_id)
        if row is None or row.status == RequestStatus.DENIED:
            record_event(
                self._sessions,
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
            decision = self._refuse(row, user_id=user_id, choice=choice, reason=reason)
        elif _on_another_message(row, channel_id=channel_id, message_ts=message_ts):
            # Slack only sends the value the bot put on that message's button: a value naming
            # another request is a forged or corrupted payload and decides nothing.
            reason = "that button is not on this request's message"
            decision = self._refuse(row, user_id=user_id, choice=choice, reason=reason)
        else:
            decision = self._decision(row, user_id=user_id, choice=choice)
        self._render_decision(decision, user_id=user_id, tell=tell)

    def _ephemeral_to(self, *, channel_id: str, user_id: str) -> Tell:
        return lambda text: self._notifier.ephemeral(
            channel_id=channel_id, user_id=user_id, text=text
        )

    @property
    def bot_user_id(self) -> str | None:
        return self._bot_user_id

    def _decision(self, row: SubaccountRequest, *, user_id: str, choice: Choice) -> Decision:
        verdict = self.may_decide(row, user_id=user_id, choice=choice)
        if not verdict.allowed:
            return self._refuse(row, user_id=user_id, choice=choice, reason=verdict.reason)

        def owe(session: Session, decided: Decision) -> None:
            self._owe_decision_notices(session, decided, user_id=user_id)

        if choice == Choice.REJECT:
            decision = workflow.reject(
                self._sessions,
                request_id=row.id,
                rejecter_id=user_id,
                ttl=self.settings.approval_ttl,
                owe=owe,
            )
        else:
            decision = workflow.approve(
                self._sessions,
                request_id=row.id,
                approver_id=user_id,
                required_approvals=self.settings.required_approvals,
                ttl=self.settings.approval_ttl,
                owe=owe,
            )
        if decision.outcome == DecisionOutcome.ALREADY_DECIDED:
            # Nothing changes, but a decision attempt on a closed request is still audited.
            status = decision.request.status.replace("_", " ")
            record_event(
                self._sessions,
                row.id,
                f"{choice}_refused",
                actor_id=user_id,
                detail={"reason": f"the request is already {status}"},
            )
        return decision

    def _refuse(
        self, row: SubaccountRequest, *, user_id: str, choice: Choice, reason: str
    ) -> Decision:
        """The refusal's audit row alone: the answer needs only the row already read, so the
        one transaction is an INSERT (no read-back of the row)."""
        record_event(
            self._sessions,
            row.id,
            f"{choice}_refused",
            actor_id=user_id,
            detail={"reason": reason},
        )
        return Decision(DecisionOutcome.REFUSED, row, reason=reason)

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
        # The decision's notices committed with it, before the job could see it: the job's own
        # thread reply always queues behind "approved by …" in the channel's queue.
        self._announce(decision, user_id=user_id, tell=tell)
        if decision.outcome == DecisionOutcome.APPROVED:
            self._hooks.on_job_due()

    def _announce(self, decision: Decision, *, user_id: str, tell: Tell) -> None:
        row, outcome = decision.request, decision.outcome
        private = _PRIVATE_ANSWERS.get(outcome)
        if private is not None:
            text = private.format(
                reason=decision.reason, status=row.status.replace("_", " "), id=row.id
            )
            tell(text)
            return
        if outcome == DecisionOutcome.EXPIRED:
            tell(f"Request #{row.id} expired before it was decided.")
        # Its notices were owed in the transaction that decided it (see _decision).
        self._hooks.on_request_changed(row)

    def _owe_decision_notices(self, session: Session, decision: Decision, *, user_id: str) -> None:
        """The message updated in place, a line in its thread, the requester's DM: one
        transaction, so they are all owed or none is."""
        row, outcome = decision.request, decision.outcome
        self._notifier.refresh_request(row, db=session)
        if outcome == DecisionOutcome.WAITING_FOR_MORE:
            needed = self.settings.required_approvals
            text = f"<@{user_id}> approved ({len(decision.approvers)} of {needed} approvals)."
            self._notifier.reply_in_thread(row, text, db=session)
        elif outcome == DecisionOutcome.EXPIRED:
            send_expired_dm(self._notifier, row, db=session)
        else:
            text = _THREAD_DECISIONS[outcome].format(user=user_id)
            self._notifier.reply_in_thread(row, text, db=session)
            self._notifier.dm(
                user_id=row.requester_id,
                text=messages.decision_dm(row),
                request_id=row.id,
                db=session,
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

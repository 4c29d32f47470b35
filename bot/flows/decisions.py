"""Decisions from Slack on any request, of one account or of many: a reaction on its message, a
button in the channel or on the App Home. One path for all of them: checked against who may
decide, recorded by bot/requests/decisions.py, told through the request's DecisionNotices."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import BatchStatus, RequestStatus, SubaccountRequest
from bot.flows.common import (
    Choice,
    FlowSettings,
    logger,
    owe_home_refresh,
    record_event,
)
from bot.flows.decision_notices import DecisionNotices, private_answer
from bot.flows.unavailable import DatabaseDown, when_database_down
from bot.requests import batches, decisions, workflow
from bot.requests.decisions import Decision, DecisionOutcome
from bot.requests.events import refused_kind
from bot.requests.policy import AccessPolicy, Verdict
from bot.requests.subjects import Head, Scope, Subject
from bot.slack.notifier import Notifier

# How the person who decided is told what only they should see: an ephemeral in the channel
# they clicked or reacted in, or the notice on their App Home.
Tell = Callable[[str], object]
RETRY = " React or click again later."
# What the requester's App Home shows changed (an approval that waits for more included).
_CHANGED = {
    DecisionOutcome.APPROVED,
    DecisionOutcome.REJECTED,
    DecisionOutcome.EXPIRED,
    DecisionOutcome.WAITING_FOR_MORE,
}


class Decisions:
    def __init__(
        self,
        *,
        settings: FlowSettings,
        sessions: sessionmaker[Session],
        policy: AccessPolicy,
        notifier: Notifier,
        notices: dict[Scope, DecisionNotices],
        jobs_due: Callable[[], None],
        bot_user_id: str | None,
        escalation: AccessPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._policy = policy
        self._notifier = notifier
        self._notices = notices
        self._jobs_due = jobs_due  # the provisioning worker's wake: accounts are due at Zoom
        self._bot_user_id = bot_user_id
        # ESCALATION_APPROVERS as approvers: they may decide a request once it is escalated.
        self._escalation = escalation

    @property
    def bot_user_id(self) -> str | None:
        return self._bot_user_id

    # -- what Slack sends ----------------------------------------------------------------------

    def react(self, *, user_id: str, reaction: str, channel_id: str, ts: str) -> None:
        with self._database_down(channel_id, user_id):
            self._react(user_id=user_id, reaction=reaction, channel_id=channel_id, ts=ts)

    def decide(
        self,
        subject: Subject,
        *,
        user_id: str,
        choice: Choice,
        channel_id: str,
        message_ts: str | None = None,
    ) -> None:
        """A button click: `message_ts` is the message the clicked button is on."""
        with self._database_down(channel_id, user_id):
            with self._sessions() as session:
                head = subject.find(session)
            tell = self._ephemeral_to(channel_id=channel_id, user_id=user_id)
            clicked_on = (channel_id, message_ts)
            self._decide_on(subject, head, user_id, choice, tell=tell, clicked_on=clicked_on)

    def decide_in_view(self, *, request_id: int, user_id: str, choice: Choice) -> str | None:
        """A button on the App Home: the channel's rules and code path, without the message
        check (a view has no message). Returns what only the clicker should be told, or None
        when their decision was recorded and the channel says so."""
        told: list[str] = []
        with when_database_down("a decision", tell=told.append, then=" Click again later."):
            subject = Subject.one(request_id)
            with self._sessions() as session:
                head = session.get(SubaccountRequest, request_id)
            self._decide_on(subject, head, user_id, choice, tell=told.append, clicked_on=None)
        return "\n".join(told) or None

    def apply_held(self, request_id: int, channel_id: str, ts: str) -> None:
        """A request (of one or many) was just posted at (channel_id, ts): the reactions that
        came first count now, each once (the held row is deleted by whoever applies it)."""
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

    # -- who may decide ------------------------------------------------------------------------

    def decides_any(self, user_id: str) -> bool:
        """On the approver list or the escalation approver list (the Home tab's question)."""
        if self._policy.is_approver(user_id):
            return True
        return self._escalation is not None and self._escalation.is_approver(user_id)

    def may_decide(self, head: Head, *, user_id: str, choice: Choice) -> Verdict:
        policies = [self._policy]
        escalated = isinstance(head, SubaccountRequest) and head.escalated_at is not None
        if escalated and self._escalation is not None:
            policies.append(self._escalation)
        verdict = Verdict(allowed=False)
        for policy in policies:
            decide = policy.may_approve if choice == Choice.APPROVE else policy.may_reject
            verdict = decide(user_id, requester_id=head.requester_id)
            if verdict.allowed:
                break
        return verdict

    # -- the one decision path -----------------------------------------------------------------

    def _react(self, *, user_id: str, reaction: str, channel_id: str, ts: str) -> None:
        choice = self.choice_for(reaction)
        if choice is None or user_id == self._bot_user_id:
            return
        found = self._find_by_message(channel_id, ts)
        if found is None:
            # One of the bot's own messages (the listener dropped everyone else's) that no
            # request claims yet: its ts may be on its way to the database. Kept, and applied
            # once a request is posted there (apply_held).
            workflow.hold_reaction(
                self._sessions, channel_id=channel_id, ts=ts, user_id=user_id, reaction=reaction
            )
            return
        # The row just read is the one decided on: reading it again would only cost a round trip.
        subject, head = found
        tell = self._ephemeral_to(channel_id=channel_id, user_id=user_id)
        self._decide_on(subject, head, user_id, choice, tell=tell, clicked_on=None)

    def _find_by_message(self, channel_id: str, ts: str) -> tuple[Subject, Head] | None:
        with self._sessions() as session:
            row = workflow.find_by_message(session, channel_id=channel_id, ts=ts)
            if row is not None:
                return Subject.one(row.id), row
            batch = batches.find_by_message(session, channel_id=channel_id, ts=ts)
            return None if batch is None else (Subject.many(batch.id), batch)

    def _decide_on(
        self,
        subject: Subject,
        head: Head | None,
        user_id: str,
        choice: Choice,
        *,
        tell: Tell,
        clicked_on: tuple[str, str | None] | None,
    ) -> None:
        """`head`: the request as just read (None: there is none); `clicked_on`: the channel
        and message of a clicked button (None: a reaction or the App Home)."""
        if head is None or head.status in (RequestStatus.DENIED, BatchStatus.DRAFT):
            self._not_decidable(subject, head, user_id, choice)
            tell("That is not a request this bot can decide.")
            return
        reason = _refusal(head, clicked_on)
        if reason is not None:
            decision = self._refuse(subject, head, user_id=user_id, choice=choice, reason=reason)
        else:
            decision = self._decision(subject, head, user_id=user_id, choice=choice)
        self._announce(subject, decision, tell=tell)

    def _not_decidable(
        self, subject: Subject, head: Head | None, user_id: str, choice: Choice
    ) -> None:
        request_id = head.id if isinstance(head, SubaccountRequest) else None
        named = "request_id" if subject.scope == Scope.ONE else "batch_id"
        detail = {"reason": "not a request this bot can decide", named: subject.id}
        kind = refused_kind(choice)
        record_event(self._sessions, request_id, kind, actor_id=user_id, detail=detail)

    def _decision(self, subject: Subject, head: Head, *, user_id: str, choice: Choice) -> Decision:
        verdict = self.may_decide(head, user_id=user_id, choice=choice)
        if not verdict.allowed:
            return self._refuse(
                subject, head, user_id=user_id, choice=choice, reason=verdict.reason
            )
        notices = self._notices[subject.scope]

        def owe(session: Session, decided: Decision) -> None:
            notices.owe(session, decided, user_id=user_id)

        ttl = self.settings.approval_ttl
        if choice == Choice.REJECT:
            decision = decisions.reject(
                self._sessions, subject, rejecter_id=user_id, ttl=ttl, owe=owe
            )
        else:
            required = self.settings.required_approvals
            decision = decisions.approve(
                self._sessions,
                subject,
                approver_id=user_id,
                required_approvals=required,
                ttl=ttl,
                owe=owe,
            )
        if decision.outcome == DecisionOutcome.ALREADY_DECIDED:
            # Nothing changes, but a decision attempt on a closed request is still audited.
            status = decision.head.status.replace("_", " ")
            self._record_refusal(subject, user_id, choice, f"the request is already {status}")
        return decision

    def _refuse(
        self, subject: Subject, head: Head, *, user_id: str, choice: Choice, reason: str
    ) -> Decision:
        """The refusal's audit row alone: the answer needs only the row already read, so the
        one transaction is an INSERT (no read-back of the row)."""
        self._record_refusal(subject, user_id, choice, reason)
        return Decision(DecisionOutcome.REFUSED, head, reason=reason)

    def _record_refusal(self, subject: Subject, user_id: str, choice: Choice, reason: str) -> None:
        with self._sessions.begin() as session:
            kind = refused_kind(choice)
            subject.event(session, kind=kind, actor_id=user_id, detail={"reason": reason})

    def _announce(self, subject: Subject, decision: Decision, *, tell: Tell) -> None:
        """Its notices were owed in the transaction that decided it, before any job could see
        it: the job's own thread reply always queues behind "approved by …"."""
        answer = private_answer(decision, noun=self._notices[subject.scope].noun)
        if answer is not None:
            tell(answer)
        if decision.outcome == DecisionOutcome.APPROVED:
            self._jobs_due()
        if subject.scope == Scope.ONE and decision.outcome in _CHANGED:
            owe_home_refresh(self._sessions, decision.request.requester_id)

    def _ephemeral_to(self, *, channel_id: str, user_id: str) -> Tell:
        return lambda text: self._notifier.ephemeral(
            channel_id=channel_id, user_id=user_id, text=text
        )

    def _database_down(self, channel_id: str, user_id: str) -> DatabaseDown:
        """The decision could not be recorded: the person is told to try again."""
        tell = self._ephemeral_to(channel_id=channel_id, user_id=user_id)
        return when_database_down("a decision", tell=tell, then=RETRY)


def _refusal(head: Head, clicked_on: tuple[str, str | None] | None) -> str | None:
    if isinstance(head, SubaccountRequest) and head.batch_id is not None:
        # An account of a bulk request is decided with its batch, on the batch's message only.
        return f"it is part of bulk request #{head.batch_id}; decide the whole batch"
    if clicked_on is not None and _on_another_message(head, *clicked_on):
        # Slack only sends the value the bot put on that message's button: a value naming
        # another request is a forged or corrupted payload and decides nothing.
        return "that button is not on this request's message"
    return None


def _on_another_message(head: Head, channel_id: str, message_ts: str | None) -> bool:
    """True when a click comes from a message that is not the request's approval message."""
    if message_ts is None or head.approval_ts is None:
        return False  # a request not yet posted
    return (channel_id, message_ts) != (head.approval_channel_id, head.approval_ts)

"""What a decision tells people, for a request of one account and for a bulk request: the only
part of a decision that differs between them. Each `owe` adds the message's update, a line in
its thread and the requester's DM to the transaction that decided, so all are owed or none is."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from bot.flows.pending_notices import send_expired_dm
from bot.requests.decisions import Decision, DecisionOutcome
from bot.requests.subjects import Subject
from bot.slack.notifier import Notifier
from bot.slack.render import messages
from bot.slack.render.batch_blocks import decision_dm, decision_reply


class DecisionNotices(Protocol):
    noun: str  # how the request is named to the person who decided ("request #12")

    def owe(self, session: Session, decision: Decision, *, user_id: str) -> None: ...


def waiting_text(decision: Decision, *, user_id: str, required_approvals: int) -> str:
    return f"<@{user_id}> approved ({len(decision.approvers)} of {required_approvals} approvals)."


class RequestNotices:
    """A request of one account: its own message, thread and DM."""

    noun = "request"

    def __init__(self, notifier: Notifier, *, required_approvals: int) -> None:
        self._notifier = notifier
        self._required = required_approvals

    def owe(self, session: Session, decision: Decision, *, user_id: str) -> None:
        row, outcome, notifier = decision.request, decision.outcome, self._notifier
        notifier.refresh(Subject.one(row.id), db=session)
        if outcome == DecisionOutcome.WAITING_FOR_MORE:
            text = waiting_text(decision, user_id=user_id, required_approvals=self._required)
            notifier.reply(row, text, db=session)
        elif outcome == DecisionOutcome.EXPIRED:
            send_expired_dm(notifier, row, db=session)
        else:
            text = _THREAD_DECISIONS[outcome].format(user=user_id)
            notifier.reply(row, text, db=session)
            dm = messages.decision_dm(row)
            notifier.dm(user_id=row.requester_id, text=dm, request_id=row.id, db=session)


class BatchNotices:
    """A bulk request: its message (rendered as the batch then stands), thread and DM."""

    noun = "bulk request"

    def __init__(self, notifier: Notifier, *, required_approvals: int) -> None:
        self._notifier = notifier
        self._required = required_approvals

    def owe(self, session: Session, decision: Decision, *, user_id: str) -> None:
        batch, outcome = decision.batch, decision.outcome
        self._notifier.refresh(Subject.many(batch.id), db=session)
        if outcome == DecisionOutcome.WAITING_FOR_MORE:
            text = waiting_text(decision, user_id=user_id, required_approvals=self._required)
            self._notifier.reply(batch, text, db=session)
            return
        if outcome != DecisionOutcome.EXPIRED:
            self._notifier.reply(batch, decision_reply(batch, user_id=user_id), db=session)
        self._notifier.dm(user_id=batch.requester_id, text=decision_dm(batch), db=session)


def private_answer(decision: Decision, *, noun: str) -> str | None:
    """What only the person who decided is told (None: the channel says it)."""
    template = _PRIVATE_ANSWERS.get(decision.outcome)
    if template is None:
        return None
    status = decision.head.status.replace("_", " ")
    answer = template.format(noun=noun, id=decision.head.id, reason=decision.reason, status=status)
    return answer[0].upper() + answer[1:]


_PRIVATE_ANSWERS = {
    DecisionOutcome.REFUSED: "You can't decide {noun} #{id}: {reason}. (This was logged.)",
    DecisionOutcome.ALREADY_DECIDED: "{noun} #{id} is already {status}; nothing changed.",
    DecisionOutcome.ALREADY_APPROVED_BY_YOU: (
        "You already approved {noun} #{id}; it is waiting for another approver."
    ),
    DecisionOutcome.EXPIRED: "{noun} #{id} expired before it was decided.",
}
_THREAD_DECISIONS = {
    DecisionOutcome.APPROVED: ":white_check_mark: Approved by <@{user}>. Creating it in Zoom…",
    DecisionOutcome.REJECTED: ":no_entry: Rejected by <@{user}>.",
}

"""What people are told when the sweep reminds, escalates or expires a pending request.

Owed in the transaction that takes the step (reminders.py), so a step and its notices commit
together; the outbox delivers them (bot/delivery/).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import SubaccountRequest
from bot.delivery.outbox import Db
from bot.durations import describe
from bot.requests.policy import Directory
from bot.requests.reminders import PendingSchedule, Step, SweepStep
from bot.requests.subjects import Subject
from bot.slack.notifier import Notifier
from bot.slack.render import messages
from bot.slack.render.blocks import escape, mention, mention_entry, request_again_message

logger = logging.getLogger(__name__)

MAX_ESCALATION_DMS = 50  # a user group can be large; the thread mention still reaches everyone


class PendingNotices:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        notifier: Notifier,
        schedule: PendingSchedule,
        approvers: list[str],
        escalation_approvers: list[str],
        directory: Directory,
    ) -> None:
        self._sessions = sessions
        self._notifier = notifier
        self._schedule = schedule
        self._approvers = approvers
        self._escalation_approvers = escalation_approvers
        self._directory = directory

    def owe(self, session: Session, taken: SweepStep) -> None:
        """Add what the step `taken` owes Slack to the transaction that took it."""
        row = session.get_one(SubaccountRequest, taken.request_id, populate_existing=True)
        if taken.step == Step.EXPIRED:
            self.expired(session, row)
        elif taken.step == Step.ESCALATED:
            self.escalated(session, row)
        else:
            self.reminded(session, row)

    def reminded(self, session: Session, row: SubaccountRequest) -> None:
        waited = _waited(self._schedule.remind_after)
        who = " ".join(mention_entry(entry) for entry in self._approvers)
        self._notifier.reply(
            row,
            f":alarm_clock: Request #{row.id} has waited {waited} for a decision. {who}: "
            "please approve or reject it.",
            db=session,
        )

    def escalated(self, session: Session, row: SubaccountRequest) -> None:
        waited = _waited(self._schedule.escalate_after)
        who = " ".join(mention_entry(entry) for entry in self._escalation_approvers)
        self._notifier.reply(
            row,
            f":rotating_light: Request #{row.id} has had no decision for {waited}: escalated to "
            f"{who}, who may now approve or reject it here.",
            db=session,
        )
        where = f" in <#{row.approval_channel_id}>" if row.approval_channel_id else ""
        text = (
            f":rotating_light: Zoom sub account request #{row.id} from "
            f"{mention(row.requester_id)} for {escape(row.email or '')} has waited {waited} "
            f"and was escalated to you. Approve or reject it on its message{where}."
        )
        # The directory answers from its cache (a Slack look-up at most every few minutes).
        for user_id in self._escalation_user_ids(exclude=row.requester_id):
            self._notifier.dm(user_id=user_id, text=text, request_id=row.id, db=session)

    def expired(self, session: Session, row: SubaccountRequest) -> None:
        self._notifier.refresh(Subject.one(row.id), db=session)
        self._notifier.reply(
            row,
            f":clock3: Request #{row.id} expired: no decision within "
            f"{describe(self._schedule.approval_ttl)}.",
            db=session,
        )
        send_expired_dm(self._notifier, row, db=session)

    def _escalation_user_ids(self, *, exclude: str) -> list[str]:
        found: list[str] = []
        for entry in self._escalation_approvers:
            if "@" in entry:
                user_id = self._directory.user_id_for_email(entry)
                found.extend([user_id] if user_id else [])
            elif entry.startswith("S"):
                found.extend(sorted(self._directory.usergroup_members(entry)))
            else:
                found.append(entry)
        unique = [user_id for user_id in dict.fromkeys(found) if user_id != exclude]
        return unique[:MAX_ESCALATION_DMS]


def send_expired_dm(notifier: Notifier, row: SubaccountRequest, *, db: Db | None = None) -> bool:
    """The requester's news of an expiry, with the button that asks again (also sent when a
    late decision expires the request)."""
    rendered = request_again_message(row, messages.decision_dm(row))
    return notifier.dm(
        user_id=row.requester_id,
        text=rendered.text,
        blocks=rendered.blocks,
        request_id=row.id,
        db=db,
    )


def _waited(after: timedelta | None) -> str:
    return f"more than {describe(after)}" if after is not None else "a long time"

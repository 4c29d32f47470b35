"""The worker's repairs, run at start and every few minutes: what an event, a crash or a lost
transaction may have left undone is found in the database (or in Slack) and done.

- Decisions whose `reaction_added` never arrived: `reactions.get` on each pending request's
  message, each approver's or rejecter's reaction applied as if its event had come.
- Requests owed an approval message that no outbox row will post (rows from before the outbox).
- Finished requests whose outcome was never told (no `notified` event).
- Held reactions whose message a request now claims (the request was posted, then the worker
  died before applying them); held ones older than a day are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import (
    HeldReaction,
    RequestBatch,
    RequestEvent,
    RequestStatus,
    SlackOutbox,
    SubaccountRequest,
)
from bot.delivery import outbox
from bot.delivery.slack_errors import SlackFailure, classify
from bot.flows.common import Choice
from bot.flows.decisions import Decisions
from bot.flows.outcomes import Outcomes, settled_result
from bot.requests.events import EventKind

logger = logging.getLogger(__name__)

BATCH = 200
SETTLE = timedelta(seconds=60)  # younger than this, a request's own path may still be at work
HELD_FOR = timedelta(days=1)
FINISHED = (RequestStatus.CREATED, RequestStatus.FAILED, RequestStatus.UNKNOWN)


class Repairs:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        client: WebClient,
        decisions: Decisions,
        outcomes: Outcomes,
        approval_channel: str | None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._decisions = decisions
        self._outcomes = outcomes
        self._approval_channel = approval_channel
        self._now = now

    def run_all(self) -> None:
        self.owe_missing_posts()
        self.tell_missing_outcomes()
        self.apply_held_reactions()
        self.apply_held_batch_reactions()

    # -- reactions whose events never came --------------------------------------------------

    def reconcile_reactions(self) -> int:
        """Apply the decisions found on pending requests' messages; returns how many."""
        applied = 0
        for row in self._pending_posted():
            try:
                reactions = self._reactions_on(row)
            except SlackFailure as failure:
                logger.info("reactions.get on request %s failed: %s", row.id, failure.error)
                continue
            applied += self._apply(row, reactions)
        return applied

    def _pending_posted(self) -> list[SubaccountRequest]:
        with self._sessions() as session:
            rows = list(
                session.scalars(
                    select(SubaccountRequest)
                    .where(
                        SubaccountRequest.status == RequestStatus.PENDING_APPROVAL,
                        SubaccountRequest.approval_ts.is_not(None),
                        SubaccountRequest.batch_id.is_(None),
                    )
                    .order_by(SubaccountRequest.id)
                    .limit(BATCH)
                )
            )
            session.expunge_all()
        return rows

    def _reactions_on(self, row: SubaccountRequest) -> list[dict[str, object]]:
        try:
            response = self._client.reactions_get(
                channel=row.approval_channel_id or "", timestamp=row.approval_ts or "", full=True
            )
        except Exception as exc:  # noqa: BLE001 - classified; an unknown kind re-raises
            raise classify(exc) from None
        message = response.get("message") or {}
        return list(message.get("reactions") or [])

    def _apply(self, row: SubaccountRequest, reactions: list[dict[str, object]]) -> int:
        applied = 0
        with self._sessions() as session:
            already = set(
                session.scalars(
                    select(RequestEvent.actor_id).where(
                        RequestEvent.request_id == row.id,
                        RequestEvent.kind.in_(
                            (
                                EventKind.APPROVAL,
                                EventKind.APPROVE_REFUSED,
                                EventKind.REJECT_REFUSED,
                            )
                        ),
                    )
                )
            )
        for reaction in reactions:
            name = str(reaction.get("name") or "")
            choice = self._decisions.choice_for(name)
            users = reaction.get("users")
            if choice is None or not isinstance(users, list):
                continue
            for user_id in (str(user) for user in users):
                if user_id in already or user_id == self._decisions.bot_user_id:
                    continue
                # Only what would have counted: nobody is refused again every few minutes.
                if not self._decisions.may_decide(row, user_id=user_id, choice=choice).allowed:
                    continue
                logger.info("request %s: a %s whose event never came", row.id, choice)
                self._decisions.react(
                    user_id=user_id,
                    reaction=name,
                    channel_id=row.approval_channel_id or "",
                    ts=row.approval_ts or "",
                )
                applied += 1
                if choice == Choice.REJECT:
                    return applied
        return applied

    # -- rows the outbox never got ------------------------------------------------------------

    def owe_missing_posts(self) -> None:
        cutoff = self._now() - SETTLE
        owed_post = exists().where(
            SlackOutbox.request_id == SubaccountRequest.id,
            SlackOutbox.kind == outbox.Kind.REQUEST_POST,
        )
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(SubaccountRequest)
                .where(
                    SubaccountRequest.status == RequestStatus.PENDING_APPROVAL,
                    SubaccountRequest.approval_ts.is_(None),
                    SubaccountRequest.batch_id.is_(None),
                    SubaccountRequest.created_at < cutoff,
                    ~owed_post,
                )
                .limit(BATCH)
            ).all()
            for row in rows:
                channel = self._approval_channel or row.approval_channel_id or row.channel_id
                if channel:
                    logger.info("request %s: owed its approval message again", row.id)
                    owed = outbox.request_post(
                        row.id, channel_id=channel, requester_id=row.requester_id
                    )
                    outbox.owe(session, owed)

    def tell_missing_outcomes(self) -> None:
        cutoff = self._now() - SETTLE
        notified = exists().where(
            RequestEvent.request_id == SubaccountRequest.id, RequestEvent.kind == EventKind.NOTIFIED
        )
        with self._sessions() as session:
            ids = list(
                session.scalars(
                    select(SubaccountRequest.id)
                    .where(
                        SubaccountRequest.status.in_(FINISHED),
                        SubaccountRequest.batch_id.is_(None),
                        SubaccountRequest.updated_at < cutoff,
                        ~notified,
                    )
                    .limit(BATCH)
                )
            )
        for request_id in ids:
            with self._sessions.begin() as session:
                row = session.get_one(SubaccountRequest, request_id)
                result = settled_result(session, row)
                if result is not None:
                    logger.info("request %s: its outcome was never told; owed now", request_id)
                    self._outcomes.owe_outcome_notices(session, result)

    def apply_held_reactions(self) -> None:
        with self._sessions.begin() as session:
            session.execute(
                delete(HeldReaction).where(HeldReaction.received_at < self._now() - HELD_FOR)
            )
            matched = session.execute(
                select(SubaccountRequest.id, HeldReaction.channel_id, HeldReaction.message_ts)
                .join(
                    SubaccountRequest,
                    (SubaccountRequest.approval_channel_id == HeldReaction.channel_id)
                    & (SubaccountRequest.approval_ts == HeldReaction.message_ts),
                )
                .distinct()
            ).all()
        for request_id, channel_id, ts in matched:
            self._decisions.apply_held(request_id, channel_id, ts)

    def apply_held_batch_reactions(self) -> None:
        """The same for bulk requests' messages: Decisions.apply_held finds the batch by its
        message, as it finds a request of one."""
        with self._sessions() as session:
            matched = session.execute(
                select(RequestBatch.id, HeldReaction.channel_id, HeldReaction.message_ts)
                .join(
                    RequestBatch,
                    (RequestBatch.approval_channel_id == HeldReaction.channel_id)
                    & (RequestBatch.approval_ts == HeldReaction.message_ts),
                )
                .distinct()
            ).all()
        for batch_id, channel_id, ts in matched:
            self._decisions.apply_held(batch_id, channel_id, ts)

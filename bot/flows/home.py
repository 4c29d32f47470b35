"""The App Home tab: what it shows a person (their recent requests, and the pending requests they
may decide), published when they open it and again after a decision they make from it.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.views import View
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.audit import history
from bot.db.models import RequestStatus, SubaccountRequest
from bot.flows.common import Choice, owe_home_refresh
from bot.flows.decisions import Decisions
from bot.flows.unavailable import when_database_down
from bot.requests.subjects import Subject
from bot.slack.render.home_view import HomeContent, Waiting, home_view

logger = logging.getLogger(__name__)

MINE_SHOWN = history.RECENT_LIMIT
# Two blocks each; with the other sections the Home stays well under Slack's 100 blocks.
WAITING_SHOWN = 20
REMEMBERED_VIEWERS = 1000


def team_domain_from_url(workspace_url: str) -> str:
    """auth.test's `url` (https://acme.slack.com/) → "acme", what permalinks are built on."""
    host = urlsplit(workspace_url).hostname or ""
    return host.removesuffix(".slack.com") if host.endswith(".slack.com") else ""


def load_home(
    session: Session,
    *,
    user_id: str,
    decides_any: bool,
    may_decide: Callable[[SubaccountRequest], bool],
) -> HomeContent:
    """`may_decide(row)` is the channel's approval rule; only requests it allows are listed."""
    mine = history.recent_requests(session, requester_id=user_id, limit=MINE_SHOWN)
    mine_total = session.scalar(
        select(func.count())
        .select_from(SubaccountRequest)
        .where(SubaccountRequest.requester_id == user_id)
    )
    decidable = [row for row in _pending(session, excluding=user_id) if may_decide(row)]
    waiting = [
        Waiting(row, Subject.one(row.id).approvers(session)) for row in decidable[:WAITING_SHOWN]
    ]
    return HomeContent(
        mine=mine,
        mine_total=int(mine_total or 0),
        waiting=waiting,
        waiting_total=len(decidable),
        decides=decides_any,
    )


def _pending(session: Session, *, excluding: str) -> list[SubaccountRequest]:
    """Pending requests of others, oldest (most urgent) first. Rows of a bulk request are left
    out: they are decided with their batch, on the batch's message, never one by one."""
    return list(
        session.scalars(
            select(SubaccountRequest)
            .where(
                SubaccountRequest.status == RequestStatus.PENDING_APPROVAL,
                SubaccountRequest.requester_id != excluding,
                SubaccountRequest.batch_id.is_(None),
            )
            .order_by(SubaccountRequest.id)
        )
    )


class _Viewers:
    """People who opened the Home in this process, newest last: only their Homes are refreshed
    when a request changes, so nobody who never looked costs a views.publish."""

    def __init__(self, capacity: int = REMEMBERED_VIEWERS) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, user_id: str) -> None:
        with self._lock:
            self._ids[user_id] = None
            self._ids.move_to_end(user_id)
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)

    def __contains__(self, user_id: object) -> bool:
        with self._lock:
            return user_id in self._ids


class HomeTab:
    """Publishes Homes; its buttons decide through Decisions exactly as the channel's buttons do."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        decisions: Decisions,
        client: WebClient,
        team_domain: str,
    ) -> None:
        self._sessions = sessions
        self._decisions = decisions
        self._client = client
        self._team_domain = team_domain
        self._viewers = _Viewers()

    def opened(self, user_id: str) -> None:
        """app_home_opened on the Home tab: publish a fresh view (Slack keeps the last one)."""
        self._viewers.add(user_id)
        self.publish(user_id)

    def decide(self, *, user_id: str, request_id: int, choice: Choice) -> None:
        told = self._decisions.decide_in_view(request_id=request_id, user_id=user_id, choice=choice)
        notice = told if told is not None else self._decided(request_id, choice)
        owe_home_refresh(self._sessions, user_id, notice=notice)

    def publish(self, user_id: str, *, notice: str | None = None) -> bool:
        try:
            self._client.views_publish(user_id=user_id, view=self.view_for(user_id, notice))
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else "unknown"
            logger.warning("Slack views.publish failed: %s", error)
            return False
        except (OSError, SlackClientError) as exc:
            logger.warning("Slack views.publish failed: %s", type(exc).__name__)
            return False
        return True

    def view_for(self, user_id: str, notice: str | None = None) -> View:
        """The Home view of `user_id` as it stands now (the outbox renders it at send time)."""
        content: HomeContent | None = None
        with when_database_down("the Home view") as down:
            content = self._content(user_id)
        # The sections would be wrong (empty), not merely old: show only the notice.
        return home_view(
            content,
            now=datetime.now(UTC),
            team_domain=self._team_domain,
            command=self._decisions.settings.slash_command,
            required_approvals=self._decisions.settings.required_approvals,
            viewer_id=user_id,
            notice=down.text if down.caught else notice,
        )

    def _content(self, user_id: str) -> HomeContent:
        decides_any = self._decisions.decides_any(user_id)

        def may_decide(row: SubaccountRequest) -> bool:
            return self._decisions.may_decide(row, user_id=user_id, choice=Choice.APPROVE).allowed

        with self._sessions() as session:
            return load_home(
                session,
                user_id=user_id,
                decides_any=decides_any,
                # Someone on no approver list decides nothing: spare a rule check per request.
                may_decide=may_decide if decides_any else lambda _row: False,
            )

    def _decided(self, request_id: int, choice: Choice) -> str:
        """The clicker's own decision landed: say what became of the request."""
        said = f":ballot_box_with_check: You {_PAST[choice]} request #{request_id}"
        try:
            with self._sessions() as session:
                row = session.get_one(SubaccountRequest, request_id)
                approvals = len(Subject.one(request_id).approvers(session))
        except SQLAlchemyError:
            return said + "."
        if row.status == RequestStatus.PENDING_APPROVAL:
            needed = self._decisions.settings.required_approvals
            return f"{said} ({approvals} of {needed} approvals); it waits for another approver."
        return f"{said}; it is now {row.status.replace('_', ' ')}."


_PAST = {Choice.APPROVE: "approved", Choice.REJECT: "rejected"}

"""The slash command's answers that change nothing: `status`, `list`, `help`, and `export`
(started here, run by bot/export.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.audit import history
from bot.db.models import SubaccountRequest
from bot.flows import export
from bot.flows.common import FlowSettings
from bot.flows.unavailable import when_database_down
from bot.requests.policy import AccessPolicy
from bot.requests.subjects import Subject
from bot.runtime.tasks import BackgroundTasks
from bot.slack.notifier import Notifier
from bot.slack.render import messages
from bot.slack.render.request_list import request_list_text


class Queries:
    def __init__(
        self,
        *,
        settings: FlowSettings,
        sessions: sessionmaker[Session],
        policy: AccessPolicy,
        notifier: Notifier,
        tasks: BackgroundTasks,
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._policy = policy
        self._notifier = notifier
        self._tasks = tasks

    def status(self, *, user_id: str, request_id: int) -> str:
        with when_database_down("a status lookup") as down:
            return self._status(user_id=user_id, request_id=request_id)
        return down.text

    def _status(self, *, user_id: str, request_id: int) -> str:
        with self._sessions() as session:
            row = session.get(SubaccountRequest, request_id)
            visible = row is not None and (
                row.requester_id == user_id or self._policy.is_approver(user_id)
            )
            if row is None or not visible:
                return f"There is no request #{request_id} that you can see."
            return messages.status_text(row, Subject.one(request_id).approvers(session))

    def list_requests(self, *, user_id: str, team_domain: str) -> str:
        """`/zoom-subaccount list`: the caller's own recent requests, for their eyes only."""
        with when_database_down("a request list lookup") as down, self._sessions() as session:
            rows = history.recent_requests(session, requester_id=user_id)
        if down.caught:
            return down.text
        return request_list_text(
            rows,
            now=datetime.now(UTC),
            team_domain=team_domain,
            command=self.settings.slash_command,
        )

    def export(self, *, user_id: str, arguments: list[str], response_url: str) -> str:
        """`/zoom-subaccount export …`: an approver's audit export, uploaded to their DM."""
        exports = export.SlackExports(
            sessions=self._sessions,
            policy=self._policy,
            notifier=self._notifier,
            tasks=self._tasks,
            command=self.settings.slash_command,
        )
        return exports.start(user_id=user_id, arguments=arguments, response_url=response_url)

    def help_text(self, *, user_id: str) -> str:
        command = self.settings.slash_command
        return export.help_text(command, approver=self._policy.is_approver(user_id))

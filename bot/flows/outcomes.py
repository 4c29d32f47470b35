"""A claimed provisioning job: run it at Zoom, then tell the channel, the requester and, when it
needs a person, the ops channel."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot import ops_alerts, workflow
from bot.db.models import SubaccountRequest
from bot.flows.common import FlowHooks, FlowSettings, record_event
from bot.passwords import PasswordVault
from bot.provisioning import ZoomAccounts, provision
from bot.redaction import redact
from bot.slack import messages
from bot.slack.notifier import Notifier


class Outcomes:
    def __init__(
        self,
        *,
        settings: FlowSettings,
        sessions: sessionmaker[Session],
        notifier: Notifier,
        zoom: ZoomAccounts,
        vault: PasswordVault,
        hooks: FlowHooks,
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._notifier = notifier
        self._zoom = zoom
        self._vault = vault
        self._hooks = hooks

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
            self._hooks.on_batch_row_done(row)  # progress and the report are per batch, not per row
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
        record_event(self._sessions, request_id, "notified", detail={"status": row.status})
        self._hooks.on_request_changed(row)
        if self.settings.ops_channel and ops_alerts.needs_alert(row):
            self._alert_ops(row, text, channel_id=self.settings.ops_channel)

    def _alert_ops(self, row: SubaccountRequest, text: str, *, channel_id: str) -> None:
        posted = self._notifier.post(channel_id=channel_id, text=ops_alerts.alert_text(row, text))
        record_event(
            self._sessions, row.id, "ops_alerted", detail={"channel": channel_id, "posted": posted}
        )

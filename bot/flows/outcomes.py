"""A claimed provisioning job: run it at Zoom, then owe the channel, the requester and, when it
needs a person, the ops channel their notices; and a finished job's outcome rebuilt from its
row (what the approval message shows, rendered at send time: bot/delivery/rendering.py)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import RequestEvent, RequestStatus, SubaccountRequest
from bot.delivery import outbox
from bot.flows import ops_alerts
from bot.flows.common import FlowSettings, owe_home_refresh
from bot.observability.redaction import redact
from bot.provisioning.job import ZoomAccounts, provision
from bot.provisioning.result_detail import error_from_detail
from bot.provisioning.results import ProvisionResult
from bot.requests import workflow
from bot.requests.events import EventKind
from bot.requests.passwords import PasswordVault
from bot.requests.subjects import Subject
from bot.slack.notifier import Notifier
from bot.slack.render import messages
from bot.zoom.client import CreatedAccount


class Outcomes:
    def __init__(
        self,
        *,
        settings: FlowSettings,
        sessions: sessionmaker[Session],
        notifier: Notifier,
        zoom: ZoomAccounts,
        vault: PasswordVault,
        batch_row_done: Callable[[SubaccountRequest], None],
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._notifier = notifier
        self._zoom = zoom
        self._vault = vault
        # Progress and the report of a bulk request are per batch, not per account.
        self._batch_row_done = batch_row_done

    def provision(self, request_id: int) -> None:
        """Run by the provisioning worker on a job it has claimed."""
        result = provision(
            self._sessions,
            request_id=request_id,
            zoom=self._zoom,
            vault=self._vault,
            settle_seconds=self.settings.settle_seconds,
            owe=self.owe_outcome_notices,
        )
        if result.requeued or result.superseded:
            # Rate limited: nothing happened at Zoom, the worker runs it again later. Superseded:
            # another holder recorded the outcome and owed its notices.
            return
        row = result.request
        if row.batch_id is not None:
            self._batch_row_done(row)
            return
        owe_home_refresh(self._sessions, row.requester_id)

    def owe_outcome_notices(self, session: Session, result: ProvisionResult) -> None:
        """The message, the thread, the requester's channel and DMs and, when needed, the ops
        channel: owed in the transaction that records the outcome, with the `notified` event
        that says so. A bulk row's outcome is told with its batch
        (bot/provisioning/batch_progress.py)."""
        row = result.request
        if row.batch_id is not None:
            return
        text = redact(messages.outcome_text(result))
        notifier = self._notifier
        same_channel = row.channel_id == row.approval_channel_id
        notifier.refresh(Subject.one(row.id), db=session)
        notifier.reply(row, text, broadcast=same_channel, db=session)
        if row.channel_id and not same_channel:
            notifier.post(
                channel_id=row.channel_id,
                text=f"Request #{row.id}: {text}",
                request_id=row.id,
                db=session,
            )
        notifier.dm(
            user_id=row.requester_id,
            text=redact(messages.outcome_dm(result)),
            request_id=row.id,
            db=session,
        )
        if result.generated_password or _password_kept(row):
            # Rendered (decrypted) only when sent; erased once Slack confirms the DM.
            notifier.owe(outbox.password_dm(row.id, user_id=row.requester_id), db=session)
        workflow.add_event(
            session, request_id=row.id, kind=EventKind.NOTIFIED, detail={"status": row.status}
        )
        alert_channel = self.settings.ops_channel
        if alert_channel and ops_alerts.needs_alert(row):
            notifier.post(
                channel_id=alert_channel,
                text=ops_alerts.alert_text(row, text),
                request_id=row.id,
                db=session,
            )
            workflow.add_event(
                session,
                request_id=row.id,
                kind=EventKind.OPS_ALERTED,
                detail={"channel": alert_channel},
            )


def _password_kept(row: SubaccountRequest) -> bool:
    return (
        row.status == RequestStatus.CREATED
        and row.password_generated
        and row.password_ciphertext is not None
    )


def settled_result(session: Session, row: SubaccountRequest) -> ProvisionResult | None:
    """A finished job's outcome rebuilt from its row and its last `zoom_result` event: what
    the job's own ProvisionResult rendered (None while the job has not finished)."""
    if row.status == RequestStatus.CREATED:
        account = CreatedAccount(
            id=row.zoom_account_id or "",
            owner_id=row.zoom_owner_id or "",
            owner_email=row.zoom_owner_email or "",
            created_at=row.zoom_created_at or "",
        )
        return ProvisionResult(request=row, account=account)
    if row.status not in (RequestStatus.FAILED, RequestStatus.UNKNOWN):
        return None
    detail = session.scalar(
        select(RequestEvent.detail)
        .where(RequestEvent.request_id == row.id, RequestEvent.kind == EventKind.ZOOM_RESULT)
        .order_by(RequestEvent.id.desc())
        .limit(1)
    )
    error = error_from_detail(detail or {})
    error.outcome_known = row.status == RequestStatus.FAILED  # what the status was set from
    return ProvisionResult(request=row, error=error)

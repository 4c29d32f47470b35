"""A claimed provisioning job: run it at Zoom, then tell the channel, the requester and, when it
needs a person, the ops channel. Also renders a finished job's outcome into its approval
message again, for the approval path that may have overwritten it (see Decisions)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import ops_alerts, workflow
from bot.background import BackgroundTasks
from bot.db.models import RequestEvent, RequestStatus, SubaccountRequest
from bot.flows.common import FlowHooks, FlowSettings, logger, record_event
from bot.passwords import PasswordVault
from bot.provisioning import ProvisionResult, ZoomAccounts, provision
from bot.redaction import redact
from bot.slack import messages
from bot.slack.notifier import Notifier
from bot.zoom.client import CreatedAccount
from bot.zoom_result_detail import error_from_detail

# How long a job's replies wait for the approval's own (a few Slack calls, each bounded).
ANNOUNCE_WAIT_SECONDS = 30.0


class Announcements:
    """Requests whose decision this process is still telling Slack about. Their job calls Zoom
    at once but posts its outcome in the thread and DMs only after, so people read "approved,
    creating…" before "created". Per process: the job is woken in the process that decided."""

    def __init__(self) -> None:
        self._telling: Counter[int] = Counter()
        self._changed = threading.Condition()

    @contextmanager
    def telling(self, request_id: int) -> Iterator[None]:
        with self._changed:
            self._telling[request_id] += 1
        try:
            yield
        finally:
            with self._changed:
                self._telling[request_id] -= 1
                if self._telling[request_id] <= 0:
                    del self._telling[request_id]
                self._changed.notify_all()

    def wait_until_told(self, request_id: int, timeout_seconds: float) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: request_id not in self._telling, timeout=timeout_seconds
            )


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
        announcements: Announcements,
        tasks: BackgroundTasks,
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._notifier = notifier
        self._zoom = zoom
        self._vault = vault
        self._hooks = hooks
        self._announcements = announcements
        self._tasks = tasks

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
        # Slack is told on the background pool: the job's slot (PROVISION_PARALLEL) is for Zoom
        # calls, and a slow Slack (several calls, each up to its timeout) must not hold it.
        self._tasks.submit(self.tell_outcome, result)

    def tell_outcome(self, result: ProvisionResult) -> None:
        """The channel, the thread, the requester and, when needed, the ops channel."""
        row = result.request
        request_id = row.id
        # The message at once: should the approval's update land after it, the approval path
        # renders the outcome again (Decisions). Replies and DMs cannot be redone: they wait.
        text = show_outcome(self._sessions, self._notifier, result)
        if not self._announcements.wait_until_told(row.id, ANNOUNCE_WAIT_SECONDS):
            logger.warning("request %s: announcing its outcome before its approval", row.id)
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


def show_outcome(
    sessions: sessionmaker[Session], notifier: Notifier, result: ProvisionResult
) -> str:
    """Render a finished job's outcome into its approval message; returns the outcome's text.
    The one rendering: the job's own update and a re-render must show the same message."""
    text = redact(messages.outcome_text(result))
    with sessions() as session:
        approvers = workflow.approvers_of(session, result.request.id)
    notifier.refresh_request(result.request, approvers=approvers, outcome=text)
    return text


def show_outcome_if_finished(
    sessions: sessionmaker[Session], notifier: Notifier, request_id: int
) -> bool:
    """Render the outcome again when the job has finished (read from the database); False,
    sending nothing, while it has not."""
    with sessions() as session:
        row = session.get(SubaccountRequest, request_id)
        result = None if row is None else settled_result(session, row)
    if result is None or result.request.batch_id is not None:
        return False  # a batch row's outcome is shown on its batch's message, not its own
    show_outcome(sessions, notifier, result)
    return True


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
        .where(RequestEvent.request_id == row.id, RequestEvent.kind == "zoom_result")
        .order_by(RequestEvent.id.desc())
        .limit(1)
    )
    error = error_from_detail(detail or {})
    error.outcome_known = row.status == RequestStatus.FAILED  # what the status was set from
    return ProvisionResult(request=row, error=error)

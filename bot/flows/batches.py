"""Bulk onboarding: `/zoom-subaccount bulk` opens a form taking a CSV; every row is checked as the
request form checks one request, shown per row, and the valid rows become one bulk request that
is approved (or rejected) once. Listeners call one method here, as with bot/flows/."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.models.views import View
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import BatchStatus, RequestBatch
from bot.flows.common import record_denied
from bot.flows.unavailable import when_database_down
from bot.requests import batches
from bot.requests.csv_rows import BulkParse, CsvProblem, parse_bulk_csv
from bot.requests.events import EventKind
from bot.requests.passwords import PasswordVault
from bot.requests.policy import AccessPolicy
from bot.slack import ids
from bot.slack.batch_files import FileUnreadable, read_attached_csv
from bot.slack.notifier import Notifier
from bot.slack.render import messages
from bot.slack.render.batch_blocks import submitted_dm
from bot.slack.render.batch_views import FormInput, bulk_form, notice, preview_view
from bot.slack.render.user_facing import FIELD_ERROR_LIMIT, user_facing_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BulkSettings:
    approval_channel: str | None
    required_approvals: int
    approval_ttl: timedelta
    require_reason: bool
    ops_channel: str | None = None
    progress_interval: timedelta = timedelta(seconds=2)


@dataclass(frozen=True)
class FormAnswer:
    """How to ack a form or preview submission: field errors, or a view to push / update to."""

    errors: dict[str, str] | None = None
    push: View | None = None
    update: View | None = None


@dataclass(frozen=True)
class BulkParts:
    """What bulk onboarding shares with the rest of the bot."""

    sessions: sessionmaker[Session]
    policy: AccessPolicy
    notifier: Notifier
    client: WebClient
    vault: PasswordVault
    # The provisioning worker's wake: the accounts are due at Zoom now.
    jobs_due: Callable[[], None]
    # The background pool: the report's Slack calls stay off the Zoom workers.
    run_later: Callable[[Callable[[int], None], int], object]


class BulkFlows:
    def __init__(self, *, settings: BulkSettings, parts: BulkParts) -> None:
        self.settings = settings
        self._parts = parts
        self._sessions = parts.sessions
        self._policy = parts.policy
        self._notifier = parts.notifier

    # -- the command and the form -------------------------------------------------------------

    def open_form(
        self, *, user_id: str, channel_id: str, trigger_id: str, response_url: str
    ) -> None:
        verdict = self._policy.may_request(user_id)
        if not verdict.allowed:
            self._record_denied(user_id, channel_id, "bulk_command", verdict.reason)
            self._notifier.respond(response_url=response_url, text=messages.denied_request_text())
            return
        form = bulk_form(channel_id=channel_id, require_reason=self.settings.require_reason)
        self._notifier.open_modal(trigger_id=trigger_id, view=form)

    def _record_denied(self, user_id: str, channel_id: str | None, what: str, reason: str) -> None:
        record_denied(self._sessions, user_id, channel_id, what, reason)

    def check(self, *, user_id: str, channel_id: str | None, form: FormInput) -> FormAnswer:
        """The form's submission: per-row errors in a preview pushed over it; nothing stored but
        an encrypted draft of the valid rows, which Submit turns into the request."""
        verdict = self._policy.may_request(user_id)
        if not verdict.allowed:
            self._record_denied(user_id, channel_id, "bulk_form", verdict.reason)
            return FormAnswer(
                update=notice(title="Not allowed", text=messages.denied_request_text())
            )
        block, text, problem = self._csv_text(form)
        if problem is not None:
            return FormAnswer(errors={block: problem})
        return self._checked(user_id, channel_id, block, text)

    def _csv_text(self, form: FormInput) -> tuple[str, str, str | None]:
        """(the block to show errors on, the CSV text, what is wrong with the input)."""
        if form.file_ids and form.text.strip():
            return ids.BULK_TEXT, "", "Attach a file or paste rows, not both."
        if form.file_ids:
            try:
                return (
                    ids.BULK_FILE,
                    read_attached_csv(self._parts.client, form.file_ids[0]),
                    None,
                )
            except FileUnreadable as unreadable:
                return ids.BULK_FILE, "", user_facing_text(unreadable, limit=FIELD_ERROR_LIMIT)
        if form.text.strip():
            return ids.BULK_TEXT, form.text, None
        return ids.BULK_TEXT, "", "Attach a CSV file, or paste the header and the rows here."

    def _checked(self, user_id: str, channel_id: str | None, block: str, text: str) -> FormAnswer:
        try:
            parsed = parse_bulk_csv(text, require_reason=self.settings.require_reason)
        except CsvProblem as problem:
            return FormAnswer(errors={block: user_facing_text(problem, limit=FIELD_ERROR_LIMIT)})
        if not parsed.valid:
            return FormAnswer(errors={block: _no_valid_rows(parsed)})
        with when_database_down("keeping a bulk draft") as down:
            draft_id = self._save_draft(user_id, channel_id, parsed)
            return FormAnswer(push=preview_view(draft_id=draft_id, parsed=parsed))
        return FormAnswer(update=notice(title="Try again later", text=down.text))

    def _save_draft(self, user_id: str, channel_id: str | None, parsed: BulkParse) -> int:
        with self._sessions.begin() as session:
            return batches.save_draft(
                session,
                requester_id=user_id,
                channel_id=channel_id,
                rows=parsed.valid,
                vault=self._parts.vault,
            )

    def submit(self, *, user_id: str, draft_id: int | None) -> FormAnswer:
        """The preview's Submit: the draft becomes one request row per account, once."""
        verdict = self._policy.may_request(user_id)
        if not verdict.allowed:
            self._record_denied(user_id, None, "bulk_submission", verdict.reason)
            return FormAnswer(
                update=notice(title="Not allowed", text=messages.denied_request_text())
            )
        try:
            with when_database_down("storing a bulk request") as down:
                batch = self._store(user_id, draft_id)
        except batches.DraftGone as gone:
            return FormAnswer(update=notice(title="Start again", text=user_facing_text(gone)))
        if down.caught:
            return FormAnswer(update=notice(title="Try again later", text=down.text))
        if batch.status == BatchStatus.PROVISIONING and not self._notifier.channel_for(batch):
            self._parts.jobs_due()  # no message to wait for: its rows were released with it
        text = (
            f"Bulk request #{batch.id} ({batch.row_count} accounts) is saved and on its way to "
            "the approvers. You will get a message at each step."
        )
        return FormAnswer(update=notice(title="Bulk request sent", text=text))

    def _store(self, user_id: str, draft_id: int | None) -> RequestBatch:
        """The submitted batch; DraftGone when there is no draft to submit."""
        if draft_id is None:
            raise batches.DraftGone(draft_id)
        with self._sessions.begin() as session:
            batch = batches.submit_draft(
                session,
                draft_id=draft_id,
                requester_id=user_id,
                vault=self._parts.vault,
                required_approvals=self.settings.required_approvals,
            )
            self._owe_announcement(session, batch)
            return batch

    def _owe_announcement(self, session: Session, batch: RequestBatch) -> None:
        """In the submission's transaction: the batch's message is owed with the batch (the
        sender releases a batch needing no approval once it is posted), or, with no channel to
        post in, the failure is recorded and its rows released now."""
        if self._notifier.post_batch(batch, db=session) is not None:
            return
        batches.add_batch_event(
            session, batch_id=batch.id, kind=EventKind.POST_FAILED, detail={"channel": None}
        )
        if batch.status == BatchStatus.PROVISIONING:
            batches.release_jobs(session, batch_id=batch.id)
        text = submitted_dm(batch, channel_id=None, posted=False)
        self._notifier.dm(user_id=batch.requester_id, text=text, db=session)

    def discard(self, *, user_id: str, draft_id: int) -> None:
        """The preview was closed (Back): its draft goes now rather than at DRAFT_TTL."""
        with self._sessions.begin() as session:
            batches.discard_draft(session, draft_id=draft_id, requester_id=user_id)


def _no_valid_rows(parsed: BulkParse) -> str:
    shown = "; ".join(error.describe() for error in parsed.errors[:5])
    more = len(parsed.errors) - 5
    text = f"No row can be sent. {shown}" + (f"; and {more} more problems." if more > 0 else ".")
    return text[:FIELD_ERROR_LIMIT]

"""A bulk request's rows on their way through Zoom: progress in its message (throttled across
instances), and once every row has an outcome, one report: the outcome CSV in the thread, the
generated passwords to the requester alone, a DM. A sweep picks up what a crash left behind."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from bot import bulk_decisions, bulk_tracking, bulk_workflow
from bot.bulk import BulkParts, BulkSettings
from bot.bulk_report import failed_rows_text, outcome_csv, passwords_csv
from bot.db.models import RequestBatch, SubaccountRequest
from bot.durations import describe
from bot.redaction import forget_secret, register_secret
from bot.slack.bulk_blocks import decision_dm, final_dm, final_reply, progress_text
from bot.slack.uploads import Upload

logger = logging.getLogger(__name__)
SWEEP_SECONDS = 10.0
PASSWORD_ATTEMPTS = 3  # reports that failed to hand the passwords over before they are erased


class BatchProgress:
    def __init__(self, *, settings: BulkSettings, parts: BulkParts) -> None:
        self.settings = settings
        self._parts = parts
        self._sessions: sessionmaker[Session] = parts.sessions
        self._next_sweep = 0.0
        self._sweep_lock = threading.Lock()
        # Set by the runtime to the background pool: Slack calls stay off the Zoom workers.
        self.run_later: Callable[[Callable[[int], None], int], object] = lambda task, arg: task(arg)

    # -- after each row -----------------------------------------------------------------------

    def row_done(self, row: SubaccountRequest) -> None:
        """Run by the provisioning worker once a row of a batch has its outcome."""
        batch_id = row.batch_id
        if batch_id is None:
            return
        with self._sessions.begin() as session:
            finished = bulk_tracking.finish_if_done(session, batch_id=batch_id)
            show = finished or bulk_tracking.claim_progress(
                session, batch_id=batch_id, min_interval=self.settings.progress_interval
            )
            if show:
                # Owed with the state it shows; rendered when sent, so the newest state wins
                # and a late progress update can never overwrite the final one.
                self._parts.batches.refresh(batch_id, db=session)
        if finished:
            self.run_later(self.report, batch_id)

    def show_progress(self, batch_id: int) -> None:
        self._refresh(batch_id)

    def _refresh(self, batch_id: int) -> None:
        self._parts.batches.refresh(batch_id)

    # -- the end ------------------------------------------------------------------------------

    def report(self, batch_id: int) -> None:
        """Once per batch (a claim; resumed by the sweep if its sender died half-way)."""
        with self._sessions.begin() as session:
            if not bulk_tracking.claim_report(session, batch_id=batch_id):
                return
        with self._sessions() as session:
            batch = session.get_one(RequestBatch, batch_id)
            rows = bulk_tracking.rows_of(session, batch_id)
            counts = bulk_tracking.counts(session, batch_id)
            done = bulk_tracking.batch_steps_done(session, batch_id)
        if "outcome_posted" not in done:
            self._post_outcome(batch, rows, counts)
        passwords = self._send_passwords(batch, rows) if "passwords_sent" not in done else 0
        if passwords < 0:
            return  # not handed over yet: the sweep tries again once the claim lapses
        if "notified" not in done:
            text = final_dm(batch, counts, passwords=passwords)
            sent = self._parts.notifier.dm(user_id=batch.requester_id, text=text)
            self._record(batch_id, "notified", {"sent": sent, "created": counts.created})
        if (
            self.settings.ops_channel
            and (counts.failed or counts.unknown)
            and "ops_alerted" not in done
        ):
            self._alert_ops(batch, counts, self.settings.ops_channel)
        with self._sessions.begin() as session:
            bulk_tracking.erase_passwords(session, batch_id=batch_id)
            bulk_tracking.mark_reported(session, batch_id=batch_id)

    def _post_outcome(
        self, batch: RequestBatch, rows: list[SubaccountRequest], counts: bulk_tracking.BatchCounts
    ) -> None:
        channel_id = batch.approval_channel_id or self._parts.notifier.dm_channel(
            user_id=batch.requester_id
        )
        upload = None
        if channel_id:
            upload = self._parts.notifier.upload_file(
                channel_id=channel_id,
                thread_ts=batch.approval_ts,
                filename=f"bulk-request-{batch.id}-outcome.csv",
                content=outcome_csv(rows),
                title=f"Bulk request #{batch.id}: outcome per row",
                initial_comment=final_reply(batch, counts, attached=True),
            )
        if upload is not None and upload.ok:
            self._record(batch.id, "outcome_posted", {"file": upload.file_id, "rows": len(rows)})
            return
        # No file (uploads refused or Slack down): the counts and the failed rows as text.
        text = final_reply(batch, counts, attached=False)
        failed = failed_rows_text(rows)
        error = upload.error if upload is not None else "no channel"
        with self._sessions.begin() as session:
            self._parts.batches.reply(batch, f"{text}\n{failed}".strip(), db=session)
            bulk_workflow.add_batch_event(
                session, batch_id=batch.id, kind="outcome_post_failed", detail={"error": error}
            )

    def _send_passwords(self, batch: RequestBatch, rows: list[SubaccountRequest]) -> int:
        """How many generated passwords went to the requester; -1 when they must be retried."""
        content, secrets = passwords_csv(rows, self._parts.vault)
        count = len(secrets)
        if not count:
            return 0
        for secret in secrets:
            register_secret(secret)  # whatever fails below, no log line may carry one
        try:
            upload = self._upload_passwords(batch, content)
        finally:
            for secret in secrets:
                forget_secret(secret)
        if upload is None or not upload.ok:
            return self._passwords_failed(batch, upload.error if upload else "no DM channel")
        self._record(batch.id, "passwords_sent", {"count": count, "file": upload.file_id})
        return count

    def _upload_passwords(self, batch: RequestBatch, content: bytes) -> Upload | None:
        dm = self._parts.notifier.dm_channel(user_id=batch.requester_id)
        if dm is None:
            return None
        return self._parts.notifier.upload_file(
            channel_id=dm,
            filename=f"bulk-request-{batch.id}-passwords.csv",
            content=content,
            title=f"Bulk request #{batch.id}: generated passwords (only you got this file)",
            initial_comment=(
                "The passwords the bot generated for your new Zoom accounts. Only you were sent "
                "this file: hand each password to its owner, then delete the file. The bot "
                "has erased its copy."
            ),
        )

    def _passwords_failed(self, batch: RequestBatch, error: str | None) -> int:
        with self._sessions.begin() as session:
            tries = bulk_tracking.count_batch_events(session, batch.id, "passwords_not_sent")
            bulk_workflow.add_batch_event(
                session, batch_id=batch.id, kind="passwords_not_sent", detail={"error": error}
            )
        if tries + 1 < PASSWORD_ATTEMPTS:
            return -1
        text = (
            f":warning: The generated passwords of bulk request #{batch.id} could not be sent to "
            "you, and the bot has now erased them. Each owner can set one with Zoom's "
            "“Forgot password”."
        )
        self._parts.notifier.dm(user_id=batch.requester_id, text=text)
        return 0

    def _alert_ops(
        self, batch: RequestBatch, counts: bulk_tracking.BatchCounts, channel_id: str
    ) -> None:
        text = f":warning: Bulk request #{batch.id}: {progress_text(counts)}. See its thread."
        posted = self._parts.notifier.post(channel_id=channel_id, text=text)
        self._record(batch.id, "ops_alerted", {"channel": channel_id, "posted": posted})

    def _record(self, batch_id: int, kind: str, detail: dict[str, object]) -> None:
        with self._sessions.begin() as session:
            bulk_workflow.add_batch_event(session, batch_id=batch_id, kind=kind, detail=detail)

    # -- what a crash left behind ---------------------------------------------------------------

    def sweep(self) -> None:
        """Run on the provisioning worker's loop; does its work every SWEEP_SECONDS at most."""
        with self._sweep_lock:
            if time.monotonic() < self._next_sweep:
                return
            self._next_sweep = time.monotonic() + SWEEP_SECONDS
        self.sweep_now()

    def sweep_now(self) -> None:
        with self._sessions.begin() as session:
            bulk_workflow.delete_stale_drafts(session)
        with self._sessions() as session:
            stalled = bulk_tracking.stalled_batches(session, ttl=self.settings.approval_ttl)
        for batch_id in stalled["finish"]:
            with self._sessions.begin() as session:
                bulk_tracking.finish_if_done(session, batch_id=batch_id)
        for batch_id in stalled["finish"] + stalled["report"]:
            self.run_later(self.report, batch_id)
        for batch_id in stalled["expire"]:
            self._expire(batch_id)

    def _expire(self, batch_id: int) -> None:
        ttl = self.settings.approval_ttl

        def owe(session: Session, decision: bulk_decisions.BatchDecision) -> None:
            # In the transaction that expires it: the expiry and its notices, or neither.
            batch = decision.batch
            self._parts.batches.refresh(batch.id, db=session)
            text = f":clock3: Expired: nobody decided within {describe(ttl)}."
            self._parts.batches.reply(batch, text, db=session)
            self._parts.notifier.dm(user_id=batch.requester_id, text=decision_dm(batch), db=session)

        bulk_decisions.expire(self._sessions, batch_id=batch_id, ttl=ttl, actor_id=None, owe=owe)

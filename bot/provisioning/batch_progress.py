"""A bulk request's rows on their way through Zoom: progress in its message (throttled across
instances), and once every row has an outcome, one report: the outcome CSV in the thread, the
generated passwords to the requester alone, a DM. A sweep picks up what a crash left behind."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import RequestBatch, SubaccountRequest
from bot.delivery import outbox
from bot.delivery.files import BATCH_OUTCOME, BATCH_PASSWORDS
from bot.durations import describe
from bot.flows.batches import BulkParts, BulkSettings
from bot.requests import batch_tracking, batches, decisions
from bot.requests.decisions import Decision
from bot.requests.events import EventKind
from bot.requests.subjects import Subject
from bot.slack.render.batch_blocks import decision_dm, final_dm, progress_text

logger = logging.getLogger(__name__)


def _password_to_send(row: SubaccountRequest) -> bool:
    """As batch_report.passwords_csv selects them."""
    return bool(row.password_generated and row.password_ciphertext and row.zoom_account_id)


def _passwords_file(batch: RequestBatch, *, count: int) -> outbox.Owed:
    user = batch.requester_id
    details = {"batch_id": batch.id, "count": count, "requester_id": user}
    return outbox.file_share(BATCH_PASSWORDS, queue=f"dm:{user}", user_id=user, details=details)


SWEEP_SECONDS = 10.0


class BatchProgress:
    def __init__(self, *, settings: BulkSettings, parts: BulkParts) -> None:
        self.settings = settings
        self._parts = parts
        self._sessions: sessionmaker[Session] = parts.sessions
        self._next_sweep = 0.0
        self._sweep_lock = threading.Lock()
        self.run_later = parts.run_later

    # -- after each row -----------------------------------------------------------------------

    def row_done(self, row: SubaccountRequest) -> None:
        """Run by the provisioning worker once a row of a batch has its outcome."""
        batch_id = row.batch_id
        if batch_id is None:
            return
        with self._sessions.begin() as session:
            finished = batch_tracking.finish_if_done(session, batch_id=batch_id)
            show = finished or batch_tracking.claim_progress(
                session, batch_id=batch_id, min_interval=self.settings.progress_interval
            )
            if show:
                # Owed with the state it shows; rendered when sent, so the newest state wins
                # and a late progress update can never overwrite the final one.
                self._parts.notifier.refresh(Subject.many(batch_id), db=session)
        if finished:
            self.run_later(self.report, batch_id)

    def show_progress(self, batch_id: int) -> None:
        self._refresh(batch_id)

    def _refresh(self, batch_id: int) -> None:
        self._parts.notifier.refresh(Subject.many(batch_id))

    # -- the end ------------------------------------------------------------------------------

    def report(self, batch_id: int) -> None:
        """Once per batch: the claim, every notice of the end, and `reported` commit together.
        The outbox sends them: the outcome CSV in the thread, the generated passwords to the
        requester alone (erased once delivered or given up), the final DM, the ops alert."""
        with self._sessions.begin() as session:
            if not batch_tracking.claim_report(session, batch_id=batch_id):
                return
            batch = session.get_one(RequestBatch, batch_id)
            rows = batch_tracking.rows_of(session, batch_id)
            counts = batch_tracking.counts(session, batch_id)
            passwords = sum(1 for row in rows if _password_to_send(row))
            owed = [self._outcome_file(batch)]
            if passwords:
                owed.append(_passwords_file(batch, count=passwords))
            text = final_dm(batch, counts, passwords=passwords)
            owed.append(outbox.dm(batch.requester_id, text=text))
            self._record(session, batch_id, EventKind.NOTIFIED, {"created": counts.created})
            owed += self._ops_alert(session, batch, counts)
            self._parts.notifier.owe(*owed, db=session)
            if not passwords:
                batch_tracking.erase_passwords(session, batch_id=batch_id)
            batch_tracking.mark_reported(session, batch_id=batch_id)

    def _ops_alert(
        self, session: Session, batch: RequestBatch, counts: batch_tracking.BatchCounts
    ) -> list[outbox.Owed]:
        ops = self.settings.ops_channel
        if not ops or not (counts.failed or counts.unknown):
            return []
        self._record(session, batch.id, EventKind.OPS_ALERTED, {"channel": ops})
        text = f":warning: Bulk request #{batch.id}: {progress_text(counts)}. See its thread."
        return [outbox.message(ops, text=text)]

    def _outcome_file(self, batch: RequestBatch) -> outbox.Owed:
        details = {"batch_id": batch.id}
        if batch.approval_channel_id:
            # The channel's queue: after the batch's message and its replies.
            channel = batch.approval_channel_id
            return outbox.file_share(
                BATCH_OUTCOME, queue=channel, channel_id=channel, details=details
            )
        user = batch.requester_id
        return outbox.file_share(BATCH_OUTCOME, queue=f"dm:{user}", user_id=user, details=details)

    def _record(
        self, session: Session, batch_id: int, kind: EventKind, detail: dict[str, object]
    ) -> None:
        batches.add_batch_event(session, batch_id=batch_id, kind=kind, detail=detail)

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
            batches.delete_stale_drafts(session)
        with self._sessions() as session:
            stalled = batch_tracking.stalled_batches(session, ttl=self.settings.approval_ttl)
        for batch_id in stalled["finish"]:
            with self._sessions.begin() as session:
                batch_tracking.finish_if_done(session, batch_id=batch_id)
        for batch_id in stalled["finish"] + stalled["report"]:
            self.run_later(self.report, batch_id)
        for batch_id in stalled["expire"]:
            self._expire(batch_id)

    def _expire(self, batch_id: int) -> None:
        ttl = self.settings.approval_ttl

        def owe(session: Session, decision: Decision) -> None:
            # In the transaction that expires it: the expiry and its notices, or neither.
            batch = decision.batch
            self._parts.notifier.refresh(Subject.many(batch.id), db=session)
            text = f":clock3: Expired: nobody decided within {describe(ttl)}."
            self._parts.notifier.reply(batch, text, db=session)
            self._parts.notifier.dm(user_id=batch.requester_id, text=decision_dm(batch), db=session)

        subject = Subject.many(batch_id)
        decisions.expire(self._sessions, subject, ttl=ttl, actor_id=None, owe=owe)

"""The files the outbox shares (FILE rows), made from the database at send time, and what their
delivery or final failure writes. Three kinds, named by the row's payload `file`:

- `batch_outcome`: a finished bulk request's per-row CSV, in its message's thread;
- `batch_passwords`: its generated passwords, to the requester's DM alone; the passwords are
  erased in the transaction that records the file delivered, or given up;
- `audit_export`: `/zoom-subaccount export`'s audit log, to the approver's DM.

No Slack here: the sender (file_sends.py) uploads what `render` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from bot.audit.export import render as render_export
from bot.audit.records import load_export
from bot.db.models import RequestBatch
from bot.delivery import outbox
from bot.delivery.batch_delivery import add_batch_event
from bot.provisioning.batch_report import failed_rows_text, outcome_csv, passwords_csv
from bot.requests import batch_tracking
from bot.requests.events import EventKind
from bot.requests.passwords import PasswordVault
from bot.slack.render.batch_blocks import final_reply

BATCH_OUTCOME = "batch_outcome"
BATCH_PASSWORDS = "batch_passwords"
AUDIT_EXPORT = "audit_export"
PASSWORDS_COMMENT = (
    "The passwords the bot generated for your new Zoom accounts. Only you were sent this file: "
    "hand each password to its owner, then delete the file. The bot has erased its copy."
)


@dataclass(frozen=True)
class FileToShare:
    filename: str
    title: str
    content: bytes
    initial_comment: str
    batch_id: int | None = None  # shared in the batch's thread once its message is posted
    # Held only while the upload runs: registered for log redaction by the sender.
    secrets: list[str] = field(default_factory=list)


class Files:
    def __init__(self, *, sessions: sessionmaker[Session], vault: PasswordVault) -> None:
        self._sessions = sessions
        self._vault = vault

    def render(self, payload: dict[str, Any]) -> FileToShare | None:
        """The file as the database stands now; None when nothing is left to send (the
        passwords were already erased)."""
        what = payload.get("file")
        if what == BATCH_OUTCOME:
            return self._batch_outcome(int(payload["batch_id"]))
        if what == BATCH_PASSWORDS:
            return self._batch_passwords(int(payload["batch_id"]))
        if what == AUDIT_EXPORT:
            return _audit_export(self._sessions, payload)
        raise LookupError(f"unknown file kind {what!r}")

    def _batch_outcome(self, batch_id: int) -> FileToShare:
        with self._sessions() as session:
            batch = session.get_one(RequestBatch, batch_id)
            rows = batch_tracking.rows_of(session, batch_id)
            counts = batch_tracking.counts(session, batch_id)
        return FileToShare(
            filename=f"bulk-request-{batch_id}-outcome.csv",
            title=f"Bulk request #{batch_id}: outcome per row",
            content=outcome_csv(rows),
            initial_comment=final_reply(batch, counts, attached=True),
            batch_id=batch_id,
        )

    def _batch_passwords(self, batch_id: int) -> FileToShare | None:
        with self._sessions() as session:
            rows = batch_tracking.rows_of(session, batch_id)
        content, secrets = passwords_csv(rows, self._vault)
        if not secrets:
            return None
        return FileToShare(
            filename=f"bulk-request-{batch_id}-passwords.csv",
            title=f"Bulk request #{batch_id}: generated passwords (only you got this file)",
            content=content,
            initial_comment=PASSWORDS_COMMENT,
            secrets=secrets,
        )

    def delivered(self, db: Connection, payload: dict[str, Any], *, file_id: str) -> None:
        """Written with the row marked delivered."""
        what = payload.get("file")
        if what == BATCH_OUTCOME:
            batch_id = int(payload["batch_id"])
            add_batch_event(
                db, batch_id=batch_id, kind=EventKind.OUTCOME_POSTED, detail={"file": file_id}
            )
        elif what == BATCH_PASSWORDS:
            batch_id = int(payload["batch_id"])
            erase_batch_passwords(db, batch_id)
            detail = {"count": int(payload.get("count") or 0), "file": file_id}
            add_batch_event(db, batch_id=batch_id, kind=EventKind.PASSWORDS_SENT, detail=detail)

    def failed(self, db: Connection, payload: dict[str, Any], *, error: str) -> list[outbox.Owed]:
        """Written with the row failed for good; what it still owes people instead."""
        what = payload.get("file")
        if what == BATCH_OUTCOME:
            return self._outcome_as_text(db, int(payload["batch_id"]), error=error)
        if what == BATCH_PASSWORDS:
            return _passwords_given_up(db, payload, error=error)
        if what == AUDIT_EXPORT:
            return _export_failed(db, payload, error=error)
        return []

    def _outcome_as_text(self, db: Connection, batch_id: int, *, error: str) -> list[outbox.Owed]:
        # No file (uploads refused, the channel gone): the counts and the failed rows as text.
        with self._sessions() as session:
            batch = session.get_one(RequestBatch, batch_id)
            rows = batch_tracking.rows_of(session, batch_id)
            counts = batch_tracking.counts(session, batch_id)
            session.expunge(batch)
        add_batch_event(
            db, batch_id=batch_id, kind=EventKind.OUTCOME_POST_FAILED, detail={"error": error}
        )
        text = f"{final_reply(batch, counts, attached=False)}\n{failed_rows_text(rows)}".strip()
        channel = batch.approval_channel_id
        if channel is None:
            return [outbox.dm(batch.requester_id, text=text)]
        return [outbox.batch_reply(batch_id, channel_id=channel, text=text)]


def erase_batch_passwords(db: Connection, batch_id: int) -> None:
    with Session(bind=db) as session:
        batch_tracking.erase_passwords(session, batch_id=batch_id)
        session.flush()


def _passwords_given_up(
    db: Connection, payload: dict[str, Any], *, error: str
) -> list[outbox.Owed]:
    batch_id = int(payload["batch_id"])
    erase_batch_passwords(db, batch_id)
    add_batch_event(
        db, batch_id=batch_id, kind=EventKind.PASSWORDS_NOT_SENT, detail={"error": error}
    )
    text = (
        f":warning: The generated passwords of bulk request #{batch_id} could not be sent to "
        "you, and the bot has now erased them. Each owner can set one with Zoom's "
        "“Forgot password”."
    )
    return [outbox.dm(str(payload["requester_id"]), text=text)]


# -- the audit export -----------------------------------------------------------------------


def _audit_export(sessions: sessionmaker[Session], payload: dict[str, Any]) -> FileToShare:
    since = datetime.fromisoformat(str(payload["since"]))
    until = datetime.fromisoformat(str(payload["until"]))
    file_format = str(payload["format"])
    with sessions() as session:
        export = load_export(session, since=since, until=until)
    return FileToShare(
        filename=str(payload["filename"]),
        title=str(payload["title"]),
        content=render_export(export, file_format).encode("utf-8"),
        initial_comment=str(payload["comment"]),
    )


def _export_failed(db: Connection, payload: dict[str, Any], *, error: str) -> list[outbox.Owed]:
    # Imported here: slack_export builds on the outbox, not the other way round.
    from bot.flows.export import export_failed  # noqa: PLC0415

    return export_failed(db, payload, error=error)

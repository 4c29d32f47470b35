"""What a row says, read from the database at send time: the approval message in its request's
newest state (so of two updates the later always shows the latest), the password DM (decrypted
only here), a person's App Home."""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk.models.views import View
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import RequestBatch, SubaccountRequest
from bot.flows.outcomes import settled_result
from bot.observability.redaction import redact
from bot.requests import batch_tracking
from bot.requests.passwords import PasswordVault
from bot.requests.subjects import Subject
from bot.slack.render import messages
from bot.slack.render.batch_blocks import batch_message
from bot.slack.render.blocks import ApprovalSettings, Rendered, request_message

# A person's App Home view with an optional notice (HomeTab.view_for).
HomeRenderer = Callable[[str, str | None], View]


class Renderer:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        approval: ApprovalSettings,
        vault: PasswordVault,
        home: HomeRenderer | None = None,
    ) -> None:
        self._sessions = sessions
        self._approval = approval
        self._vault = vault
        self._home = home

    def request(self, request_id: int) -> tuple[SubaccountRequest, Rendered]:
        """The approval message as the request stands now, its outcome included once known."""
        with self._sessions() as session:
            row = session.get_one(SubaccountRequest, request_id)
            approvers = Subject.one(request_id).approvers(session)
            result = settled_result(session, row)
            session.expunge(row)
        outcome = redact(messages.outcome_text(result)) if result is not None else None
        rendered = request_message(
            row, approvers=approvers, settings=self._approval, outcome=outcome
        )
        return row, rendered

    def request_row(self, request_id: int) -> SubaccountRequest:
        with self._sessions() as session:
            row = session.get_one(SubaccountRequest, request_id)
            session.expunge(row)
        return row

    def password(self, row: SubaccountRequest) -> str:
        """The generated password, decrypted to be sent; PasswordVaultError when the key
        changed, LookupError when it was already erased."""
        if row.password_ciphertext is None:
            raise LookupError("the password was already erased")
        return self._vault.decrypt(row.password_ciphertext)

    def home_view(self, user_id: str, notice: str | None) -> View:
        if self._home is None:
            raise LookupError("no App Home renderer")
        return self._home(user_id, notice)

    def batch(self, batch_id: int) -> tuple[RequestBatch, Rendered]:
        """A bulk request's message as the batch stands now (its approvals, its progress)."""
        with self._sessions() as session:
            batch = session.get_one(RequestBatch, batch_id)
            summary = batch_tracking.load_summary(session, batch_id)
            session.expunge(batch)
        return batch, batch_message(batch, summary, settings=self._approval)

    def batch_row(self, batch_id: int) -> RequestBatch:
        with self._sessions() as session:
            batch = session.get_one(RequestBatch, batch_id)
            session.expunge(batch)
        return batch

"""What a decision is about: a request of one account or of many (a bulk request), read and
written the same way. A request of one is its own `subaccount_requests` row; a request of many
is a `request_batches` row (its head) whose accounts are decided with it, each account's audit
trail reading as a request of one's."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, func, insert, literal, select
from sqlalchemy.orm import Session

from bot.db.models import RequestApproval, RequestBatch, RequestEvent, SubaccountRequest
from bot.requests.batches import add_batch_event, child_events, child_ids
from bot.requests.events import EventKind

Head = SubaccountRequest | RequestBatch


class Scope(enum.StrEnum):
    ONE = "one"  # a request made with the form
    MANY = "many"  # a bulk request: its CSV's accounts, decided together


@dataclass(frozen=True)
class Subject:
    scope: Scope
    id: int

    @classmethod
    def one(cls, request_id: int) -> Subject:
        return cls(Scope.ONE, request_id)

    @classmethod
    def many(cls, batch_id: int) -> Subject:
        return cls(Scope.MANY, batch_id)

    def head(self, session: Session, *, fresh: bool = False) -> Head:
        """The row that holds the decision (fresh: as this transaction now sees it)."""
        if self.scope == Scope.ONE:
            return session.get_one(SubaccountRequest, self.id, populate_existing=fresh)
        return session.get_one(RequestBatch, self.id, populate_existing=fresh)

    def find(self, session: Session) -> Head | None:
        """The head, or None when there is no such request."""
        if self.scope == Scope.ONE:
            return session.get(SubaccountRequest, self.id)
        return session.get(RequestBatch, self.id)

    def accounts(self, session: Session, *statuses: str) -> list[int]:
        if self.scope == Scope.ONE:
            return [self.id]
        return child_ids(session, self.id, *statuses)

    def accounts_where(self) -> ColumnElement[bool]:
        if self.scope == Scope.ONE:
            return SubaccountRequest.id == self.id
        return SubaccountRequest.batch_id == self.id

    def _first_account(self) -> ScalarSelect[Any] | ColumnElement[int]:
        """Every approval is recorded on every account; the first account's are the request's."""
        if self.scope == Scope.ONE:
            return literal(self.id)
        return (
            select(func.min(SubaccountRequest.id))
            .where(SubaccountRequest.batch_id == self.id)
            .scalar_subquery()
        )

    def approval_count(self) -> ScalarSelect[int]:
        return (
            select(func.count())
            .select_from(RequestApproval)
            .where(RequestApproval.request_id == self._first_account())
            .scalar_subquery()
        )

    def approvers(self, session: Session) -> list[str]:
        return list(
            session.scalars(
                select(RequestApproval.approver_id)
                .where(RequestApproval.request_id == self._first_account())
                .order_by(RequestApproval.at, RequestApproval.id)
            )
        )

    def add_approvals(self, session: Session, approver_id: str) -> list[int]:
        """One approval row per account (a unique key per account and approver)."""
        ids = self.accounts(session)
        now = datetime.now(UTC)
        rows = [{"request_id": i, "approver_id": approver_id, "at": now} for i in ids]
        session.execute(insert(RequestApproval), rows)
        return ids

    def account_events(
        self,
        session: Session,
        ids: list[int],
        *,
        kind: EventKind,
        actor_id: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """The same step on each account; a bulk request's name it in their detail."""
        if self.scope == Scope.ONE:
            session.add(
                RequestEvent(request_id=self.id, kind=kind, actor_id=actor_id, detail=detail)
            )
            return
        detail = {"batch_id": self.id, **(detail or {})}
        child_events(session, ids, kind=kind, actor_id=actor_id, detail=detail)

    def event(
        self, session: Session, *, kind: EventKind, actor_id: str | None, detail: dict[str, Any]
    ) -> None:
        """A step of the request as a whole (a refusal): on its row, or on its batch."""
        if self.scope == Scope.ONE:
            session.add(
                RequestEvent(request_id=self.id, kind=kind, actor_id=actor_id, detail=detail)
            )
        else:
            add_batch_event(session, batch_id=self.id, kind=kind, actor_id=actor_id, detail=detail)


def opened_at(head: Head) -> datetime:
    """When the request started waiting for a decision (a bulk request: its Submit)."""
    if isinstance(head, RequestBatch):
        return head.submitted_at or head.created_at
    return head.created_at

"""Read-only views of the audit log for the people in it: a requester's recent requests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import SubaccountRequest

RECENT_LIMIT = 10


def recent_requests(
    session: Session, *, requester_id: str, limit: int = RECENT_LIMIT
) -> list[SubaccountRequest]:
    """Newest first; refused attempts included, since they are that person's requests too."""
    return list(
        session.scalars(
            select(SubaccountRequest)
            .where(SubaccountRequest.requester_id == requester_id)
            .order_by(SubaccountRequest.id.desc())
            .limit(limit)
        )
    )

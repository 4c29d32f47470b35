"""What every flow shares: the settings, a decision's choice, the logger, the audit-event helper
and the App Home refresh a change owes."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import outbox
from bot.flows.unavailable import when_database_down
from bot.requests import workflow
from bot.requests.events import EventKind

# One logger name for all the flow modules: the one their log lines carried as bot/flows.py.
logger = logging.getLogger("bot.flows")


class Choice(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class FlowSettings:
    approval_channel: str | None
    required_approvals: int
    approval_ttl: timedelta
    require_reason: bool
    approve_reaction: str
    reject_reaction: str
    slash_command: str
    settle_seconds: float = 0.0
    ops_channel: str | None = None


def record_event(
    sessions: sessionmaker[Session],
    request_id: int | None,
    kind: EventKind,
    *,
    actor_id: str | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    with sessions.begin() as session:
        workflow.add_event(
            session, request_id=request_id, kind=kind, actor_id=actor_id, detail=detail
        )


def owe_home_refresh(
    sessions: sessionmaker[Session], user_id: str, *, notice: str | None = None
) -> None:
    """A request of `user_id` changed: their Home shows it (owed, so it is refreshed whichever
    process changed it; Slack keeps the view until someone looks)."""
    # No one waits on it: the log line is all there is.
    with when_database_down("owing a Home refresh"), sessions.begin() as session:
        outbox.owe(session, outbox.home(user_id, notice=notice))


def record_denied(
    sessions: sessionmaker[Session],
    user_id: str,
    channel_id: str | None,
    attempted: str,
    reason: str,
) -> None:
    """A refused request still gets its row; the refusal reaches the person either way, and
    the log keeps what the table could not."""
    refusal = f"recording the refusal of {user_id}"
    with when_database_down(refusal), sessions.begin() as session:
        workflow.record_denied(
            session, requester_id=user_id, channel_id=channel_id, attempted=attempted, reason=reason
        )

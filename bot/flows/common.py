"""What every flow shares: the settings, a decision's choice, the logger, the audit-event helper,
the App Home refresh a change owes, and the one answer to a database that is down."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import outbox
from bot.requests import workflow
from bot.requests.events import EventKind
from bot.slack.render import messages

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
    try:
        with sessions.begin() as session:
            outbox.owe(session, outbox.home(user_id, notice=notice))
    except SQLAlchemyError as exc:
        logger.warning("could not owe a Home refresh (%s)", type(exc).__name__)


@contextmanager
def when_database_down(
    tell: Callable[[str], object], *, what: str, retry: str = "React or click again later."
) -> Iterator[None]:
    """The database failed mid-step: one log line (the error's type, never its text, which may
    carry values) and the one answer a person gets, with what to do about it."""
    try:
        yield
    except SQLAlchemyError as exc:
        logger.warning("%s could not be recorded (%s)", what, type(exc).__name__)
        tell(f"{messages.unavailable_text()} {retry}")

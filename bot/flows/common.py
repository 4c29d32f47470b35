"""What every flow shares: the settings, the runtime's hooks, a decision's choice, the logger and
the audit-event helper."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import SubaccountRequest
from bot.requests import workflow

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


class FlowHooks:
    """How the flows reach what is built after them: the runtime sets each once it exists."""

    def __init__(self) -> None:
        # Set by the runtime to the provisioning worker's wake(): a job is due now.
        self.on_job_due: Callable[[], None] = lambda: None
        # Set by the runtime to the Home tab's refresh: a request was decided or provisioned.
        self.on_request_changed: Callable[[SubaccountRequest], None] = lambda _row: None
        # Set by the runtime to bulk onboarding (bot/runtime/batches.py): a reaction on a message
        # that is no single request's (True when it was a batch's), and a batch row's outcome.
        self.on_batch_reaction: Callable[..., bool] = lambda **_reaction: False
        self.on_batch_row_done: Callable[[SubaccountRequest], None] = lambda _row: None


def record_event(
    sessions: sessionmaker[Session],
    request_id: int | None,
    kind: str,
    *,
    actor_id: str | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    with sessions.begin() as session:
        workflow.add_event(
            session, request_id=request_id, kind=kind, actor_id=actor_id, detail=detail
        )

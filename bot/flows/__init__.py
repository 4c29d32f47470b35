"""Flows: what happens after Slack is acked, one class per concern, each joining the policy, the
request's domain (bot/requests/) and the notifier; build_flows() builds them top-down.

Listeners parse a payload and call one method of one of them; the slow parts (Slack calls, Zoom)
run on the background pool so Slack gets its ack at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import SubaccountRequest
from bot.flows.common import FlowSettings
from bot.flows.decision_notices import BatchNotices, DecisionNotices, RequestNotices
from bot.flows.decisions import Decisions
from bot.flows.forms import RequestForms
from bot.flows.outcomes import Outcomes
from bot.flows.queries import Queries
from bot.provisioning.job import ZoomAccounts
from bot.requests.passwords import PasswordVault
from bot.requests.policy import AccessPolicy
from bot.requests.subjects import Scope
from bot.runtime.tasks import BackgroundTasks
from bot.slack.notifier import Notifier


@dataclass(frozen=True)
class Flows:
    settings: FlowSettings
    forms: RequestForms
    queries: Queries
    decisions: Decisions
    outcomes: Outcomes


@dataclass(frozen=True)
class FlowParts:
    """What the flows are built from, made before them by the composition root."""

    sessions: sessionmaker[Session]
    policy: AccessPolicy
    notifier: Notifier
    zoom: ZoomAccounts
    vault: PasswordVault
    tasks: BackgroundTasks
    # The provisioning worker's wake (or, in a web process, a NOTIFY to the workers).
    jobs_due: Callable[[], None]
    # A bulk request's account reached its outcome: its batch's progress and report.
    batch_row_done: Callable[[SubaccountRequest], None]


def build_flows(
    settings: FlowSettings,
    parts: FlowParts,
    *,
    bot_user_id: str | None,
    escalation: AccessPolicy | None = None,
) -> Flows:
    p = parts
    required = settings.required_approvals
    notices: dict[Scope, DecisionNotices] = {
        Scope.ONE: RequestNotices(p.notifier, required_approvals=required),
        Scope.MANY: BatchNotices(p.notifier, required_approvals=required),
    }
    return Flows(
        settings=settings,
        forms=RequestForms(
            settings=settings,
            sessions=p.sessions,
            policy=p.policy,
            notifier=p.notifier,
            vault=p.vault,
            tasks=p.tasks,
            jobs_due=p.jobs_due,
        ),
        queries=Queries(
            settings=settings,
            sessions=p.sessions,
            policy=p.policy,
            notifier=p.notifier,
            tasks=p.tasks,
        ),
        decisions=Decisions(
            settings=settings,
            sessions=p.sessions,
            policy=p.policy,
            notifier=p.notifier,
            notices=notices,
            jobs_due=p.jobs_due,
            bot_user_id=bot_user_id,
            escalation=escalation,
        ),
        outcomes=Outcomes(
            settings=settings,
            sessions=p.sessions,
            notifier=p.notifier,
            zoom=p.zoom,
            vault=p.vault,
            batch_row_done=p.batch_row_done,
        ),
    )

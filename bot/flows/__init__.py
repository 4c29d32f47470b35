"""Flows: what happens after Slack is acked, one class per concern, each joining the policy, the
workflow and the notifier; build_flows() makes them share one set of hooks.

Listeners parse a payload and call one method of one of them; the slow parts (Slack calls, Zoom)
run on the background pool so Slack gets its ack at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.flows.common import FlowHooks, FlowSettings
from bot.flows.decisions import Decisions
from bot.flows.forms import RequestForms
from bot.flows.outcomes import Outcomes
from bot.flows.queries import Queries
from bot.provisioning.job import ZoomAccounts
from bot.requests.passwords import PasswordVault
from bot.requests.policy import AccessPolicy
from bot.runtime.tasks import BackgroundTasks
from bot.slack.notifier import Notifier


@dataclass(frozen=True)
class Flows:
    settings: FlowSettings
    hooks: FlowHooks
    forms: RequestForms
    queries: Queries
    decisions: Decisions
    outcomes: Outcomes


def build_flows(
    *,
    settings: FlowSettings,
    sessions: sessionmaker[Session],
    policy: AccessPolicy,
    notifier: Notifier,
    zoom: ZoomAccounts,
    vault: PasswordVault,
    tasks: BackgroundTasks,
    bot_user_id: str | None,
    escalation: AccessPolicy | None = None,
) -> Flows:
    hooks = FlowHooks()
    return Flows(
        settings=settings,
        hooks=hooks,
        forms=RequestForms(
            settings=settings,
            sessions=sessions,
            policy=policy,
            notifier=notifier,
            vault=vault,
            tasks=tasks,
            hooks=hooks,
        ),
        queries=Queries(
            settings=settings, sessions=sessions, policy=policy, notifier=notifier, tasks=tasks
        ),
        decisions=Decisions(
            settings=settings,
            sessions=sessions,
            policy=policy,
            notifier=notifier,
            hooks=hooks,
            bot_user_id=bot_user_id,
            escalation=escalation,
        ),
        outcomes=Outcomes(
            settings=settings,
            sessions=sessions,
            notifier=notifier,
            zoom=zoom,
            vault=vault,
            hooks=hooks,
        ),
    )

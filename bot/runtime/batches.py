"""Wiring bulk onboarding into a running bot (see compose.py): what it shares with the request
of one's path, built before the flows so that they get its progress through their constructor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.flows.batches import BulkFlows, BulkParts, BulkSettings
from bot.provisioning.batch_progress import BatchProgress
from bot.requests.passwords import PasswordVault
from bot.requests.policy import AccessPolicy
from bot.runtime.tasks import BackgroundTasks
from bot.slack.notifier import Notifier


@dataclass(frozen=True)
class Bulk:
    flows: BulkFlows
    progress: BatchProgress


def build_bulk(
    settings: Settings,
    *,
    sessions: sessionmaker[Session],
    policy: AccessPolicy,
    notifier: Notifier,
    client: WebClient,
    vault: PasswordVault,
    tasks: BackgroundTasks,
    jobs_due: Callable[[], None],
) -> Bulk:
    bulk_settings = BulkSettings(
        approval_channel=settings.approval_channel,
        required_approvals=settings.required_approvals,
        approval_ttl=settings.approval_ttl,
        require_reason=settings.require_reason,
        ops_channel=settings.ops_channel,
    )

    def run_later(task: Callable[[int], None], batch_id: int) -> object:
        return tasks.submit(task, batch_id)

    parts = BulkParts(
        sessions=sessions,
        policy=policy,
        notifier=notifier,
        client=client,
        vault=vault,
        jobs_due=jobs_due,
        run_later=run_later,
    )
    return Bulk(
        flows=BulkFlows(settings=bulk_settings, parts=parts),
        progress=BatchProgress(settings=bulk_settings, parts=parts),
    )


def with_bulk_sweep(sweep: Callable[[], None], bulk: Bulk) -> Callable[[], None]:
    """The job loop's upkeep: the pending-request sweep, then the batches a crash left behind."""

    def both() -> None:
        try:
            sweep()
        finally:
            bulk.progress.sweep()

    return both

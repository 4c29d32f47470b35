"""Wiring bulk onboarding into a running bot (see runtime.py): what it shares with the single
request path, and the hooks by which the request flows and the job loop hand it batch work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.flows.batch_decisions import BatchApprovals
from bot.flows.batches import BulkFlows, BulkParts, BulkSettings
from bot.flows.common import FlowHooks
from bot.provisioning.batch_progress import BatchProgress
from bot.requests.passwords import PasswordVault
from bot.requests.policy import AccessPolicy
from bot.runtime.tasks import BackgroundTasks
from bot.slack.batch_notifier import BatchNotifier
from bot.slack.notifier import Notifier
from bot.slack.render.blocks import ApprovalSettings


@dataclass(frozen=True)
class Bulk:
    flows: BulkFlows
    approvals: BatchApprovals
    progress: BatchProgress

    def wake_jobs_with(self, wake: Callable[[], None]) -> None:
        """The provisioning worker's wake(): rows are due now (approved, or needing none)."""
        self.flows.on_job_due = wake
        self.approvals.on_job_due = wake


def build_bulk(
    settings: Settings,
    *,
    sessions: sessionmaker[Session],
    policy: AccessPolicy,
    notifier: Notifier,
    client: WebClient,
    vault: PasswordVault,
    approval: ApprovalSettings,
) -> Bulk:
    del approval  # the batch's message is rendered by the outbox sender (bot/delivery/)
    bulk_settings = BulkSettings(
        approval_channel=settings.approval_channel,
        required_approvals=settings.required_approvals,
        approval_ttl=settings.approval_ttl,
        require_reason=settings.require_reason,
        ops_channel=settings.ops_channel,
    )
    parts = BulkParts(
        sessions=sessions,
        policy=policy,
        notifier=notifier,
        batches=BatchNotifier(notifier, approval_channel=settings.approval_channel),
        client=client,
        vault=vault,
    )
    return Bulk(
        flows=BulkFlows(settings=bulk_settings, parts=parts),
        approvals=BatchApprovals(settings=bulk_settings, parts=parts),
        progress=BatchProgress(settings=bulk_settings, parts=parts),
    )


def connect(bulk: Bulk, *, hooks: FlowHooks, tasks: BackgroundTasks) -> None:
    """Reactions on a batch's message and finished batch rows reach the bulk side; the final
    report (its file uploads) runs on the background pool. The batch's messages, replies and
    DMs are outbox rows, delivered by the worker."""
    hooks.on_batch_reaction = bulk.approvals.react
    hooks.on_batch_row_done = bulk.progress.row_done

    def run_later(task: Callable[[int], None], batch_id: int) -> object:
        return tasks.submit(task, batch_id)

    bulk.progress.run_later = run_later


def with_bulk_sweep(sweep: Callable[[], None], bulk: Bulk) -> Callable[[], None]:
    """The job loop's upkeep: the pending-request sweep, then the batches a crash left behind."""

    def both() -> None:
        try:
            sweep()
        finally:
            bulk.progress.sweep()

    return both

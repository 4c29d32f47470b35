"""Composition root: settings → engine → migrations → clients → flows → Bolt app → WSGI app,
and for a worker the delivery loop, the Zoom job loop and their upkeep."""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.audit.access_lists import audit_access_lists
from bot.config import Settings
from bot.db.migrate import upgrade_to_head
from bot.db.session import make_engine, make_session_factory
from bot.delivery.file_upload import FileUploads
from bot.delivery.files import Files
from bot.delivery.outbox import wake_after_commit
from bot.delivery.rendering import Renderer
from bot.delivery.repair import Repairs
from bot.delivery.sender import Sender
from bot.delivery.store import OutboxStore
from bot.delivery.wakeup import Listener, Wakeup, wake_on_commit
from bot.delivery.worker import DeliveryWorker, Upkeep
from bot.flows import FlowParts, Flows, build_flows
from bot.flows.common import FlowSettings
from bot.flows.home import HomeTab, team_domain_from_url
from bot.flows.pending_notices import PendingNotices
from bot.observability.ephemeral import warn_about_data_loss
from bot.observability.redaction import install_log_redaction, register_secret
from bot.observability.sentry import init_sentry
from bot.provisioning.ratelimit import SharedRateLimiter
from bot.provisioning.worker import ProvisioningWorker, new_instance_id
from bot.requests.passwords import PasswordVault, load_or_create_key, parse_keys
from bot.requests.policy import AccessPolicy, Allowlist, Directory
from bot.requests.reminders import Clock, PendingSchedule, PendingSweeper, utc_now
from bot.runtime.batches import Bulk, build_bulk, with_bulk_sweep
from bot.runtime.tasks import BackgroundTasks
from bot.runtime.web import HealthLimits, WSGIApp, make_wsgi_app
from bot.slack.app import create_app
from bot.slack.directory import SlackDirectory
from bot.slack.notifier import Notifier
from bot.slack.render.blocks import ApprovalSettings
from bot.zoom.auth import ZoomServerToServerAuth
from bot.zoom.client import ZoomClient

logger = logging.getLogger(__name__)
# Calls leave on their rate-limit slots but reach Zoom up to this far off them (see
# bench/BULK_RESULTS.md: without it, one call in twenty drew a 429 at exactly Zoom's rate).
ARRIVAL_JITTER_SECONDS = 0.02


class Role(enum.Enum):
    """What one process of the bot runs (the Procfile's process types)."""

    ALL = "all"  # acks and the worker in one process: `python app.py`, tests
    WEB = "web"  # verify, validate, write, ack: gunicorn's workers (`web:`)
    WORKER = "worker"  # the outbox, the Zoom jobs, the sweeps and repairs (`worker:`)


@dataclass
class Runtime:
    """Everything one process runs; close() stops the loops and the pools."""

    settings: Settings
    engine: Engine
    tasks: BackgroundTasks
    flows: Flows
    bolt: App
    wsgi: WSGIApp
    zoom: ZoomClient
    zoom_token_client: httpx.Client
    worker: ProvisioningWorker
    delivery: DeliveryWorker
    repairs: Repairs
    sweeper: PendingSweeper | None = None
    bulk: Bulk | None = None
    listener: Listener | None = None
    role: Role = Role.ALL

    def close(self, *, wait: bool = True) -> None:
        if self.listener is not None:
            self.listener.stop()
        self.worker.stop()
        self.delivery.stop()
        self.tasks.shutdown(wait=wait)
        self.zoom.close()
        self.zoom_token_client.close()
        self.engine.dispose()


def protect_secrets(settings: Settings) -> None:
    install_log_redaction()
    for secret in (
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.zoom_client_secret,
        settings.password_encryption_key,
        settings.sentry_dsn,
    ):
        register_secret(secret.get_secret_value() if secret is not None else None)
    # Each key of a rotation on its own too: a line may show one without its neighbours.
    for key in encryption_keys_from_settings(settings):
        register_secret(key.decode())


def start_observability(settings: Settings) -> None:
    """Sentry (once per process, when SENTRY_DSN is set), and the loud warning of a
    deployment whose audit log or key would not survive a restart."""
    dsn = settings.sentry_dsn
    init_sentry(
        dsn.get_secret_value() if dsn is not None else None,
        environment=settings.sentry_environment,
    )
    warn_about_data_loss(
        ephemeral_disk=settings.ephemeral_disk,
        # The platform's own markers (DYNO, K_SERVICE, …), which are not settings.
        environ=os.environ,
        sqlite=settings.is_sqlite,
        key_file_generated=settings.password_encryption_key is None,
    )


def build_runtime(settings: Settings, *, clock: Clock = utc_now, role: Role = Role.ALL) -> Runtime:
    """`clock` drives the reminders, escalations and expiries of pending requests (tests move
    it instead of sleeping)."""
    protect_secrets(settings)
    start_observability(settings)
    engine = make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    if settings.auto_migrate:
        upgrade_to_head(engine)
    wakeup = Wakeup()
    wake_on_commit(engine, wakeup)
    # The web process's client: a 429 on views.open or an ephemeral is retried once, inside
    # the trigger's 3 s (a 429 means Slack did nothing, so a retry cannot repeat anything).
    slack = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=int(settings.slack_timeout_seconds),
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    identity = slack.auth_test()
    bot_user_id = str(identity.get("user_id") or "") or None
    sessions = make_session_factory(engine)
    audit_access_lists(sessions, settings)
    # Zoom's limit is per account: every request of every instance, retries included, waits
    # for its slot right before it is sent.
    limiter = SharedRateLimiter(
        sessions,
        rate_per_second=settings.zoom_rate_limit_per_second,
        arrival_jitter_seconds=ARRIVAL_JITTER_SECONDS,
    )
    zoom_token_client = httpx.Client(timeout=zoom_timeout(settings))
    zoom = build_zoom_client(settings, zoom_token_client, before_request=limiter.acquire)
    tasks = BackgroundTasks()
    directory = SlackDirectory(slack, cache_seconds=settings.directory_cache_seconds)
    notifier = Notifier(
        slack,
        approval=approval_settings(settings),
        sessions=sessions,
        delivery_deadline=settings.slack_delivery_timeout,
        later=tasks,  # ephemerals: after the ack, never on its path
        approval_channel=settings.approval_channel,
    )
    policy = build_policy(settings, directory)
    vault = password_vault(settings)
    runs_worker = role is not Role.WEB
    # A job became due: this process's job loop wakes, or (a web process) the workers do,
    # by PostgreSQL's NOTIFY (else their poll finds it).
    jobs_wake = wakeup.event()
    jobs_due = jobs_wake.set if runs_worker else partial(notify_workers, engine)
    bulk = build_bulk(
        settings,
        sessions=sessions,
        policy=policy,
        notifier=notifier,
        client=slack,
        vault=vault,
        tasks=tasks,
        jobs_due=jobs_due,
    )
    parts = FlowParts(
        sessions=sessions,
        policy=policy,
        notifier=notifier,
        zoom=zoom,
        vault=vault,
        tasks=tasks,
        jobs_due=jobs_due,
        batch_row_done=bulk.progress.row_done,
    )
    flows = build_flows(
        flow_settings(settings),
        parts,
        bot_user_id=bot_user_id,
        escalation=build_escalation_policy(settings, directory),
    )
    # The Home's links to approval messages need the workspace's domain, which app_home_opened
    # does not carry: auth.test's `url` names it once for the process.
    home = HomeTab(
        sessions=sessions,
        decisions=flows.decisions,
        client=slack,
        team_domain=team_domain_from_url(str(identity.get("url") or "")),
    )
    secret = settings.slack_signing_secret
    bolt = create_app(
        client=slack,
        signing_secret=secret.get_secret_value() if secret else None,
        flows=flows,
        tasks=tasks,
        home_tab=home,
        bulk=bulk,
    )
    notices = PendingNotices(
        sessions=sessions,
        notifier=notifier,
        schedule=pending_schedule(settings),
        approvers=settings.approver_allowlist,
        escalation_approvers=settings.escalation_approvers,
        directory=directory,
    )
    sweeper = PendingSweeper(
        sessions=sessions,
        schedule=pending_schedule(settings),
        owe=notices.owe,
        clock=clock,
    )
    worker = start_worker(
        settings,
        flows,
        sessions,
        sweep=with_bulk_sweep(sweeper.run_if_due, bulk),
        start=runs_worker,
        wake=jobs_wake,
    )
    repairs = Repairs(
        sessions=sessions,
        client=delivery_client(settings),
        decisions=flows.decisions,
        outcomes=flows.outcomes,
        approval_channel=settings.approval_channel,
    )
    delivery = build_delivery(
        settings,
        engine,
        sessions=sessions,
        vault=vault,
        home=home,
        flows=flows,
        repairs=repairs,
        wake=wakeup.event(),
    )
    listener = None
    if runs_worker:
        delivery.start()
        if engine.dialect.name == "postgresql":
            listener = Listener(settings.database_url, wakeup)
            listener.start()
    wsgi = make_wsgi_app(bolt, engine, health=health_limits(settings))
    return Runtime(
        settings,
        engine,
        tasks,
        flows,
        bolt,
        wsgi,
        zoom,
        zoom_token_client,
        worker,
        delivery,
        repairs,
        sweeper,
        bulk,
        listener,
        role,
    )


def delivery_client(settings: Settings) -> WebClient:
    """The worker's client: no retry handlers at all. slack_sdk's default one re-sends after a
    connection error, which could post a message twice; the outbox decides every retry."""
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=int(settings.slack_timeout_seconds),
        retry_handlers=[],
    )


def build_delivery(
    settings: Settings,
    engine: Engine,
    *,
    sessions: sessionmaker[Session],
    vault: PasswordVault,
    home: HomeTab,
    flows: Flows,
    repairs: Repairs,
    wake: threading.Event,
) -> DeliveryWorker:
    store = OutboxStore(engine, instance_id=new_instance_id())
    renderer = Renderer(
        sessions=sessions, approval=approval_settings(settings), vault=vault, home=home.view_for
    )
    client = delivery_client(settings)
    # Slack's per-channel limit, with 2 % to spare for clocks and queues on the way.
    post_interval = 1.02 / settings.slack_posts_per_second
    sender = Sender(
        engine=engine,
        store=store,
        client=client,
        renderer=renderer,
        approval=approval_settings(settings),
        post_interval_seconds=post_interval,
        ops_channel=settings.ops_channel,
        files=Files(sessions=sessions, vault=vault),
        uploads=FileUploads(
            client=client,
            store=store,
            timeout_seconds=settings.slack_timeout_seconds,
            post_interval_seconds=post_interval,
        ),
        # Reactions that came before a request's (of one or many) message was recorded.
        on_posted=flows.decisions.apply_held,
    )
    upkeep = (
        Upkeep("repairs", repairs.run_all, every_seconds=settings.reaction_reconcile_seconds),
        Upkeep(
            "reaction read-back",
            repairs.reconcile_reactions,
            every_seconds=settings.reaction_reconcile_seconds,
        ),
    )
    return DeliveryWorker(
        store=store,
        sender=sender,
        wake=wake,
        parallel=settings.slack_delivery_parallel,
        upkeep=upkeep,
    )


def health_limits(settings: Settings) -> HealthLimits:
    return HealthLimits(
        worker_stale_seconds=settings.worker_stale_seconds,
        outbox_stale_seconds=settings.outbox_stale_seconds,
    )


def notify_workers(engine: Engine) -> None:
    """A job became due in a process without a job loop: wake the worker processes."""
    if engine.dialect.name != "postgresql":
        return  # SQLite deployments poll (one process normally runs both)
    try:
        with engine.begin() as connection:
            wake_after_commit(connection)
    except SQLAlchemyError as exc:
        logger.warning("could not wake the workers (%s); they poll", type(exc).__name__)


def start_worker(
    settings: Settings,
    flows: Flows,
    sessions: sessionmaker[Session],
    *,
    sweep: Callable[[], None] | None = None,
    start: bool = True,
    wake: threading.Event | None = None,
) -> ProvisioningWorker:
    worker = ProvisioningWorker(
        sessions=sessions,
        run_job=flows.outcomes.provision,
        instance_id=new_instance_id(),
        lease_seconds=settings.provision_lease_seconds,
        poll_seconds=settings.provision_poll_seconds,
        max_parallel=settings.provision_parallel,
        sweep=sweep,
        wake=wake,
    )
    if start:
        worker.start()
    return worker


def zoom_timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.zoom_timeout_seconds, connect=5.0)


def build_zoom_client(
    settings: Settings,
    token_client: httpx.Client,
    *,
    before_request: Callable[[], object] | None = None,
) -> ZoomClient:
    auth = ZoomServerToServerAuth(
        account_id=settings.zoom_account_id,
        client_id=settings.zoom_client_id,
        client_secret=settings.zoom_client_secret.get_secret_value(),
        oauth_url=settings.zoom_oauth_url,
        token_client=token_client,
    )
    return ZoomClient(
        api_url=settings.zoom_api_url,
        auth=auth,
        timeout=zoom_timeout(settings),
        before_request=before_request,
    )


def build_policy(settings: Settings, directory: Directory) -> AccessPolicy:
    return AccessPolicy(
        requesters=Allowlist.parse(settings.requester_allowlist),
        approvers=Allowlist.parse(settings.approver_allowlist),
        directory=directory,
    )


def build_escalation_policy(settings: Settings, directory: Directory) -> AccessPolicy | None:
    """ESCALATION_APPROVERS as approvers (they request nothing): used for escalated requests."""
    if not settings.escalation_approvers:
        return None
    return AccessPolicy(
        requesters=Allowlist.parse([]),
        approvers=Allowlist.parse(settings.escalation_approvers),
        directory=directory,
    )


def pending_schedule(settings: Settings) -> PendingSchedule:
    return PendingSchedule(
        approval_ttl=settings.approval_ttl,
        remind_after=settings.remind_after,
        escalate_after=settings.escalate_after,
    )


def flow_settings(settings: Settings) -> FlowSettings:
    return FlowSettings(
        approval_channel=settings.approval_channel,
        required_approvals=settings.required_approvals,
        approval_ttl=settings.approval_ttl,
        require_reason=settings.require_reason,
        approve_reaction=settings.approve_reaction,
        reject_reaction=settings.reject_reaction,
        slash_command=settings.slash_command,
        # A create sent by an instance that died may still be running at Zoom for this long.
        settle_seconds=settings.zoom_timeout_seconds,
        ops_channel=settings.ops_channel,
    )


def approval_settings(settings: Settings) -> ApprovalSettings:
    return ApprovalSettings(
        required_approvals=settings.required_approvals,
        approve_reaction=settings.approve_reaction,
        reject_reaction=settings.reject_reaction,
    )


def password_vault(settings: Settings) -> PasswordVault:
    """PASSWORD_ENCRYPTION_KEY's keys (the first encrypts, all decrypt), else the key file's."""
    keys = encryption_keys_from_settings(settings) or [load_or_create_key(key_file_path(settings))]
    return PasswordVault(keys[0], older_keys=keys[1:])


def encryption_keys_from_settings(settings: Settings) -> list[bytes]:
    if settings.password_encryption_key is None:
        return []
    return parse_keys(settings.password_encryption_key.get_secret_value())


def key_file_path(settings: Settings) -> Path:
    if settings.password_key_file:
        return Path(settings.password_key_file)
    database = make_url(settings.database_url).database if settings.is_sqlite else None
    if database and database != ":memory:":
        return Path(database).with_suffix(".key")
    return Path("zoombot.key")


def wait_until_idle(runtime: Runtime, timeout_seconds: float = 15.0) -> bool:
    """True once no background task, no provisioning job and no due job remains (tests, bench)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        runtime.tasks.wait_idle(max(0.0, deadline - time.monotonic()))
        worker = runtime.worker
        # Order matters: a job leaves "due" only after it is marked in flight (see _claim), so
        # reading "due" first and "in flight" second cannot miss a claim landing in between.
        if (
            not worker.has_due_jobs()
            and worker.idle()
            and runtime.delivery.idle()
            and runtime.tasks.wait_idle(0)
        ):
            return True
        time.sleep(0.02)
    return False

"""Composition root: settings → engine → migrations → clients → flows → Bolt app → WSGI app,
and for a worker the delivery loop, the Zoom job loop and their upkeep. Each part is built from
settings in parts.py (worker_parts.py for the worker side); here they are assembled, top-down,
each given what it needs through its constructor."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import httpx
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.audit.access_lists import audit_access_lists
from bot.config import Settings
from bot.db.migrate import upgrade_to_head
from bot.db.session import make_engine, make_session_factory
from bot.delivery.repair import Repairs
from bot.delivery.wakeup import Listener, Wakeup, wake_on_commit
from bot.delivery.worker import DeliveryWorker
from bot.flows import FlowParts, Flows, build_flows
from bot.flows.home import HomeTab, team_domain_from_url
from bot.flows.pending_notices import PendingNotices
from bot.provisioning.worker import ProvisioningWorker
from bot.requests.passwords import PasswordVault
from bot.requests.reminders import Clock, PendingSweeper, utc_now
from bot.runtime.batches import Bulk, build_bulk, with_bulk_sweep
from bot.runtime.parts import (
    approval_settings,
    build_escalation_policy,
    build_policy,
    build_zoom_client,
    flow_settings,
    health_limits,
    password_vault,
    pending_schedule,
    shared_rate_limiter,
    web_client,
    zoom_timeout,
)
from bot.runtime.safeguards import protect_secrets, start_observability
from bot.runtime.tasks import BackgroundTasks
from bot.runtime.web import WSGIApp, make_wsgi_app
from bot.runtime.worker_parts import (
    build_delivery,
    delivery_client,
    notify_workers,
    start_delivery,
    start_worker,
)
from bot.slack.app import create_app
from bot.slack.directory import SlackDirectory
from bot.slack.notifier import Notifier
from bot.zoom.client import ZoomClient


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


@dataclass(frozen=True)
class _Base:
    """What every later phase of build_runtime is built on."""

    engine: Engine
    wakeup: Wakeup
    sessions: sessionmaker[Session]
    slack: WebClient
    bot_user_id: str | None
    team_domain: str
    tasks: BackgroundTasks
    directory: SlackDirectory
    notifier: Notifier
    vault: PasswordVault


def build_runtime(settings: Settings, *, clock: Clock = utc_now, role: Role = Role.ALL) -> Runtime:
    """`clock` drives the reminders, escalations and expiries of pending requests (tests move
    it instead of sleeping)."""
    protect_secrets(settings)
    start_observability(settings)
    base = _open(settings)
    zoom_token_client = httpx.Client(timeout=zoom_timeout(settings))
    limiter = shared_rate_limiter(settings, base.sessions)
    zoom = build_zoom_client(settings, zoom_token_client, before_request=limiter.acquire)
    runs_worker = role is not Role.WEB
    # A job became due: this process's job loop wakes, or (a web process) the workers do,
    # by PostgreSQL's NOTIFY (else their poll finds it).
    jobs_wake = base.wakeup.event()
    jobs_due = jobs_wake.set if runs_worker else partial(notify_workers, base.engine)
    bulk, flows = _build_flows(settings, base, zoom=zoom, jobs_due=jobs_due)
    home, bolt = _build_slack_app(settings, base, flows=flows, bulk=bulk)
    sweeper = _build_sweeper(settings, base, clock=clock)
    worker = start_worker(
        settings,
        flows,
        base.sessions,
        sweep=with_bulk_sweep(sweeper.run_if_due, bulk),
        start=runs_worker,
        wake=jobs_wake,
    )
    repairs = Repairs(
        sessions=base.sessions,
        client=delivery_client(settings),
        decisions=flows.decisions,
        outcomes=flows.outcomes,
        approval_channel=settings.approval_channel,
    )
    delivery = build_delivery(
        settings,
        base.engine,
        sessions=base.sessions,
        vault=base.vault,
        home=home,
        flows=flows,
        repairs=repairs,
        wake=base.wakeup.event(),
    )
    listener = start_delivery(settings, base.engine, delivery, base.wakeup) if runs_worker else None
    wsgi = make_wsgi_app(bolt, base.engine, health=health_limits(settings))
    return Runtime(
        settings,
        base.engine,
        base.tasks,
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


def _open(settings: Settings) -> _Base:
    """The database (migrated when AUTO_MIGRATE), the web client and who the bot is in Slack,
    the pool, and the parts every flow shares."""
    engine = make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    if settings.auto_migrate:
        upgrade_to_head(engine)
    wakeup = Wakeup()
    wake_on_commit(engine, wakeup)
    slack = web_client(settings)
    identity = slack.auth_test()
    sessions = make_session_factory(engine)
    audit_access_lists(sessions, settings)
    tasks = BackgroundTasks()
    notifier = Notifier(
        slack,
        approval=approval_settings(settings),
        sessions=sessions,
        delivery_deadline=settings.slack_delivery_timeout,
        later=tasks,  # ephemerals: after the ack, never on its path
        approval_channel=settings.approval_channel,
    )
    return _Base(
        engine=engine,
        wakeup=wakeup,
        sessions=sessions,
        slack=slack,
        bot_user_id=str(identity.get("user_id") or "") or None,
        # The Home's links to approval messages need the workspace's domain, which
        # app_home_opened does not carry: auth.test's `url` names it once for the process.
        team_domain=team_domain_from_url(str(identity.get("url") or "")),
        tasks=tasks,
        directory=SlackDirectory(slack, cache_seconds=settings.directory_cache_seconds),
        notifier=notifier,
        vault=password_vault(settings),
    )


def _build_flows(
    settings: Settings, base: _Base, *, zoom: ZoomClient, jobs_due: Callable[[], None]
) -> tuple[Bulk, Flows]:
    """Bulk onboarding first: the flows get its progress through their constructor."""
    policy = build_policy(settings, base.directory)
    bulk = build_bulk(
        settings,
        sessions=base.sessions,
        policy=policy,
        notifier=base.notifier,
        client=base.slack,
        vault=base.vault,
        tasks=base.tasks,
        jobs_due=jobs_due,
    )
    parts = FlowParts(
        sessions=base.sessions,
        policy=policy,
        notifier=base.notifier,
        zoom=zoom,
        vault=base.vault,
        tasks=base.tasks,
        jobs_due=jobs_due,
        batch_row_done=bulk.progress.row_done,
    )
    flows = build_flows(
        flow_settings(settings),
        parts,
        bot_user_id=base.bot_user_id,
        escalation=build_escalation_policy(settings, base.directory),
    )
    return bulk, flows


def _build_slack_app(
    settings: Settings, base: _Base, *, flows: Flows, bulk: Bulk
) -> tuple[HomeTab, App]:
    """The Home tab and the Bolt app that routes Slack's events to the flows."""
    home = HomeTab(
        sessions=base.sessions,
        decisions=flows.decisions,
        client=base.slack,
        team_domain=base.team_domain,
    )
    secret = settings.slack_signing_secret
    bolt = create_app(
        client=base.slack,
        signing_secret=secret.get_secret_value() if secret else None,
        flows=flows,
        tasks=base.tasks,
        home_tab=home,
        bulk=bulk,
    )
    return home, bolt


def _build_sweeper(settings: Settings, base: _Base, *, clock: Clock) -> PendingSweeper:
    """The sweep of pending requests (remind, escalate, expire) and what it says."""
    notices = PendingNotices(
        sessions=base.sessions,
        notifier=base.notifier,
        schedule=pending_schedule(settings),
        approvers=settings.approver_allowlist,
        escalation_approvers=settings.escalation_approvers,
        directory=base.directory,
    )
    return PendingSweeper(
        sessions=base.sessions,
        schedule=pending_schedule(settings),
        owe=notices.owe,
        clock=clock,
    )


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

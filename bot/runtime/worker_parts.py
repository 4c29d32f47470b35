"""The worker side's parts, built from settings: the delivery loop (its Slack client without
retries, its store, sender and upkeep) and the PostgreSQL listener that wakes it, the Zoom job
loop, and how a process without a job loop wakes the workers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.delivery.file_upload import FileUploads
from bot.delivery.files import Files
from bot.delivery.heartbeats import Heartbeats
from bot.delivery.outbox import wake_after_commit
from bot.delivery.rendering import Renderer
from bot.delivery.repair import Repairs
from bot.delivery.sender import Sender
from bot.delivery.store import OutboxStore
from bot.delivery.wakeup import Listener, Wakeup
from bot.delivery.worker import DeliveryWorker, Upkeep
from bot.flows import Flows
from bot.flows.home import HomeTab
from bot.provisioning.worker import ProvisioningWorker, new_instance_id
from bot.requests.passwords import PasswordVault
from bot.runtime.parts import approval_settings

logger = logging.getLogger(__name__)


# -- the delivery loop -----------------------------------------------------------------------


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
    instance_id = new_instance_id()
    store = OutboxStore(engine, instance_id=instance_id)
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
        heartbeats=Heartbeats(engine, worker_id=instance_id),
        sender=sender,
        wake=wake,
        parallel=settings.slack_delivery_parallel,
        upkeep=upkeep,
    )


def start_delivery(
    settings: Settings, engine: Engine, delivery: DeliveryWorker, wakeup: Wakeup
) -> Listener | None:
    """Start the delivery loop and, on PostgreSQL, the listener whose NOTIFYs wake this
    process's loops (elsewhere they poll)."""
    delivery.start()
    if engine.dialect.name != "postgresql":
        return None
    listener = Listener(settings.database_url, wakeup)
    listener.start()
    return listener


# -- the Zoom job loop -----------------------------------------------------------------------


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


def notify_workers(engine: Engine) -> None:
    """A job became due in a process without a job loop: wake the worker processes."""
    if engine.dialect.name != "postgresql":
        return  # SQLite deployments poll (one process normally runs both)
    try:
        with engine.begin() as connection:
            wake_after_commit(connection)
    except SQLAlchemyError as exc:
        logger.warning("could not wake the workers (%s); they poll", type(exc).__name__)

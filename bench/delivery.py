# ruff: noqa: PLR0912, PLR0915, E501 - a measurement script: its report tables and checks read best whole
"""`python -m bench.delivery`: the Slack outbox (bot/delivery/) against a Slack that limits and
fails, with the bot run as in production (gunicorn web processes that only ack + `python app.py
worker` processes that deliver), on a throwaway PostgreSQL database.

A. burst: Slack's per-channel limit on (limit_channel_posts(1/s, burst 3)); 50 requests confirmed
   within about a second into one approval channel; wait for the 50 approval messages. Reports
   exactly-once, order, the rate over the paced part and the 429s Slack gave.
B. chaos: random_faults(0.2, all four kinds) on every method but auth.test, SLACK_TIMEOUT_SECONDS
   2 (stalls 3 s), 3 web workers + 2 delivery workers, one worker SIGKILLed every 10 s and
   restarted at once; N requests (half with a generated password), each approved by a reaction
   or a button click once posted; run until every request is created and nothing is pending in
   the outbox. Then what Slack holds is checked against the database.

    .venv/bin/python -m bench.delivery [--burst-only|--chaos-only] [--requests N]

Writes bench/DELIVERY_RESULTS.md (`--output` elsewhere). Not a test: it reports figures. Every
wait is bounded; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from bench.audit import postgres_admin_url, throwaway_postgres
from bench.servers import _die_with_parent, free_port
from bot.config import normalize_database_url
from bot.db.models import RequestEvent, SlackOutbox, SubaccountRequest, WorkerHeartbeat
from bot.db.session import make_engine
from bot.requests.passwords import generate_password
from bot.slack.ids import APPROVE_ACTION, PREVIEW_CALLBACK
from sandbox import slack_emulator as slack_module
from sandbox import zoom_simulator as zoom_module
from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_faults import RANDOM_KINDS
from sandbox.slack_signing import SlackSender
from sandbox.slack_state import ActionRefused
from sandbox.zoom_simulator import ZoomSimulator
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    BOT_TOKEN,
    ENCRYPTION_KEY,
    SIGNING_SECRET,
    ZOOM_CLIENT_SECRET,
    modal_values,
    preview_metadata,
)

# A burst of submissions would overflow socketserver's small listen backlog.
slack_module._Server.request_queue_size = 1024
zoom_module._Server.request_queue_size = 1024

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("DELIVERY_RESULTS.md")
PYTHON = str(Path(sys.executable))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
REQUESTERS = tuple(f"UREQ{n}" for n in range(1, 9))
ORIGIN_CHANNELS = ("CORIGIN1", "CORIGIN2", "CORIGIN3", "CORIGIN4")  # never the approval channel
METADATA_TYPE = "zoombot_outbox"
SAVED = re.compile(r"Request #(\d+) is saved")
APPROVAL_TEXT = re.compile(r"^Zoom sub account request #(\d+) ")
CREATED_MARK = "*Created* Zoom sub account"
KILL_EVERY_SECONDS = 10.0
SLACK_TIMEOUT_SECONDS = 2
STALL_SECONDS = 3.0
CHAOS_RATE = 0.2


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)  # noqa: T201


# -- processes -----------------------------------------------------------------------------------


@dataclass
class Proc:
    """One bot process (a gunicorn master with its workers, or `python app.py worker`)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    def start(self) -> None:
        self.starts += 1
        logfile = self.workdir / f"{self.name}.log"
        with logfile.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter and app
                self.argv,
                cwd=self.workdir,  # no .env here; PYTHONPATH finds the app
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            assert self.process is not None
            self.process.wait(timeout=15)
            self.kills += 1

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_text(self) -> str:
        path = self.workdir / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Bot:
    """Fakes + one gunicorn (web) + K `python app.py worker` on one throwaway database."""

    def __init__(
        self,
        *,
        database_url: str,
        workdir: Path,
        slack: SlackEmulator,
        zoom: ZoomSimulator,
        web_workers: int,
        delivery_workers: int,
        extra: dict[str, str],
    ) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.slack = slack
        self.zoom = zoom
        self.port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(workdir),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.base_url,
            "ZOOM_ACCOUNT_ID": "acct-1",
            "ZOOM_CLIENT_ID": "zoom-client-id",
            "ZOOM_CLIENT_SECRET": ZOOM_CLIENT_SECRET,
            "ZOOM_API_URL": zoom.api_url,
            "ZOOM_OAUTH_URL": zoom.oauth_url,
            "ZOOM_TIMEOUT_SECONDS": "5",
            "DATABASE_URL": database_url,
            "REQUESTER_ALLOWLIST": ",".join(REQUESTERS),
            "APPROVER_ALLOWLIST": APPROVER,
            "APPROVAL_CHANNEL": APPROVAL_CHANNEL,
            "REQUIRED_APPROVALS": "1",
            "PASSWORD_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "PROVISION_LEASE_SECONDS": "10",
            "LOG_LEVEL": "INFO",
            **extra,
        }
        self.env = env
        web_argv = [
            GUNICORN,
            "--worker-class", "gthread",
            "--workers", str(web_workers),
            "--threads", "8",
            "--bind", f"127.0.0.1:{self.port}",
            "--access-logfile", "-",
            "app:wsgi()",
        ]  # fmt: skip
        self.web = Proc("web", web_argv, {**env, "PORT": str(self.port)}, workdir)
        self.workers = [
            Proc(f"worker{n}", [PYTHON, str(ROOT / "app.py"), "worker"], env, workdir)
            for n in range(1, delivery_workers + 1)
        ]
        self.web_workers = web_workers
        self.engine: Engine = make_engine(
            normalize_database_url(database_url), pool_size=4, max_overflow=4
        )
        self.sender = SlackSender(f"http://127.0.0.1:{self.port}/slack/events", SIGNING_SECRET)

    def start(self) -> None:
        # The first worker migrates the fresh database; then the rest start on it.
        self.workers[0].start()
        self.wait_beating(self.workers[0])
        for worker in self.workers[1:]:
            worker.start()
        self.web.start()
        for worker in self.workers[1:]:
            self.wait_beating(worker)
        self.wait_web()

    def wait_beating(self, worker: Proc, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not worker.alive():
                raise RuntimeError(f"{worker.name} exited at start:\n{worker.log_text()[-3000:]}")
            with contextlib.suppress(Exception), self.engine.connect() as connection:
                pids = set(connection.scalars(select(WorkerHeartbeat.pid)))
                if worker.pid in pids:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{worker.name} did not beat within {timeout}s")

    def wait_web(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.web.alive():
                raise RuntimeError(f"gunicorn exited at start:\n{self.web.log_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=3).status_code == 200:
                    time.sleep(2.0)  # let every gunicorn worker finish importing the app
                    return
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn not healthy within {timeout}s")

    def close(self) -> None:
        self.web.stop()
        for worker in self.workers:
            worker.stop()
        self.engine.dispose()

    # -- reading the database ----------------------------------------------------------------

    def rows(self, ids: list[int] | None = None) -> list[SubaccountRequest]:
        query = select(SubaccountRequest).order_by(SubaccountRequest.id)
        if ids is not None:
            query = query.where(SubaccountRequest.id.in_(ids))
        with self.engine.connect() as connection:
            return list(connection.execute(query).all())  # type: ignore[arg-type]

    def statuses(self) -> Counter[str]:
        with self.engine.connect() as connection:
            return Counter(
                dict(
                    connection.execute(
                        select(SubaccountRequest.status, func.count()).group_by(
                            SubaccountRequest.status
                        )
                    ).all()
                )
            )

    def outbox_by_status(self) -> Counter[str]:
        with self.engine.connect() as connection:
            return Counter(
                dict(
                    connection.execute(
                        select(SlackOutbox.status, func.count()).group_by(SlackOutbox.status)
                    ).all()
                )
            )

    def outbox_rows(self) -> dict[int, Any]:
        with self.engine.connect() as connection:
            return {
                row.id: row
                for row in connection.execute(
                    select(
                        SlackOutbox.id,
                        SlackOutbox.kind,
                        SlackOutbox.request_id,
                        SlackOutbox.channel_id,
                        SlackOutbox.status,
                        SlackOutbox.last_error,
                        SlackOutbox.attempts,
                    )
                )
            }

    def events(self, kinds: tuple[str, ...]) -> list[Any]:
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(RequestEvent.request_id, RequestEvent.kind, RequestEvent.detail).where(
                        RequestEvent.kind.in_(kinds)
                    )
                )
            )


@contextlib.contextmanager
def running_bot(
    *, web_workers: int, delivery_workers: int, extra: dict[str, str], tag: str
) -> Iterator[Bot]:
    with (
        throwaway_postgres(postgres_admin_url()) as url,
        tempfile.TemporaryDirectory(prefix=f"zoombot-delivery-{tag}-") as workdir,
        SlackEmulator(bot_token=BOT_TOKEN, clock_ts=True) as slack,  # real-time ts, as Slack
        ZoomSimulator(client_secret=ZOOM_CLIENT_SECRET) as zoom,
    ):
        for user in (*REQUESTERS, APPROVER):
            slack.add_user(user, email=f"{user.lower()}@example.com")
        slack.add_channel(APPROVAL_CHANNEL, "approvals")
        for number, channel in enumerate(ORIGIN_CHANNELS, 1):
            slack.add_channel(channel, f"requests-{number}")
        bot = Bot(
            database_url=url,
            workdir=Path(workdir),
            slack=slack,
            zoom=zoom,
            web_workers=web_workers,
            delivery_workers=delivery_workers,
            extra=extra,
        )
        try:
            log(
                f"{tag}: starting {delivery_workers} worker(s) and gunicorn ({web_workers} workers)"
            )
            bot.start()
            log(f"{tag}: bot up on 127.0.0.1:{bot.port}")
            yield bot
        finally:
            bot.close()
            kept = Path(tempfile.gettempdir()) / f"zoombot-delivery-logs-{tag}-{os.getpid()}"
            kept.mkdir(exist_ok=True)
            for proc in (bot.web, *bot.workers):
                (kept / f"{proc.name}.log").write_text(proc.log_text(), encoding="utf-8")
            log(f"{tag}: bot logs kept in {kept}")
            errors = [
                line
                for proc in (bot.web, *bot.workers)
                for line in proc.log_text().splitlines()
                if (" ERROR " in line or "Traceback" in line)
                # slack_sdk logs every failed call at ERROR; the outbox classifies and retries
                and "slack_sdk.web.base_client" not in line
            ]
            if errors:
                log(f"{tag}: {len(errors)} ERROR/Traceback lines in the bot's logs, e.g.:")
                for line in errors[:8]:
                    log("    " + line[:300])
            bot.log_errors = errors  # type: ignore[attr-defined]


# -- acting as Slack -----------------------------------------------------------------------------


def preview(bot: Bot, *, requester: str, channel: str, email: str, password: str | None) -> str:
    """The form's submit: the sealed confirmation step it answers with."""
    for attempt in range(3):
        response = bot.sender.submit_view(
            user_id=requester,
            values=modal_values(
                first_name="Bench",
                last_name=f"P{email[:8]}",
                email=email,
                password=password,
                reason="Delivery bench",
            ),
            private_metadata=json.dumps({"channel_id": channel}),
        )
        sealed = preview_metadata(response)
        if sealed is not None:
            return sealed
        if attempt == 2:
            raise RuntimeError(f"no preview for {email}: {response.status_code} {response.text}")
        time.sleep(0.5)
    raise AssertionError


def confirm(bot: Bot, *, requester: str, sealed: str) -> tuple[int, float]:
    """The confirmation step's Submit: the request id it was stored under and the ack time."""
    started = time.monotonic()
    response = bot.sender.submit_view(
        user_id=requester, values={}, callback_id=PREVIEW_CALLBACK, private_metadata=sealed
    )
    took = time.monotonic() - started
    match = SAVED.search(response.text)
    if response.status_code != 200 or match is None:
        raise RuntimeError(f"confirmation refused: {response.status_code} {response.text[:300]}")
    return int(match.group(1)), took


# -- what Slack holds --------------------------------------------------------------------------


def bot_messages(slack: SlackEmulator) -> list[dict[str, Any]]:
    return slack.messages_with_metadata(METADATA_TYPE)


def outbox_id(message: dict[str, Any]) -> int | None:
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    value = payload.get("outbox_id")
    return int(value) if value is not None else None


def approval_messages(slack: SlackEmulator) -> list[dict[str, Any]]:
    """Top-level messages in the approval channel that are a request's approval message."""
    return [
        message
        for message in slack.channel_messages(APPROVAL_CHANNEL)
        if APPROVAL_TEXT.match(str(message.get("text") or ""))
        and (not message.get("thread_ts") or message.get("thread_ts") == message.get("ts"))
    ]


def request_of(message: dict[str, Any]) -> int | None:
    match = APPROVAL_TEXT.match(str(message.get("text") or ""))
    return int(match.group(1)) if match else None


# -- A. burst ----------------------------------------------------------------------------------


@dataclass
class Burst:
    requests: int
    submit_span_seconds: float = 0.0
    max_ack_seconds: float = 0.0
    posted: int = 0
    per_request: Counter[int] = field(default_factory=Counter)  # by text
    per_request_metadata: Counter[int] = field(default_factory=Counter)  # by metadata → outbox
    in_id_order: bool = False
    in_outbox_order: bool = False
    first_to_last_seconds: float = 0.0
    paced_rate: float = 0.0
    overall_rate: float = 0.0
    limit_429: int = 0
    all_429: int = 0
    post_calls: Counter[str] = field(default_factory=Counter)
    wait_seconds: float = 0.0
    timed_out: bool = False
    largest_gap: float = 0.0
    log_errors: int = 0

    @property
    def exactly_once(self) -> bool:
        return (
            len(self.per_request) == self.requests
            and set(self.per_request.values()) == {1}
            and set(self.per_request_metadata.values()) == {1}
        )


def run_burst(count: int) -> Burst:
    figures = Burst(requests=count)
    with running_bot(web_workers=2, delivery_workers=1, extra={}, tag="burst") as bot:
        slack = bot.slack
        slack.limit_channel_posts(per_second=1.0, burst=3)
        tag = f"{int(time.time())}"
        jobs = [
            (REQUESTERS[0], ORIGIN_CHANNELS[0], f"burst-{tag}-{n}@example.com")
            for n in range(count)
        ]
        log(f"burst: {count} previews (the form's submit; stores nothing)")
        with ThreadPoolExecutor(max_workers=8) as pool:
            sealed = list(
                pool.map(
                    lambda job: preview(
                        bot, requester=job[0], channel=job[1], email=job[2], password=None
                    ),
                    jobs,
                )
            )
        log(f"burst: {count} confirmations released together")
        barrier = threading.Barrier(count)

        def submit(seal: str) -> tuple[int, float, float]:
            barrier.wait()
            request_id, took = confirm(bot, requester=REQUESTERS[0], sealed=seal)
            return request_id, took, time.monotonic()

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=count) as pool:
            results = list(pool.map(submit, sealed))
        figures.submit_span_seconds = max(done for _, _, done in results) - started
        figures.max_ack_seconds = max(took for _, took, _ in results)
        ids = sorted(request_id for request_id, _, _ in results)
        log(f"burst: {count} stored in {figures.submit_span_seconds:.2f} s; waiting for the posts")
        deadline = time.monotonic() + count * 1.1 * 2 + 90
        waited_from = time.monotonic()
        last = -1
        while time.monotonic() < deadline:
            posted = len({request_of(m) for m in approval_messages(slack)})
            if posted != last and (posted % 10 == 0 or posted == count):
                log(f"burst: {posted}/{count} approval messages")
                last = posted
            if posted >= count:
                break
            time.sleep(0.25)
        else:
            figures.timed_out = True
        figures.wait_seconds = time.monotonic() - waited_from
        time.sleep(3.0)  # a duplicate would come within a pace slot or two
        measure_burst(bot, ids, figures)
    figures.log_errors = len(getattr(bot, "log_errors", []))
    return figures


def measure_burst(bot: Bot, ids: list[int], figures: Burst) -> None:
    slack = bot.slack
    shown = approval_messages(slack)
    figures.posted = len(shown)
    figures.per_request = Counter(request_of(m) for m in shown)
    for missing in set(ids) - set(figures.per_request):
        figures.per_request[missing] = 0
    outbox = bot.outbox_rows()
    for message in bot_messages(slack):
        row = outbox.get(outbox_id(message) or -1)
        if row is not None and row.kind == "request_post":
            figures.per_request_metadata[row.request_id] += 1
    for missing in set(ids) - set(figures.per_request_metadata):
        figures.per_request_metadata[missing] = 0
    order = [request_of(m) for m in shown]
    figures.in_id_order = order == sorted(order)
    post_outbox = [outbox_id(m) for m in shown]
    figures.in_outbox_order = post_outbox == sorted(i for i in post_outbox if i is not None)
    calls = [
        call
        for call in slack.calls_to("chat.postMessage")
        if call.params.get("channel") == APPROVAL_CHANNEL and not call.params.get("thread_ts")
    ]
    figures.post_calls = Counter(call.answered for call in calls)
    times = sorted(call.at for call in calls if call.answered == "ok")
    if len(times) > 3:
        figures.first_to_last_seconds = times[-1] - times[0]
        paced = times[2:]  # from the end of the bucket's burst of 3
        figures.paced_rate = (len(paced) - 1) / (paced[-1] - paced[0])
        figures.overall_rate = (len(times) - 1) / (times[-1] - times[0])
        figures.largest_gap = max(b - a for a, b in itertools.pairwise(times))
    figures.limit_429 = slack.rate_limited_count("chat.postMessage")
    figures.all_429 = slack.rate_limited_count()


# -- B. chaos ----------------------------------------------------------------------------------


@dataclass
class Chaos:
    requests: int
    wall_seconds: float = 0.0
    submit_seconds: float = 0.0
    finished: bool = False
    timeout_seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    outbox_status: Counter[str] = field(default_factory=Counter)
    outbox_failed: Counter[tuple[str, str]] = field(default_factory=Counter)
    kills: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    calls_by_method: Counter[str] = field(default_factory=Counter)
    approvals_sent: int = 0
    approval_retries: int = 0
    by_reaction: int = 0
    by_click: int = 0
    approval_posts: Counter[int] = field(default_factory=Counter)  # per request, by metadata
    approval_posts_text: Counter[int] = field(default_factory=Counter)  # per request, by text
    thread_outcomes: Counter[int] = field(default_factory=Counter)
    channel_outcomes: Counter[int] = field(default_factory=Counter)
    stale_messages: list[int] = field(default_factory=list)
    stale_detail: list[str] = field(default_factory=list)
    duplicate_detail: list[str] = field(default_factory=list)
    decisions_lost: list[int] = field(default_factory=list)
    generated: int = 0
    password_ok_dm: int = 0
    password_undeliverable: int = 0
    password_bad: list[str] = field(default_factory=list)
    typed_with_dm: list[int] = field(default_factory=list)
    duplicated_outbox_rows: dict[int, int] = field(default_factory=dict)
    duplicate_kinds: Counter[str] = field(default_factory=Counter)
    zoom_posts_max: int = 0
    zoom_emails: int = 0
    log_errors: int = 0
    not_created: dict[int, str] = field(default_factory=dict)
    pending_left: list[str] = field(default_factory=list)

    def ones(self, counts: Counter[int]) -> tuple[int, dict[int, int]]:
        """How many requests have exactly one, and the others with their counts."""
        good = sum(1 for value in counts.values() if value == 1)
        return good, {key: value for key, value in sorted(counts.items()) if value != 1}


class Approver:
    """Approves each request once it has its approval message: a reaction (added in the fake
    Slack too, then its signed reaction_added event) for even ids, a button click for odd."""

    def __init__(self, bot: Bot, ids: list[int], figures: Chaos) -> None:
        self.bot = bot
        self.wanted = set(ids)
        self.done: set[int] = set()
        self.tries: Counter[int] = Counter()
        self.figures = figures
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="approver", daemon=True)

    def add(self, ids: list[int]) -> None:
        self.wanted.update(ids)

    def _run(self) -> None:
        while not self.stop.is_set():
            todo = sorted(self.wanted - self.done)
            if todo:
                with self.bot.engine.connect() as connection:
                    posted = connection.execute(
                        select(
                            SubaccountRequest.id,
                            SubaccountRequest.approval_channel_id,
                            SubaccountRequest.approval_ts,
                        ).where(
                            SubaccountRequest.id.in_(todo),
                            SubaccountRequest.approval_ts.is_not(None),
                        )
                    ).all()
                for request_id, channel, ts in posted:
                    if self.stop.is_set():
                        return
                    self._approve(request_id, channel, ts)
            self.stop.wait(0.5)

    def _approve(self, request_id: int, channel: str, ts: str) -> None:
        self.tries[request_id] += 1
        if self.tries[request_id] > 1:
            self.figures.approval_retries += 1
        try:
            if request_id % 2 == 0:
                with contextlib.suppress(ActionRefused):
                    self.bot.slack.add_reaction(channel, ts, "white_check_mark", APPROVER)
                response = self.bot.sender.react(
                    user_id=APPROVER,
                    reaction="white_check_mark",
                    channel_id=channel,
                    message_ts=ts,
                )
            else:
                response = self.bot.sender.click(
                    user_id=APPROVER,
                    action_id="approve_request",
                    value=str(request_id),
                    channel_id=channel,
                    message_ts=ts,
                    response_url=self.bot.slack.response_url(),
                )
        except httpx.HTTPError as exc:
            log(f"approve #{request_id}: {type(exc).__name__}; again later")
            return
        if response.status_code == 200:
            self.done.add(request_id)
            self.figures.approvals_sent += 1
            if request_id % 2 == 0:
                self.figures.by_reaction += 1
            else:
                self.figures.by_click += 1
        else:
            log(f"approve #{request_id}: HTTP {response.status_code}; again later")


class Killer:
    """SIGKILL one delivery worker every `every` seconds (alternating), restarted at once."""

    def __init__(self, bot: Bot, every: float) -> None:
        self.bot = bot
        self.every = every
        self.stop = threading.Event()
        self.kills = 0
        self.thread = threading.Thread(target=self._run, name="killer", daemon=True)

    def _run(self) -> None:
        turn = 0
        while not self.stop.wait(self.every):
            worker = self.bot.workers[turn % len(self.bot.workers)]
            turn += 1
            worker.kill()
            self.kills += 1
            worker.start()


def run_chaos(count: int, timeout_seconds: float, seed: int) -> Chaos:
    figures = Chaos(requests=count, timeout_seconds=timeout_seconds)
    extra = {"SLACK_TIMEOUT_SECONDS": str(SLACK_TIMEOUT_SECONDS)}
    with running_bot(web_workers=3, delivery_workers=2, extra=extra, tag="chaos") as bot:
        slack = bot.slack
        slack.random_faults(CHAOS_RATE, kinds=RANDOM_KINDS, seed=seed, stall_seconds=STALL_SECONDS)
        started = time.monotonic()
        killer = Killer(bot, KILL_EVERY_SECONDS)
        killer.thread.start()
        approver = Approver(bot, [], figures)
        approver.thread.start()
        tag = f"{int(time.time())}"
        jobs = []
        for n in range(count):
            password = None if n % 2 == 0 else generate_password(16)
            jobs.append(
                (
                    REQUESTERS[n % len(REQUESTERS)],
                    ORIGIN_CHANNELS[n % len(ORIGIN_CHANNELS)],
                    f"chaos-{tag}-{n}@example.com",
                    password,
                )
            )

        def submit(job: tuple[str, str, str, str | None]) -> int:
            requester, channel, email, password = job
            sealed = preview(
                bot, requester=requester, channel=channel, email=email, password=password
            )
            request_id, _took = confirm(bot, requester=requester, sealed=sealed)
            approver.add([request_id])
            return request_id

        log(f"chaos: submitting {count} requests (half with a generated password)")
        with ThreadPoolExecutor(max_workers=6) as pool:
            ids = list(pool.map(submit, jobs))
        figures.submit_seconds = time.monotonic() - started
        log(f"chaos: {count} stored in {figures.submit_seconds:.1f} s")
        deadline = started + timeout_seconds
        next_report = 0.0
        try:
            while True:
                statuses = bot.statuses()
                outbox = bot.outbox_by_status()
                now = time.monotonic()
                done = statuses.get("created", 0) == count and not outbox.get("pending", 0)
                if done or now >= deadline or now >= next_report:
                    log(
                        f"chaos: t={now - started:.0f}s requests {dict(statuses)}; outbox "
                        f"{dict(outbox)}; approvals sent {figures.approvals_sent}; "
                        f"kills {killer.kills}; faults {slack.faults_given()}"
                    )
                    next_report = now + 20
                if done:
                    figures.finished = True
                    break
                if now >= deadline:
                    break
                time.sleep(1.0)
        finally:
            killer.stop.set()
            killer.thread.join(30)
            approver.stop.set()
            approver.thread.join(30)
        figures.wall_seconds = time.monotonic() - started
        figures.kills = killer.kills
        time.sleep(2.0)
        measure_chaos(bot, ids, approver, figures)
    figures.log_errors = len(getattr(bot, "log_errors", []))
    return figures


def measure_chaos(bot: Bot, ids: list[int], approver: Approver, figures: Chaos) -> None:
    slack = bot.slack
    rows = {row.id: row for row in bot.rows(ids)}
    figures.statuses = Counter(row.status for row in rows.values())
    figures.not_created = {i: row.status for i, row in rows.items() if row.status != "created"}
    figures.outbox_status = bot.outbox_by_status()
    outbox = bot.outbox_rows()
    figures.outbox_failed = Counter(
        (row.kind, row.last_error or "?") for row in outbox.values() if row.status == "failed"
    )
    figures.pending_left = [
        f"#{row.id} {row.kind} req {row.request_id} attempts {row.attempts} "
        f"last_error {row.last_error}"
        for row in outbox.values()
        if row.status == "pending"
    ][:20]
    figures.faults = slack.faults_given()
    figures.calls_by_method = Counter(call.method for call in slack.calls)

    messages = bot_messages(slack)
    per_outbox = Counter(outbox_id(m) for m in messages)
    figures.duplicated_outbox_rows = {
        key: value for key, value in per_outbox.items() if key is not None and value > 1
    }
    for key in figures.duplicated_outbox_rows:
        row = outbox.get(key)
        figures.duplicate_kinds[row.kind if row is not None else "?"] += 1
        copies = [m for m in messages if outbox_id(m) == key]
        where = "; ".join(
            f"{m.get('channel')} ts {m.get('ts')}"
            + (f" thread {m.get('thread_ts')}" if m.get("thread_ts") else "")
            for m in copies
        )
        if row is not None:
            figures.duplicate_detail.append(
                f"outbox row {key} ({row.kind}, request #{row.request_id}, {row.attempts} "
                f"attempts, {row.status}): {len(copies)} messages — {where}; text "
                f"{str(copies[0].get('text') or '')[:70]!r}"
            )
    figures.approval_posts = Counter(dict.fromkeys(ids, 0))
    for message in messages:
        row = outbox.get(outbox_id(message) or -1)
        if row is not None and row.kind == "request_post" and row.request_id in rows:
            figures.approval_posts[row.request_id] += 1
    figures.approval_posts_text = Counter(dict.fromkeys(ids, 0))
    for message in approval_messages(slack):
        request_id = request_of(message)
        if request_id in rows:
            figures.approval_posts_text[request_id] += 1

    figures.thread_outcomes = Counter(dict.fromkeys(ids, 0))
    figures.channel_outcomes = Counter(dict.fromkeys(ids, 0))
    by_thread: dict[str, int] = {row.approval_ts: i for i, row in rows.items() if row.approval_ts}
    for message in messages:
        text = str(message.get("text") or "")
        if CREATED_MARK not in text:
            continue
        channel, thread_ts = message.get("channel"), message.get("thread_ts")
        if channel == APPROVAL_CHANNEL and thread_ts and thread_ts != message.get("ts"):
            request_id = by_thread.get(thread_ts)
            if request_id is not None:
                figures.thread_outcomes[request_id] += 1
        elif channel in ORIGIN_CHANNELS:
            match = re.match(r"^Request #(\d+): ", text)
            if match and int(match.group(1)) in rows:
                figures.channel_outcomes[int(match.group(1))] += 1

    for request_id, row in rows.items():
        if not row.approval_ts:
            figures.stale_messages.append(request_id)
            continue
        shown = slack.message(APPROVAL_CHANNEL, row.approval_ts)
        if shown is None:
            figures.stale_messages.append(request_id)
            continue
        everything = str(shown.get("text") or "") + json.dumps(shown.get("blocks") or [])
        if not (
            f"#{request_id}" in everything
            and "account created" in everything
            and (row.zoom_account_id or "<none>") in everything
            and APPROVE_ACTION not in everything  # the buttons are gone once decided
        ):
            figures.stale_messages.append(request_id)
            figures.stale_detail.append(
                f"#{request_id} (status {row.status}, account {row.zoom_account_id}): "
                f"text {str(shown.get('text') or '')[:160]!r}"
            )

    approved_events = {e.request_id for e in bot.events(("approved",))}
    figures.decisions_lost = sorted(
        request_id
        for request_id in approver.done
        if request_id in rows
        and (rows[request_id].status == "pending_approval" or request_id not in approved_events)
    )

    erased = Counter(e.request_id for e in bot.events(("password_erased",)))
    undeliverable = Counter(e.request_id for e in bot.events(("password_undeliverable",)))
    password_dms: Counter[int] = Counter()
    for message in messages:
        row = outbox.get(outbox_id(message) or -1)
        if row is not None and row.kind == "password_dm":
            password_dms[row.request_id] += 1
    dm_texts: Counter[str] = Counter()
    for message in messages:
        text = str(message.get("text") or "")
        match = re.match(r"^The generated password for the new Zoom account (\S+) is", text)
        if match:
            dm_texts[match.group(1)] += 1
    for request_id, row in rows.items():
        if not row.password_generated:
            if password_dms[request_id] or dm_texts[row.email]:
                figures.typed_with_dm.append(request_id)
            continue
        figures.generated += 1
        dms = max(password_dms[request_id], dm_texts[row.email])
        if dms == 1 and erased[request_id] == 1 and not undeliverable[request_id]:
            figures.password_ok_dm += 1
        elif dms == 0 and undeliverable[request_id] == 1 and not erased[request_id]:
            figures.password_undeliverable += 1
        else:
            figures.password_bad.append(
                f"#{request_id}: {dms} DM(s), {erased[request_id]} password_erased, "
                f"{undeliverable[request_id]} password_undeliverable, status {row.status}"
            )
        if row.password_ciphertext is not None:
            figures.password_bad.append(f"#{request_id}: ciphertext still stored")

    per_email = Counter(str(post.body.get("email")) for post in bot.zoom.account_posts if post.body)
    figures.zoom_posts_max = max(per_email.values(), default=0)
    figures.zoom_emails = len(per_email)


# -- the report ----------------------------------------------------------------------------------


def machine() -> str:
    model = "?"
    with contextlib.suppress(OSError), Path("/proc/cpuinfo").open(encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        postgres = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"],  # noqa: S607
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()  # fmt: skip
    except OSError:
        postgres = "?"
    return (
        f"{model}, nproc {os.cpu_count()}; {platform.platform()}; Python "
        f"{platform.python_version()}; PostgreSQL {postgres or '?'}"
    )


def _odd(counts: dict[int, int], limit: int = 12) -> str:
    if not counts:
        return "none"
    shown = ", ".join(f"#{key}: {value}" for key, value in list(counts.items())[:limit])
    more = f" … ({len(counts)} in all)" if len(counts) > limit else ""
    return shown + more


def burst_section(figures: Burst) -> str:
    good_text = sum(1 for v in figures.per_request.values() if v == 1)
    good_meta = sum(1 for v in figures.per_request_metadata.values() if v == 1)
    odd = {k: v for k, v in sorted(figures.per_request.items()) if v != 1}
    lines = [
        "## A. Burst: per-channel limit 1/s, burst 3",
        "",
        "One gunicorn (Procfile: gthread, 2 workers × 8 threads, web role: ack only) and one "
        "`python app.py worker` (delivery, default `SLACK_POSTS_PER_SECOND` = 1, i.e. one post "
        "per 1.02 s per channel), PostgreSQL. Fake Slack: `limit_channel_posts(per_second=1.0, "
        f"burst=3)`, no other fault. {figures.requests} valid requests: their previews first "
        "(the form's submit stores nothing), then the confirmation steps' Submit released "
        "together into one approval channel.",
        "",
        "| | |",
        "|---|---|",
        f"| confirmations stored (all acked) in | {figures.submit_span_seconds:.2f} s "
        f"(slowest ack {figures.max_ack_seconds:.2f} s) |",
        f"| approval messages posted | {figures.posted} of {figures.requests}"
        f"{' (TIMED OUT)' if figures.timed_out else ''} |",
        f"| exactly once per request (by text / by metadata → outbox row) | "
        f"{good_text} / {good_meta} of {figures.requests}; others: {_odd(odd)} |",
        f"| in request-id order | {'yes' if figures.in_id_order else 'no'} "
        f"(in outbox-row order: {'yes' if figures.in_outbox_order else 'no'}) |",
        f"| first → last post | {figures.first_to_last_seconds:.1f} s "
        f"(largest gap {figures.largest_gap:.2f} s) |",
        f"| rate over the paced part (posts after the burst of 3 ÷ seconds) | "
        f"{figures.paced_rate:.3f}/s = {figures.paced_rate / 1.0:.1%} of the 1/s Slack allows |",
        f"| rate first → last post | {figures.overall_rate:.3f}/s |",
        f"| 429s Slack gave (chat.postMessage / any method) | {figures.limit_429} / "
        f"{figures.all_429} |",
        f"| chat.postMessage calls to the approval channel, by answer | "
        f"{dict(figures.post_calls)} |",
        f"| ERROR/Traceback lines in the bot's logs (not slack_sdk's per-call ones) | {figures.log_errors} |",
        "",
    ]
    return "\n".join(lines)


def chaos_section(figures: Chaos) -> str:
    good_posts, odd_posts = figures.ones(figures.approval_posts)
    good_text, odd_text = figures.ones(figures.approval_posts_text)
    good_thread, odd_thread = figures.ones(figures.thread_outcomes)
    good_channel, odd_channel = figures.ones(figures.channel_outcomes)
    failed = ", ".join(
        f"{kind} `{error}`: {n}" for (kind, error), n in figures.outbox_failed.items()
    )
    finished = (
        "yes" if figures.finished else f"NO — timed out after {figures.timeout_seconds:.0f} s"
    )
    total_faults = sum(figures.faults.values())
    total_calls = sum(figures.calls_by_method.values())
    lines = [
        "## B. Chaos: random faults, kill -9 every 10 s",
        "",
        "One gunicorn with 3 workers (web role) and 2 `python app.py worker` processes, "
        "PostgreSQL. Fake Slack: `random_faults(0.2, kinds=(429, 503, timeout_after_acting, "
        f"lost_after_acting), stall_seconds={STALL_SECONDS:g})` on every method but auth.test; "
        f"`SLACK_TIMEOUT_SECONDS={SLACK_TIMEOUT_SECONDS}`. Every {KILL_EVERY_SECONDS:g} s one "
        "worker process (alternating) gets SIGKILL and is started again at once. "
        f"{figures.requests} requests from {len(REQUESTERS)} requesters in "
        f"{len(ORIGIN_CHANNELS)} channels other than the approval channel; every other one with "
        "an empty password (generated); each approved, once its message's ts is in the "
        "database, by a reaction (added in fake Slack, then its signed `reaction_added`) for "
        "even ids or a button click for odd ids. Fake Zoom answers 201.",
        "",
        "| | |",
        "|---|---|",
        f"| finished (every request created, no pending outbox row) | {finished} |",
        f"| wall time (first submission → finished) | {figures.wall_seconds:.0f} s "
        f"(submitting took {figures.submit_seconds:.0f} s) |",
        f"| requests by status | {dict(figures.statuses)} |",
        f"| worker kills (SIGKILL) | {figures.kills} |",
        f"| approvals sent (reaction / click) | {figures.approvals_sent} "
        f"({figures.by_reaction} / {figures.by_click}); re-sent after a non-200: "
        f"{figures.approval_retries} |",
        f"| approval message exactly once (metadata → request_post row) | {good_posts} of "
        f"{figures.requests}; others: {_odd(odd_posts)} |",
        f"| approval message exactly once (by its text) | {good_text} of {figures.requests}; "
        f"others: {_odd(odd_text)} |",
        f"| outcome exactly once in the thread | {good_thread} of {figures.requests}; "
        f"others: {_odd(odd_thread)} |",
        f"| outcome exactly once in the requester's channel | {good_channel} of "
        f"{figures.requests}; others: {_odd(odd_channel)} |",
        f"| approval message's final text/blocks match the row (created, account id, no "
        f"buttons) | {figures.requests - len(figures.stale_messages)} of {figures.requests}; "
        f"stale: {figures.stale_messages[:20] or 'none'} |",
        f"| decisions lost (approved in Slack, not in the database) | "
        f"{len(figures.decisions_lost)} {figures.decisions_lost[:20] or ''} |",
        f"| generated passwords: DM'd once + `password_erased` / `password_undeliverable` / "
        f"neither | {figures.password_ok_dm} / {figures.password_undeliverable} / "
        f"{len(figures.password_bad)} of {figures.generated} |",
        f"| typed passwords that got a password DM | {len(figures.typed_with_dm)} |",
        f"| any outbox row posted more than once (all kinds) | "
        f"{len(figures.duplicated_outbox_rows)} {dict(figures.duplicate_kinds) or ''} |",
        f"| outbox rows by status | {dict(figures.outbox_status)} |",
        f"| outbox rows failed, by kind and error | {failed or 'none'} |",
        f"| faults given by fake Slack | {total_faults} of {total_calls} calls: "
        f"{dict(sorted(figures.faults.items()))} |",
        f"| Slack calls by method | {dict(figures.calls_by_method.most_common())} |",
        f"| Zoom: emails created / most POSTs for one email | {figures.zoom_emails} / "
        f"{figures.zoom_posts_max} |",
        f"| ERROR/Traceback lines in the bot's logs (not slack_sdk's per-call ones) | {figures.log_errors} |",
        "",
    ]
    if figures.duplicate_detail:
        lines += [
            "Messages posted more than once (each names its outbox row in its metadata):",
            "",
            *(f"- {item}" for item in figures.duplicate_detail[:40]),
            "",
        ]
    if figures.stale_detail:
        lines += [
            "Stale approval messages:",
            "",
            *(f"- {i}" for i in figures.stale_detail[:20]),
            "",
        ]
    if figures.password_bad:
        lines += [
            "Password problems:",
            "",
            *(f"- {item}" for item in figures.password_bad[:30]),
            "",
        ]
    if figures.not_created:
        lines += [f"Not created: {dict(list(figures.not_created.items())[:30])}", ""]
    if figures.pending_left:
        lines += ["Outbox rows still pending:", "", *(f"- {p}" for p in figures.pending_left), ""]
    return "\n".join(lines)


def write_report(path: Path, sections: dict[str, str], command: str) -> str:
    """Replaces the sections that ran, keeps the others from an earlier run."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    kept: dict[str, str] = {}
    for name in ("burst", "chaos"):
        match = re.search(rf"<!-- {name} -->\n(.*?)<!-- /{name} -->\n", old, re.S)
        if match:
            kept[name] = match.group(1)
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    for name, text in sections.items():
        kept[name] = f"Run {stamp}: `{command}`. Machine: {machine()}.\n\n{text}"
    body = [
        "# Slack delivery benchmark (`bench/delivery.py`)",
        "",
        "The durable outbox (bot/delivery/) against the Slack emulator's limits and faults; "
        "the bot as in production (gunicorn web processes that only ack, `python app.py "
        "worker` processes that deliver), a throwaway PostgreSQL database per run. One run "
        "each on a small shared machine: times move with its load; the exactly-once counts "
        "do not.",
        "",
    ]
    for name in ("burst", "chaos"):
        if name in kept:
            body += [f"<!-- {name} -->", kept[name].rstrip("\n") + "\n", f"<!-- /{name} -->", ""]
    text = "\n".join(body)
    path.write_text(text, encoding="utf-8")
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.delivery", description=__doc__)
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--burst-only", action="store_true")
    only.add_argument("--chaos-only", action="store_true")
    parser.add_argument("--requests", type=int, default=200, help="chaos requests")
    parser.add_argument("--burst", type=int, default=50, help="burst requests")
    parser.add_argument("--timeout", type=float, default=None, help="chaos wait, seconds")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([".venv/bin/python", "-m", "bench.delivery", *(argv or sys.argv[1:])])
    sections: dict[str, str] = {}
    if not args.chaos_only:
        burst = run_burst(args.burst)
        sections["burst"] = burst_section(burst)
        print(sections["burst"], flush=True)  # noqa: T201
        write_report(args.output, sections, command)
    if not args.burst_only:
        timeout = args.timeout if args.timeout is not None else 300 + args.requests * 6
        chaos = run_chaos(args.requests, timeout, args.seed)
        sections["chaos"] = chaos_section(chaos)
        print(sections["chaos"], flush=True)  # noqa: T201
    write_report(args.output, sections, command)
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

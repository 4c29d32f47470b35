"""A bot cluster for fault injection: fake Slack and fake Zoom run in the test process (threads),
N bot instances run as real `python app.py` processes on loopback, all sharing one PostgreSQL
database. Instances can be killed with SIGKILL and started again; the audit tables are read
with SQLAlchemy; every byte the instances print is kept, so tests can look for leaked secrets.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from sqlalchemy import Engine, MetaData, select

from bot.config import normalize_database_url
from bot.db.models import (
    RequestApproval,
    RequestBatch,
    RequestEvent,
    SlackOutbox,
    SubaccountRequest,
)
from bot.db.session import make_engine, make_session_factory
from bot.requests.passwords import generate_password
from bot.slack.ids import PREVIEW_CALLBACK
from bot.slack.render.batch_views import draft_from_metadata
from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_signing import SlackSender
from sandbox.zoom_simulator import ZoomSimulator
from tests.flow.bulk_support import HEADER, form_values
from tests.flow.support import json_body
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    BOT_TOKEN,
    ENCRYPTION_KEY,
    ORIGIN_CHANNEL,
    OUTSIDER,
    REQUESTER,
    SECOND_APPROVER,
    SIGNING_SECRET,
    ZOOM_CLIENT_SECRET,
    modal_values,
    preview_metadata,
)

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
START_TIMEOUT_SECONDS = 45.0
STOP_TIMEOUT_SECONDS = 15.0
POSTGRES_ADMIN_URL = os.environ.get(
    "ZOOMBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# The secrets every test checks for; request passwords are added per cluster.
FIXED_SECRETS = {
    "bot token": BOT_TOKEN,
    "signing secret": SIGNING_SECRET,
    "Zoom client secret": ZOOM_CLIENT_SECRET,
}
# Statuses a request never leaves (provisioning and pending_approval are the others).
FINAL_STATUSES = frozenset({"created", "failed", "unknown", "rejected", "expired", "denied"})
_REQUEST_ID = re.compile(r"Request #(\d+) is saved")
_emails = itertools.count(1)
T = TypeVar("T")
# What a decision is taken on: a request of one account, or a bulk request (same fields).
Decidable = SubaccountRequest | RequestBatch


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{next(_emails)}-{secrets.token_hex(3)}@example.com"


def all_at_once(actions: list[Callable[[], T]]) -> list[T]:
    """Run every action on its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(actions))

    def run(action: Callable[[], T]) -> T:
        barrier.wait()
        return action()

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(run, actions))


def wait_until(
    condition: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll `condition` until it returns something truthy; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


# -- PostgreSQL ---------------------------------------------------------------------------------


def postgres_problem(admin_url: str = POSTGRES_ADMIN_URL) -> str | None:
    try:
        with psycopg.connect(admin_url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return type(exc).__name__


@contextmanager
def fresh_database(admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[str]:
    """A new, empty database on the shared server; dropped (connections and all) afterwards."""
    name = f"zoombot_rel_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temp dir on a free port, which tests may stop.

    initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` OS user in
    a directory that user owns. The shared server on 5432 is never touched.
    """

    def __init__(self) -> None:
        self.bin_dir = postgres_bin_dir()
        if self.bin_dir is None:
            raise FileNotFoundError("no initdb under /usr/lib/postgresql/*/bin")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="zoombot-pg-"))
        self.data_dir = self.root / "data"
        self.log_file = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-N")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off"
        )
        self._run(
            "pg_ctl", "start", "-w", "-D", str(self.data_dir), "-l", str(self.log_file),
            "-o", options,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data_dir))

    def running(self) -> bool:
        result = self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False)
        return result.returncode == 0

    def destroy(self) -> None:
        with suppress(subprocess.CalledProcessError):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert self.bin_dir is not None
        command = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(  # noqa: S603 - fixed PostgreSQL tools with our own arguments
            command, capture_output=True, text=True, timeout=120, check=check, cwd=self.root
        )


def postgres_bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


# -- bot instances ------------------------------------------------------------------------------


@dataclass(repr=False)  # the environment holds secrets: keep it out of assertion messages
class Instance:
    """One `python app.py` process (restartable); its output goes to one log file per start."""

    name: str
    port: int
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    command: list[str] = field(default_factory=lambda: [sys.executable, str(APP)])
    logs: list[Path] = field(default_factory=list)
    starts: int = 0
    kills: int = 0

    def __repr__(self) -> str:
        return f"Instance({self.name}, port={self.port}, pid={self.pid}, starts={self.starts})"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/slack/events"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, **env_overrides: str) -> None:
        assert not self.alive(), f"{self.name} is already running"
        self.starts += 1
        log = self.workdir / f"{self.name}.{self.starts}.log"
        self.logs.append(log)
        with log.open("wb") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our app.py
                self.command,
                cwd=self.workdir,
                env={**self.env, **env_overrides},
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def wait_healthy(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"{self.name} exited at start:\n{self.output()[-3000:]}")
            with suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not healthy within {timeout}s:\n{self.output()[-3000:]}")

    def health(self) -> httpx.Response:
        return httpx.get(f"{self.base_url}/healthz", timeout=10)

    def kill(self) -> None:
        """kill -9: no shutdown code runs, in-flight calls are cut off mid-way."""
        assert self.process is not None
        assert self.alive()
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self.kills += 1

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def output(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs if log.exists())

    def socket_inodes(self) -> set[str]:
        """Inodes of the process's open sockets (Linux /proc)."""
        inodes = set()
        pid = self.pid
        if pid is None:
            return inodes
        with suppress(FileNotFoundError, ProcessLookupError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with suppress(OSError):
                    target = str(fd.readlink())
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
        return inodes


def _tcp_inodes(*, local_port: int, remote_port: int) -> set[str]:
    """Inodes of loopback TCP sockets with this local and remote port (from /proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if int(local.rsplit(":", 1)[1], 16) == local_port and (
                    int(remote.rsplit(":", 1)[1], 16) == remote_port
                ):
                    found.add(inode)
    return found


# -- the cluster --------------------------------------------------------------------------------


class Cluster:
    """Fakes + N instances + a reader on the shared database. Use as a context manager."""

    def __init__(
        self,
        *,
        database_url: str,
        workdir: Path,
        size: int,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.slack = SlackEmulator(bot_token=BOT_TOKEN, clock_ts=True)
        self.zoom = ZoomSimulator(client_secret=ZOOM_CLIENT_SECRET)
        for user in (REQUESTER, APPROVER, SECOND_APPROVER, OUTSIDER):
            self.slack.add_user(user, email=f"{user.lower()}@example.com")
        self.engine: Engine = make_engine(
            normalize_database_url(database_url), pool_size=4, max_overflow=8
        )
        self.sessions = make_session_factory(self.engine)
        self.passwords: set[str] = set()
        self.settings = {**self.base_settings(), **(settings or {})}
        self.instances = [self._instance(f"bot{number}") for number in range(1, size + 1)]

    def base_settings(self) -> dict[str, str]:
        return {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.slack.base_url,
            "ZOOM_ACCOUNT_ID": "acct-1",
            "ZOOM_CLIENT_ID": "zoom-client-id",
            "ZOOM_CLIENT_SECRET": ZOOM_CLIENT_SECRET,
            "ZOOM_API_URL": self.zoom.api_url,
            "ZOOM_OAUTH_URL": self.zoom.oauth_url,
            "ZOOM_TIMEOUT_SECONDS": "5",
            "ZOOM_RATE_LIMIT_PER_SECOND": "200",
            "DATABASE_URL": self.database_url,
            "REQUESTER_ALLOWLIST": REQUESTER,
            "APPROVER_ALLOWLIST": f"{APPROVER},{SECOND_APPROVER}",
            "APPROVAL_CHANNEL": APPROVAL_CHANNEL,
            "PASSWORD_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "PROVISION_LEASE_SECONDS": "1",
            "PROVISION_POLL_SECONDS": "0.2",
            # The emulator sets no per-channel limit here: do not pace posts at Slack's 1/s.
            "SLACK_POSTS_PER_SECOND": "50",
            "LOG_LEVEL": "INFO",
        }

    def _instance(self, name: str) -> Instance:
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            **self.settings,
            "PORT": str(port),
        }
        return Instance(name=name, port=port, env=env, workdir=self.workdir)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Cluster:
        for instance in self.instances:
            instance.start()
        for instance in self.instances:
            instance.wait_healthy()
        return self

    def close(self) -> None:
        for instance in self.instances:
            instance.stop()
        self.slack.close()
        self.zoom.close()
        self.engine.dispose()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def alive(self) -> list[Instance]:
        return [instance for instance in self.instances if instance.alive()]

    def instance_sending_from(self, client_port: int) -> Instance | None:
        """Which instance holds the connection that reached fake Zoom from `client_port`."""
        zoom_port = int(self.zoom.origin.rsplit(":", 1)[1])
        inodes = _tcp_inodes(local_port=client_port, remote_port=zoom_port)
        for instance in self.alive():
            if inodes & instance.socket_inodes():
                return instance
        return None

    # -- acting as Slack ------------------------------------------------------------------------

    def sender(self, instance: Instance) -> SlackSender:
        return SlackSender(instance.events_url, SIGNING_SECRET)

    def submit(
        self, instance: Instance, *, user_id: str = REQUESTER, **values: Any
    ) -> httpx.Response:
        """The form and, when the answer is its confirmation step, that step's Submit too."""
        values.setdefault("email", unique_email())
        password = values.setdefault("password", generate_password(16))
        self.passwords.add(password)
        sender = self.sender(instance)
        response = sender.submit_view(
            user_id=user_id,
            values=modal_values(**values),
            private_metadata=json.dumps({"channel_id": ORIGIN_CHANNEL}),
        )
        sealed = preview_metadata(response)
        if sealed is None:
            return response
        return sender.submit_view(
            user_id=user_id, values={}, callback_id=PREVIEW_CALLBACK, private_metadata=sealed
        )

    def submit_ok(self, instance: Instance, **values: Any) -> int:
        """Submit a valid request through `instance`; the id it was stored under."""
        response = self.submit(instance, **values)
        assert response.status_code == 200, response.text
        match = _REQUEST_ID.search(response.text)
        assert match, response.text
        return int(match.group(1))

    def submit_many(
        self, count: int, *, via: list[Instance] | None = None, workers: int = 8
    ) -> list[SubaccountRequest]:
        """`count` valid requests, spread round-robin over `via`, each posted for approval."""
        targets = via or self.alive()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            ids = list(pool.map(lambda n: self.submit_ok(targets[n % len(targets)]), range(count)))
        return [self.wait_posted(request_id) for request_id in ids]

    def submit_batch_ok(self, instance: Instance, *, rows: int) -> int:
        """A bulk request of `rows` accounts (fresh emails, generated passwords) submitted
        through `instance`: the form, then its preview's Submit; the id it was stored under."""
        lines = [HEADER]
        lines += [f"Person,Number{n},{unique_email('bulk')},,Onboarding wave" for n in range(rows)]
        sender = self.sender(instance)
        answer = json_body(
            sender.submit_view(
                user_id=REQUESTER,
                callback_id="bulk_upload",
                values=form_values("\n".join(lines) + "\n"),
                private_metadata=json.dumps({"channel_id": ORIGIN_CHANNEL}),
            )
        )
        assert answer.get("response_action") == "push", answer
        view = answer["view"]
        submitted = json_body(
            sender.submit_view(
                user_id=REQUESTER,
                callback_id=view["callback_id"],
                values={},
                private_metadata=view["private_metadata"],
            )
        )
        assert submitted.get("response_action") == "update", submitted
        batch_id = draft_from_metadata(view["private_metadata"])
        assert batch_id is not None, view["private_metadata"]
        return batch_id

    def submit_batches(
        self, count: int, *, rows: int, via: list[Instance] | None = None, workers: int = 8
    ) -> list[RequestBatch]:
        """`count` bulk requests of `rows` accounts, spread over `via`, each posted."""
        targets = via or self.alive()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            ids = list(
                pool.map(
                    lambda n: self.submit_batch_ok(targets[n % len(targets)], rows=rows),
                    range(count),
                )
            )
        return [self.wait_batch_posted(batch_id) for batch_id in ids]

    def approve_all(self, rows: list[SubaccountRequest], *, via: list[Instance]) -> None:
        """Approve every request by reaction, spread over `via`, all sent at the same moment."""
        actions = [
            lambda row=row, n=n: self.react(via[n % len(via)], APPROVER, row)
            for n, row in enumerate(rows)
        ]
        statuses = [response.status_code for response in all_at_once(actions)]
        assert statuses == [200] * len(rows), statuses

    def react(
        self,
        instance: Instance,
        user_id: str,
        row: Decidable,
        reaction: str = "white_check_mark",
        **kwargs: Any,
    ) -> httpx.Response:
        return self.sender(instance).react(
            user_id=user_id,
            reaction=reaction,
            channel_id=row.approval_channel_id,
            message_ts=row.approval_ts,
            **kwargs,
        )

    def click(
        self,
        instance: Instance,
        user_id: str,
        row: Decidable,
        action_id: str = "approve_request",
        **kwargs: Any,
    ) -> httpx.Response:
        return self.sender(instance).click(
            user_id=user_id,
            action_id=action_id,
            value=str(row.id),
            channel_id=row.approval_channel_id,
            message_ts=row.approval_ts,
            **kwargs,
        )

    # -- reading the audit log ------------------------------------------------------------------

    def request(self, request_id: int) -> SubaccountRequest:
        with self.sessions() as session:
            return session.get_one(SubaccountRequest, request_id)

    def requests(self, ids: Iterable[int] | None = None) -> list[SubaccountRequest]:
        query = select(SubaccountRequest).order_by(SubaccountRequest.id)
        if ids is not None:
            query = query.where(SubaccountRequest.id.in_(list(ids)))
        with self.sessions() as session:
            return list(session.scalars(query))

    def event_kinds(self, request_id: int) -> list[str]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(RequestEvent.kind)
                    .where(RequestEvent.request_id == request_id)
                    .order_by(RequestEvent.id)
                )
            )

    def events(self, request_id: int) -> list[RequestEvent]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(RequestEvent)
                    .where(RequestEvent.request_id == request_id)
                    .order_by(RequestEvent.id)
                )
            )

    def batch(self, batch_id: int) -> RequestBatch:
        with self.sessions() as session:
            return session.get_one(RequestBatch, batch_id)

    def batch_rows(self, batch_id: int) -> list[SubaccountRequest]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(SubaccountRequest)
                    .where(SubaccountRequest.batch_id == batch_id)
                    .order_by(SubaccountRequest.id)
                )
            )

    def approvers(self, request_id: int) -> list[str]:
        """The approvals recorded on one account (one row per approver)."""
        with self.sessions() as session:
            return sorted(
                session.scalars(
                    select(RequestApproval.approver_id).where(
                        RequestApproval.request_id == request_id
                    )
                )
            )

    def wait_batch_posted(self, batch_id: int, timeout: float = 15.0) -> RequestBatch:
        def posted() -> RequestBatch | None:
            found = self.batch(batch_id)
            return found if found.approval_ts else None

        result: RequestBatch = wait_until(
            posted, timeout=timeout, what=f"bulk request {batch_id} to be posted for approval"
        )
        return result

    def wait_batches_reported(self, ids: Iterable[int], *, timeout: float) -> list[RequestBatch]:
        """Wait until every bulk request reported its outcome and Slack was told everything."""
        ids = list(ids)

        def reported() -> list[RequestBatch] | None:
            found = [self.batch(batch_id) for batch_id in ids]
            with self.sessions() as session:
                undelivered = session.scalar(
                    select(SlackOutbox.id).where(SlackOutbox.status == "pending").limit(1)
                )
            done = all(head.reported_at is not None for head in found)
            return found if done and undelivered is None else None

        try:
            result: list[RequestBatch] = wait_until(
                reported, timeout=timeout, interval=0.2, what=f"{len(ids)} bulk requests"
            )
        except AssertionError:
            states = {batch_id: self.batch(batch_id).status for batch_id in ids}
            raise AssertionError(f"not reported within {timeout}s: {states}") from None
        return result

    def wait_posted(self, request_id: int, timeout: float = 15.0) -> SubaccountRequest:
        def posted() -> SubaccountRequest | None:
            row = self.request(request_id)
            return row if row.approval_ts else None

        result: SubaccountRequest = wait_until(
            posted, timeout=timeout, what=f"request {request_id} to be posted for approval"
        )
        return result

    def wait_settled(
        self, ids: Iterable[int], *, timeout: float, statuses: Iterable[str] = ("created",)
    ) -> list[SubaccountRequest]:
        """Wait until every request has reached a final status and its outcome was announced;
        fail at once if any final status is not one of `statuses`."""
        wanted, ids = set(statuses), list(ids)

        def settled() -> list[SubaccountRequest] | None:
            rows = self.requests(ids)
            final = len(rows) == len(ids) and all(row.status in FINAL_STATUSES for row in rows)
            return rows if final and self._all_notified(ids) else None

        try:
            rows: list[SubaccountRequest] = wait_until(
                settled, timeout=timeout, interval=0.1, what=f"{len(ids)} requests to settle"
            )
        except AssertionError:
            states = {row.id: row.status for row in self.requests(ids)}
            raise AssertionError(f"not settled within {timeout}s: {states}") from None
        unwanted = {row.id: row.status for row in rows if row.status not in wanted}
        assert not unwanted, f"requests ended otherwise than {sorted(wanted)}: {unwanted}"
        return rows

    def _all_notified(self, ids: list[int]) -> bool:
        with self.sessions() as session:
            notified = set(
                session.scalars(
                    select(RequestEvent.request_id).where(
                        RequestEvent.request_id.in_(ids), RequestEvent.kind == "notified"
                    )
                )
            )
            # "notified" means owed (in the outcome's transaction): wait for the delivery too.
            undelivered = session.scalar(
                select(SlackOutbox.id)
                .where(SlackOutbox.request_id.in_(ids), SlackOutbox.status == "pending")
                .limit(1)
            )
        return notified >= set(ids) and undelivered is None

    def table_dump(self) -> str:
        """Every row of every table in the database (reflected, so nothing is left out)."""
        metadata = MetaData()
        metadata.reflect(self.engine)
        lines = []
        with self.engine.connect() as connection:
            for table in metadata.sorted_tables:
                lines.extend(repr(tuple(row)) for row in connection.execute(table.select()))
        return "\n".join(lines)

    # -- what Slack saw -------------------------------------------------------------------------

    def thread_replies(self, row: SubaccountRequest) -> list[str]:
        return [
            str(call.params.get("text", ""))
            for call in self.slack.calls_to("chat.postMessage")
            if call.params.get("thread_ts") == row.approval_ts
            and call.params.get("channel") == row.approval_channel_id
        ]

    def thread_texts(self, head: Decidable) -> list[str]:
        """Everything said in a request's thread: replies, and the comments of files shared."""
        return [
            str(call.params.get("text") or call.params.get("initial_comment") or "")
            for call in self.slack.calls
            if call.method in ("chat.postMessage", "files.completeUploadExternal")
            and call.params.get("thread_ts") == head.approval_ts
            and head.approval_channel_id
            in (call.params.get("channel"), call.params.get("channel_id"))
        ]

    def channel_posts(self, channel: str) -> list[str]:
        return [
            str(call.params.get("text", ""))
            for call in self.slack.calls_to("chat.postMessage")
            if call.params.get("channel") == channel and not call.params.get("thread_ts")
        ]

    def ephemerals(self, user_id: str) -> list[str]:
        return [
            str(call.params.get("text", ""))
            for call in self.slack.calls_to("chat.postEphemeral")
            if call.params.get("user") == user_id
        ]

    # -- what Zoom saw --------------------------------------------------------------------------

    def posts_per_email(self) -> Counter[str]:
        return Counter(str(post.body.get("email")) for post in self.zoom.account_posts if post.body)

    def answers(self, method: str = "POST") -> Counter[int]:
        """HTTP statuses fake Zoom gave to /v2/accounts calls of `method`."""
        return Counter(
            answer.status
            for answer in self.zoom.answered
            if answer.method == method and answer.path == "/v2/accounts"
        )

    def zoom_posts_by_instance(self) -> dict[str, int]:
        """POST /accounts answers each instance logged (httpx logs each one at INFO)."""
        line = f"HTTP Request: POST {self.zoom.api_url}/accounts "
        return {instance.name: instance.output().count(line) for instance in self.instances}

    # -- secrets --------------------------------------------------------------------------------

    def output(self) -> str:
        return "\n".join(instance.output() for instance in self.instances)

    def secret_sightings(self) -> dict[str, int]:
        """How often each secret appears in the instances' output, Slack's log and the tables."""
        places = {
            "instance output": self.output(),
            "SlackEmulator.raw_log": self.slack.raw_log(),
            "table dump": self.table_dump(),
        }
        named = {**FIXED_SECRETS, **{f"password {p[:2]}…": p for p in sorted(self.passwords)}}
        seen = {}
        for label, secret in named.items():
            for place, text in places.items():
                count = text.count(secret)
                if count:
                    seen[f"{label} in {place}"] = count
        return seen

    def assert_no_secrets(self) -> int:
        """Fails naming every secret seen; returns how many secrets were checked."""
        assert self.secret_sightings() == {}
        return len(FIXED_SECRETS) + len(self.passwords)


# -- figures for the closing note ---------------------------------------------------------------

FIGURES: dict[str, dict[str, Any]] = {}
_figures_lock = threading.Lock()


def record_figures(section: str, **values: Any) -> None:
    """Keep figures for the end-of-run summary (see conftest.py) and print them now."""
    with _figures_lock:
        FIGURES.setdefault(section, {}).update(values)
    print(f"[reliability] {section}: {json.dumps(values, sort_keys=True)}")  # noqa: T201


def max_in_window(times: Iterable[float], window_seconds: float) -> int:
    """The most timestamps inside any half-open window [t, t + window_seconds)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window_seconds:
            start += 1
        best = max(best, end - start + 1)
    return best

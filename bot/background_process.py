"""Background work in a child process, so Slack's acks never wait behind it for the GIL.

In one Python process every thread shares one interpreter lock: the background pool's Slack and
database work (views.open, posting a request, recording a decision: 1.5-3 ms of CPU each) ran
between a request thread's bytes, and an ack waited for it. Under gunicorn (the Procfile's web
line) each worker therefore starts one child, `python -m bot.background_process`, that builds
the same runtime and runs the background tasks, the provisioning worker and the pending-request
sweep; the worker keeps only what must happen before the ack (verify, parse, store, answer).

A task crosses as (owner name, method name, arguments), pickled over a pipe only the two
processes hold; both sides register the same owners by name (see runtime.task_owners). A task
whose owner is not registered, or whose arguments cannot be pickled, runs on a small local pool.

Backpressure: the child takes a task from the pipe only while fewer than MAX_QUEUED_TASKS are
waiting; beyond that the pipe (64 KiB) fills and a request thread's send blocks, so a sustained
overload slows acks instead of growing a queue whose Slack triggers (3 s) would expire unused.

Lifetime: the child exits when the pipe's write end closes (the worker exited or was killed),
after finishing what it holds. A child that died is started again on the next task. Tasks are
no more durable than on a thread pool: what must survive a crash is in the database already
(the request row, the job), as before.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from typing import Any

from bot.background import BackgroundTasks

logger = logging.getLogger(__name__)

MAX_QUEUED_TASKS = 200
STOP_TIMEOUT_SECONDS = 30.0


class TaskOwners:
    """The objects whose methods run as background tasks, by a name both processes share."""

    def __init__(self) -> None:
        self._by_name: dict[str, object] = {}
        self._names: dict[int, str] = {}

    def register(self, **owners: object) -> None:
        for name, owner in owners.items():
            self._by_name[name] = owner
            self._names[id(owner)] = name

    def describe(self, task: Callable[..., Any]) -> tuple[str, str] | None:
        """(owner name, method name) of a registered owner's bound method, else None."""
        owner = getattr(task, "__self__", None)
        name = self._names.get(id(owner)) if owner is not None else None
        if name is None or self._by_name.get(name) is not owner:
            return None
        return name, task.__name__

    def resolve(self, owner_name: str, method_name: str) -> Callable[..., Any]:
        method: Callable[..., Any] = getattr(self._by_name[owner_name], method_name)
        return method


class ChildProcess:
    """The child and the write end of its pipe; started again when it has died."""

    def __init__(self, argv: list[str]) -> None:
        self._argv = argv
        self._process: subprocess.Popen[bytes] | None = None
        self._writer: Connection | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def writer(self) -> Connection:
        if self._writer is None or self._process is None or self._process.poll() is not None:
            self._start()
        assert self._writer is not None
        return self._writer

    def _start(self) -> None:
        self.close(wait=False)
        reader, writer = Pipe(duplex=False)
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
                [*self._argv, "--fd", str(reader.fileno())],
                pass_fds=(reader.fileno(),),
                env=child_environment(),
            )
        finally:
            reader.close()  # the child holds its own copy; ours would keep EOF from coming
        self._writer = writer
        logger.info("background process %s started", self._process.pid)

    def close(self, *, wait: bool = True) -> None:
        """Close the pipe: the child finishes what it holds and exits."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._process is not None and wait:
            try:
                self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


class ProcessTasks(BackgroundTasks):
    """BackgroundTasks whose registered owners' tasks run in the child process."""

    def __init__(self, owners: TaskOwners, child: ChildProcess, *, local_workers: int = 2) -> None:
        super().__init__(max_workers=local_workers)
        self._owners = owners
        self._child = child
        self._send_lock = threading.Lock()

    @property
    def child(self) -> ChildProcess:
        return self._child

    def submit(self, task: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        described = self._owners.describe(task)
        payload = _pickled(described, args, kwargs) if described is not None else None
        if payload is None:
            return super().submit(task, *args, **kwargs)
        self._send(payload)
        sent: Future[Any] = Future()
        sent.set_result(None)
        return sent

    def _send(self, payload: bytes) -> None:
        with self._send_lock:
            try:
                self._child.writer().send_bytes(payload)
            except OSError:
                # A broken pipe means the child is gone and read none of this message.
                logger.warning("background process gone; starting another")
                self._child.close(wait=False)
                self._child.writer().send_bytes(payload)

    def shutdown(self, *, wait: bool = True) -> None:
        self._child.close(wait=wait)
        super().shutdown(wait=wait)


def _pickled(
    described: tuple[str, str], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> bytes | None:
    try:
        return pickle.dumps((*described, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None


def child_argv() -> list[str]:
    return [sys.executable, "-m", "bot.background_process"]


def child_environment() -> dict[str, str]:
    """This process's environment (the same settings), with this project importable wherever
    the web process was started from (gunicorn finds `app` by PYTHONPATH or its cwd)."""
    project = str(Path(__file__).resolve().parents[1])
    paths = [project, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def serve_tasks(reader: Connection, owners: TaskOwners, tasks: BackgroundTasks) -> None:
    """Run what arrives on `reader` until its write end closes, then wait for the tasks."""
    while True:
        tasks.wait_below(MAX_QUEUED_TASKS)
        try:
            payload = reader.recv_bytes()
        except (EOFError, OSError):
            break
        owner_name, method_name, args, kwargs = pickle.loads(payload)  # noqa: S301 - our pipe
        tasks.submit(owners.resolve(owner_name, method_name), *args, **kwargs)
    tasks.wait_idle(STOP_TIMEOUT_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.background_process")
    parser.add_argument("--fd", type=int, required=True, help="the pipe's read end")
    fd = parser.parse_args(argv).fd
    # Imported here: the parent imports this module for ProcessTasks only (and runtime imports it).
    from bot.config import load_settings  # noqa: PLC0415
    from bot.runtime import Role, build_runtime  # noqa: PLC0415

    settings = load_settings()  # the worker that started us read the same environment
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        runtime = build_runtime(settings, role=Role.BACKGROUND)
    except Exception as exc:  # noqa: BLE001 - one line, no traceback (it could quote a URL)
        logger.error("background process did not start (%s)", type(exc).__name__)
        return 1
    logger.info("background process %s serving tasks", os.getpid())
    try:
        serve_tasks(Connection(fd, writable=False), runtime.task_owners, runtime.tasks)
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

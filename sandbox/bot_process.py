"""The real, unchanged bot as a subprocess of the sandbox: started with an explicit
environment, waited for until /healthz answers, stopped with SIGTERM (then SIGKILL)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.2


class BotProcessError(Exception):
    """The bot did not come up; the message says why in one line."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_bot(environment: dict[str, str], data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The real, unchanged bot; run from the data folder so no .env of the developer is read,
    in its own process group so Ctrl-C reaches only the launcher, which then stops it."""
    command = [sys.executable, str(PROJECT_ROOT / "app.py")]
    bot = subprocess.Popen(command, env=environment, cwd=data_dir, process_group=0)  # noqa: S603
    try:
        yield bot
    finally:
        stop_bot(bot)


def stop_bot(bot: subprocess.Popen[bytes]) -> None:
    if bot.poll() is not None:
        return
    bot.terminate()
    try:
        bot.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        bot.kill()
        bot.wait()


def wait_until_ready(bot: subprocess.Popen[bytes], *, bot_port: int, stop: threading.Event) -> bool:
    """True once the bot answers /healthz; False if asked to stop first; raises if it died."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    url = f"http://127.0.0.1:{bot_port}/healthz"
    while time.monotonic() < deadline:
        if _healthy(url):
            return True
        status = bot.poll()
        if status is not None:
            raise BotProcessError(
                f"zoombot exited with status {status} before it was ready (see its log above)"
            )
        if stop.wait(POLL_SECONDS):
            return False
    raise BotProcessError(f"zoombot did not answer {url} within {READY_TIMEOUT_SECONDS:.0f} s")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=POLL_SECONDS * 5).status_code == 200
    except httpx.HTTPError:
        return False

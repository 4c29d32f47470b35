"""Fake Slack and fake Zoom (sandbox/) in a process of their own, driven by JSON lines on
stdin/stdout, so their work never competes with the benchmark's client for a GIL.

`python -m bench.fakes` is the child; `FakesProcess` is the parent's handle on it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import parse_qsl, urlsplit

from bench.identities import (
    BOT_TOKEN,
    BOT_USER,
    USERS,
    ZOOM_ACCOUNT_ID,
    ZOOM_CLIENT_ID,
    ZOOM_CLIENT_SECRET,
)
from sandbox import slack_emulator as slack_api
from sandbox import zoom_simulator as zoom_api
from sandbox.slack_emulator import SlackEmulator
from sandbox.zoom_simulator import Answer, ZoomSimulator

# socketserver listens with a backlog of 5: a burst of calls from the bots' web and worker threads
# would overflow it, and a dropped SYN costs the caller a 1 s retransmit that is not the bot's.
slack_api._Server.request_queue_size = 1024
zoom_api._Server.request_queue_size = 1024

COMMAND_TIMEOUT_SECONDS = 30.0


class BenchSlack(SlackEmulator):
    """SlackEmulator that counts calls per method and can answer each after a delay."""

    def __init__(self) -> None:
        super().__init__(bot_token=BOT_TOKEN, bot_user_id=BOT_USER)
        self.latency_seconds = 0.0
        self.counts: Counter[str] = Counter()
        self.views_opened: dict[str, float] = {}  # trigger_id → when views.open arrived
        self._count_lock = threading.Lock()

    def handle_api(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # Signature-agnostic, like BenchZoom.handle; the fake calls it with keywords.
        received_at = time.time()
        answer: dict[str, Any] = super().handle_api(*args, **kwargs)
        method = str(kwargs.get("method", ""))
        with self._count_lock:
            self.counts[method] += 1
            if method == "views.open":
                body = kwargs.get("body", b"")
                self.views_opened[_field_in(body, "trigger_id")] = received_at
        if self.latency_seconds > 0:
            time.sleep(self.latency_seconds)  # outside the fake's lock: calls overlap as in Slack
        return answer


class BenchZoom(ZoomSimulator):
    """ZoomSimulator that notes when each POST /v2/accounts arrived, keyed by the owner's email."""

    def __init__(self) -> None:
        super().__init__(
            account_id=ZOOM_ACCOUNT_ID, client_id=ZOOM_CLIENT_ID, client_secret=ZOOM_CLIENT_SECRET
        )
        self.receipts: dict[str, float] = {}
        self._receipt_lock = threading.Lock()

    def handle(self, method: str, target: str, *args: Any, **kwargs: Any) -> Answer:
        # Signature-agnostic: the fake's handle() gains parameters as the tests need them.
        if method == "POST" and urlsplit(target).path == "/v2/accounts":
            received_at = time.time()
            body = next((arg for arg in (*args, *kwargs.values()) if isinstance(arg, bytes)), b"")
            email = _field_in(body, "email")
            with self._receipt_lock:
                self.receipts[email] = received_at
        answer: Answer = super().handle(method, target, *args, **kwargs)
        return answer


def _field_in(body: bytes, name: str) -> str:
    """A top-level field of a JSON body (Zoom, slack_sdk's views.open) or a form body."""
    try:
        return str(json.loads(body).get(name) or "")
    except (ValueError, AttributeError):
        return dict(parse_qsl(body.decode("utf-8", "replace"))).get(name, "")


def _execute(command: dict[str, Any], slack: BenchSlack, zoom: BenchZoom) -> dict[str, Any]:
    operation = command.get("op")
    if operation == "zoom_delay":
        zoom.delay_seconds = float(command["seconds"])
    elif operation == "slack_latency":
        slack.latency_seconds = float(command["seconds"])
    elif operation == "counts":
        return {"slack": dict(slack.counts), "zoom_posts": len(zoom.receipts)}
    elif operation == "zoom_receipts":
        wanted = set(command["emails"])
        return {"receipts": {e: at for e, at in dict(zoom.receipts).items() if e in wanted}}
    elif operation == "views_opened":
        wanted = set(command["trigger_ids"])
        return {"opened": {t: at for t, at in dict(slack.views_opened).items() if t in wanted}}
    elif operation == "forget_calls":
        slack.reset_calls()  # the fake keeps every call; a long run would hold them all
    elif operation != "stop":
        return {"error": f"unknown op {operation!r}"}
    return {}


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    with BenchSlack() as slack, BenchZoom() as zoom:
        for user in USERS:
            slack.add_user(user, email=f"{user.lower()}@example.com")
        _send(
            {
                "slack_api_url": slack.base_url,
                "zoom_api_url": zoom.api_url,
                "zoom_oauth_url": zoom.oauth_url,
            }
        )
        for line in sys.stdin:  # ends when the parent stops us or goes away (EOF)
            command = json.loads(line)
            _send(_execute(command, slack, zoom))
            if command.get("op") == "stop":
                break


class FakesProcess:
    """Starts `python -m bench.fakes` and sends it one command at a time."""

    def __init__(self, *, project_root: Path, log_path: Path) -> None:
        self._log = log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.fakes"],
            cwd=project_root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._lock = threading.Lock()
        urls = self._read()
        self.slack_api_url = str(urls["slack_api_url"])
        self.zoom_api_url = str(urls["zoom_api_url"])
        self.zoom_oauth_url = str(urls["zoom_oauth_url"])

    @property
    def pid(self) -> int:
        return self._process.pid

    def command(self, op: str, **arguments: Any) -> dict[str, Any]:
        with self._lock:
            stdin = self._pipe(self._process.stdin)
            stdin.write(json.dumps({"op": op, **arguments}) + "\n")
            stdin.flush()
            return self._read()

    def set_zoom_delay(self, seconds: float) -> None:
        self.command("zoom_delay", seconds=seconds)

    def set_slack_latency(self, seconds: float) -> None:
        self.command("slack_latency", seconds=seconds)

    def slack_counts(self) -> Counter[str]:
        return Counter(self.command("counts")["slack"])

    def zoom_receipts(self, emails: list[str]) -> dict[str, float]:
        receipts = self.command("zoom_receipts", emails=emails)["receipts"]
        return {str(email): float(at) for email, at in receipts.items()}

    def views_opened(self, trigger_ids: list[str]) -> dict[str, float]:
        opened = self.command("views_opened", trigger_ids=trigger_ids)["opened"]
        return {str(trigger_id): float(at) for trigger_id, at in opened.items()}

    def close(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                self.command("stop")  # then wait for it below, or kill it
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._log.close()

    def _read(self) -> dict[str, Any]:
        # The child answers each command at once; a silent child is a dead one.
        stdout = self._pipe(self._process.stdout)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(COMMAND_TIMEOUT_SECONDS)
        if not lines or not lines[0]:
            raise RuntimeError("the fakes process did not answer; see its log")
        result: dict[str, Any] = json.loads(lines[0])
        if "error" in result:
            raise RuntimeError(str(result["error"]))
        return result

    @staticmethod
    def _pipe(stream: IO[str] | None) -> IO[str]:
        if stream is None:
            raise RuntimeError("the fakes process has no pipe")
        return stream

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


if __name__ == "__main__":
    main()

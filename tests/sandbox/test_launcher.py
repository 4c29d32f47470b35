"""The sandbox launcher as a person runs it: a subprocess that prints the page's URL, carries a
request to `created` through the page's API, stops on SIGTERM, and picks up where it left off."""

from __future__ import annotations

import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx

REPO = Path(__file__).resolve().parents[2]
LAUNCH = "import sys; from sandbox.launcher import main; sys.exit(main(sys.argv[1:]))"
READY_PREFIX = "Sandbox ready: "
# Meets Zoom's rules; distinctive enough that finding it anywhere means it leaked.
TYPED_PASSWORD = "Sbx7Qv2Wn9Kt"
REQUESTER, APPROVER = "URILEY01", "UBLAKE01"
REQUEST_CHANNEL, APPROVAL_CHANNEL = "CREQUESTS", "CAPPROVALS"
WAIT_SECONDS = 60.0

Snapshot = dict[str, Any]


class Launched:
    """A launcher subprocess whose output is collected as it comes."""

    def __init__(self, *args: str) -> None:
        environment = dict(os.environ)
        # A developer's real Socket Mode token must not reach the sandbox's bot.
        environment["SLACK_APP_TOKEN"] = "xapp-from-the-developer-shell"
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and launcher
            [sys.executable, "-c", LAUNCH, *args],
            cwd=REPO,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._urls: queue.Queue[str | None] = queue.Queue()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=("stdout", self.process.stdout)),
            threading.Thread(target=self._read, args=("stderr", self.process.stderr)),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace")
            self.lines[name].append(line)
            if line.startswith(READY_PREFIX):
                self._urls.put(line.removeprefix(READY_PREFIX).strip())
        if name == "stdout":
            self._urls.put(None)

    def ready(self) -> str:
        try:
            url = self._urls.get(timeout=120)
        except queue.Empty:
            url = None
        assert url is not None, f"the sandbox never got ready:\n{self.output()}"
        return url

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.wait()

    def wait(self) -> int:
        status = self.process.wait(timeout=60)
        for reader in self._readers:
            reader.join(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return status

    def output(self) -> str:
        return "".join(self.lines["stdout"] + self.lines["stderr"])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.wait()


@contextmanager
def launched(*args: str) -> Iterator[Launched]:
    sandbox = Launched(*args)
    try:
        yield sandbox
    finally:
        sandbox.kill()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_launcher(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and launcher
        [sys.executable, "-c", LAUNCH, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- driving the page's API --------------------------------------------------------------------


def state(api: httpx.Client, user_id: str) -> Snapshot:
    response = api.get("/sandbox/api/state", params={"user": user_id})
    assert response.status_code == 200, response.text
    snapshot: Snapshot = response.json()
    return snapshot


def post(api: httpx.Client, action: str, **body: Any) -> dict[str, Any]:
    response = api.post(f"/sandbox/api/{action}", json=body)
    assert response.status_code == 200, response.text
    outcome: dict[str, Any] = response.json()
    assert outcome["ok"], outcome
    return outcome


def wait_for_state(
    api: httpx.Client, user_id: str, condition: Callable[[Snapshot], Any], what: str
) -> Snapshot:
    """Polls the state like the page does, until `condition` holds."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        snapshot = state(api, user_id)
        if condition(snapshot):
            return snapshot
        assert time.monotonic() < deadline, f"{what}: not seen within {WAIT_SECONDS}s"
        time.sleep(0.1)


def messages(snapshot: Snapshot, channel_id: str) -> list[dict[str, Any]]:
    channels = snapshot["slack"]["channels"]
    found: list[dict[str, Any]] = next(c for c in channels if c["id"] == channel_id)["messages"]
    return found


def pending_approval_button(snapshot: Snapshot) -> dict[str, Any] | None:
    """The approve button of a message still waiting for a decision, with where it is."""
    for message in messages(snapshot, APPROVAL_CHANNEL):
        for block in message["blocks"]:
            for element in block.get("elements", []):
                if element.get("action_id") == "approve_request":
                    return {**element, "block_id": block["block_id"], "ts": message["ts"]}
    return None


def request_through_the_page(api: httpx.Client, *, email: str) -> dict[str, Any]:
    """Riley asks, Blake approves; returns the audit row once Zoom has answered."""
    known = len(state(api, REQUESTER)["audit"]["requests"])
    post(api, "command", user=REQUESTER, channel=REQUEST_CHANNEL, text="")
    form = wait_for_state(api, REQUESTER, lambda s: s["slack"]["view"], "the request form")
    inputs = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": email,
        "password": TYPED_PASSWORD,
        "reason": "Sandbox walkthrough",
        "pay_mode": None,
        "options": [],
    }
    view_id = form["slack"]["view"]["id"]
    post(api, "view/submit", user=REQUESTER, view_id=view_id, inputs=inputs)
    post(api, "view/submit", user=REQUESTER, view_id=view_id, inputs={})  # the confirmation
    post(api, "view/close", user=REQUESTER, view_id=view_id)
    waiting = wait_for_state(api, APPROVER, pending_approval_button, "the approval message")
    button = pending_approval_button(waiting)
    assert button is not None
    post(
        api,
        "action",
        user=APPROVER,
        channel=APPROVAL_CHANNEL,
        ts=button["ts"],
        action_id=button["action_id"],
        block_id=button["block_id"],
        value=button["value"],
    )

    def answered(snapshot: Snapshot) -> bool:
        rows = snapshot["audit"]["requests"]
        return len(rows) > known and rows[0]["zoom_http_status"] is not None

    row: dict[str, Any] = wait_for_state(api, REQUESTER, answered, "Zoom's answer")["audit"][
        "requests"
    ][0]
    return row


def files_holding(folder: Path, secret: str) -> list[Path]:
    return [
        path
        for path in folder.rglob("*")
        if path.is_file() and secret.encode() in path.read_bytes()
    ]


# -- tests -------------------------------------------------------------------------------------


def test_a_request_survives_a_restart_and_a_reused_email_gets_zoom_1005(tmp_path):
    data_dir, port = tmp_path / "sandbox", free_port()
    args = ("--port", str(port), "--data-dir", str(data_dir))
    with launched(*args) as first:
        url = first.ready()
        with httpx.Client(base_url=url, timeout=30) as api:
            page = api.get("/")
            created = request_through_the_page(api, email="ada@sandbox.example")
        first_status = first.stop()
    with launched(*args) as second:
        with httpx.Client(base_url=second.ready(), timeout=30) as api:
            remembered = state(api, APPROVER)
            reused = request_through_the_page(api, email="ada@sandbox.example")
        second_status = second.stop()

    assert url == f"http://127.0.0.1:{port}/"
    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert (created["status"], created["zoom_http_status"]) == ("created", 201)
    assert first_status == 0, first.output()
    assert remembered["audit"]["requests"][0]["id"] == created["id"]
    assert messages(remembered, APPROVAL_CHANNEL), "the earlier approval message is gone"
    [earlier_create] = remembered["zoom"]["received"]
    assert earlier_create["body"]["password"] == "********", "the typed password never reached Zoom"
    assert (reused["status"], reused["zoom_http_status"], reused["zoom_error_code"]) == (
        "failed",
        409,
        1005,
    )
    assert second_status == 0, second.output()
    assert stat.S_IMODE((data_dir / "secrets.json").stat().st_mode) == 0o600
    assert files_holding(data_dir, TYPED_PASSWORD) == []
    assert TYPED_PASSWORD not in first.output() + second.output()


def test_a_taken_port_is_one_line_and_exit_status_1(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_launcher("--port", str(port), "--data-dir", str(tmp_path / "sandbox"))

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"sandbox: cannot listen on 127.0.0.1:{port}")
    assert result.stdout == ""


def test_damaged_state_is_one_line_naming_the_file(tmp_path):
    data_dir = tmp_path / "sandbox"
    data_dir.mkdir()
    (data_dir / "slack.json").write_text("not json")

    result = run_launcher("--port", str(free_port()), "--data-dir", str(data_dir))

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert str(data_dir / "slack.json") in line


def test_reset_removes_the_sandbox_state_and_nothing_else(tmp_path):
    data_dir = tmp_path / "sandbox"
    data_dir.mkdir()
    for name in ("slack.json", "zoom.json", "zoombot.db"):
        (data_dir / name).write_text("not state")
    (data_dir / "secrets.json").write_text("{}")
    (data_dir / "notes.txt").write_text("mine")

    with socket.socket() as holder:
        # The port is taken, so the run stops right after the reset and the fakes' start.
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        result = run_launcher(
            "--reset", "--port", str(holder.getsockname()[1]), "--data-dir", str(data_dir)
        )

    assert "cannot listen" in result.stderr, result.stderr
    assert (data_dir / "notes.txt").read_text() == "mine"
    assert not (data_dir / "zoombot.db").exists()
    assert (data_dir / "slack.json").read_text() != "not state"
    assert "slack_signing_secret" in (data_dir / "secrets.json").read_text()


def test_a_bot_that_dies_at_start_is_reported_with_its_exit_status(tmp_path):
    data_dir = tmp_path / "sandbox"
    (data_dir / "zoombot.db").mkdir(parents=True)  # the bot cannot open its database

    result = run_launcher("--port", str(free_port()), "--data-dir", str(data_dir))

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "sandbox: zoombot exited with status 1 before it was ready (see its log above)"
    )
    assert "Sandbox ready" not in result.stdout

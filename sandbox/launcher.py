"""`python app.py sandbox`: the Slack emulator, the Zoom simulator, the real bot as a subprocess
wired to both, and the page's console, with their state kept in one data folder."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

from sandbox.audit_view import AuditReader
from sandbox.bot_process import (
    POLL_SECONDS,
    PROJECT_ROOT,
    BotProcessError,
    free_port,
    running_bot,
    wait_until_ready,
)
from sandbox.console import ConsoleParts, SandboxConsole
from sandbox.data_dir import (
    SLACK_STATE_FILE,
    ZOOM_STATE_FILE,
    DataDirError,
    SandboxSecrets,
    database_url,
    prepare_data_dir,
)
from sandbox.people import (
    BOT_NAME,
    BOT_ROLE_SETTINGS,
    BOT_USER_ID,
    CHANNELS,
    PEOPLE,
)
from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_state import SlackStateError
from sandbox.workspace import Workspace
from sandbox.zoom_simulator import ZoomSimulator
from sandbox.zoom_state import SimulatorStateError

DEFAULT_PORT = 8000
DEFAULT_DATA_DIR = PROJECT_ROOT / ".sandbox"
COMMAND = "/zoom-subaccount"


class SandboxError(Exception):
    """A start-up problem told to the person in one line."""


# Told in one line each, not as a traceback: the person can act on every one of them.
STARTUP_PROBLEMS = (
    SandboxError,
    DataDirError,
    BotProcessError,
    SlackStateError,
    SimulatorStateError,
)


def main(argv: list[str]) -> int:
    try:
        options = _parse(argv)
    except SystemExit as exit_request:  # --help, or a usage error argparse already printed
        return exit_request.code if isinstance(exit_request.code, int) else 2
    # Warnings only: the bot's own log, on the same terminal, tells the story.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    data_dir = options.data_dir.resolve()
    try:
        sandbox_secrets = prepare_data_dir(data_dir, reset=options.reset)
        with _stop_requested() as stop:
            return run(data_dir=data_dir, port=options.port, secrets=sandbox_secrets, stop=stop)
    except STARTUP_PROBLEMS as problem:
        _say(f"sandbox: {problem}", error=True)
        return 1


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="app.py sandbox",
        description="Run zoombot against a local Slack workspace and Zoom, with a web page.",
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"the page's port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where the database, workspace, Zoom state and secrets are kept (default .sandbox/)",
    )
    parser.add_argument("--reset", action="store_true", help="delete that state first")
    return parser.parse_args(argv)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return int(text)


def run(*, data_dir: Path, port: int, secrets: SandboxSecrets, stop: threading.Event) -> int:
    """Starts everything, serves until asked to stop, then stops it all in reverse order."""
    stack = ExitStack()
    try:
        slack, zoom = start_fakes(stack, data_dir=data_dir, secrets=secrets)
        bot_port = free_port()
        console = stack.enter_context(
            open_console(
                slack, zoom, data_dir=data_dir, port=port, bot_port=bot_port, secrets=secrets
            )
        )
        environment = bot_environment(
            slack, zoom, data_dir=data_dir, bot_port=bot_port, secrets=secrets
        )
        bot = stack.enter_context(running_bot(environment, data_dir))
        if not wait_until_ready(bot, bot_port=bot_port, stop=stop):
            return 0
        console.start()
        _say(f"Sandbox ready: {console.url}")
        _say(f"Stop it with Ctrl-C. State is kept in {data_dir} (--reset starts afresh).")
        return wait_for_stop(bot, stop)
    finally:
        stack.close()


def start_fakes(
    stack: ExitStack, *, data_dir: Path, secrets: SandboxSecrets
) -> tuple[SlackEmulator, ZoomSimulator]:
    slack = stack.enter_context(
        SlackEmulator(
            bot_token=secrets.slack_bot_token,
            bot_user_id=BOT_USER_ID,
            state_path=data_dir / SLACK_STATE_FILE,
        )
    )
    zoom = stack.enter_context(
        ZoomSimulator(
            client_secret=secrets.zoom_client_secret, state_path=data_dir / ZOOM_STATE_FILE
        )
    )
    zoom.use_sandbox_scenarios()
    populate(slack)
    return slack, zoom


def populate(slack: SlackEmulator) -> None:
    """The sandbox's people and channels; adding them again over loaded state is harmless."""
    slack.add_user(BOT_USER_ID, name=BOT_NAME)
    for person in PEOPLE:
        slack.add_user(person.id, email=person.email, name=person.name)
    for channel in CHANNELS:
        slack.add_channel(channel.id, channel.name)


@contextmanager
def open_console(
    slack: SlackEmulator,
    zoom: ZoomSimulator,
    *,
    data_dir: Path,
    port: int,
    bot_port: int,
    secrets: SandboxSecrets,
) -> Iterator[SandboxConsole]:
    """Binds the page's port before the bot starts, so a taken port fails fast."""
    audit = AuditReader(database_url(data_dir))
    workspace = Workspace(
        slack,
        bot_url=f"http://127.0.0.1:{bot_port}/slack/events",
        signing_secret=secrets.slack_signing_secret,
        command=COMMAND,
    )
    parts = ConsoleParts(workspace, slack, zoom, audit, PEOPLE, COMMAND)
    try:
        console = SandboxConsole(parts, port=port)
    except OSError as exc:
        audit.close()
        raise SandboxError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); try --port"
        ) from None
    try:
        yield console
    finally:
        console.close()
        audit.close()


def bot_environment(
    slack: SlackEmulator,
    zoom: ZoomSimulator,
    *,
    data_dir: Path,
    bot_port: int,
    secrets: SandboxSecrets,
) -> dict[str, str]:
    """Every setting the bot reads, and nothing inherited: a developer's real tokens (say a
    SLACK_APP_TOKEN, which would switch to Socket Mode) must not leak into the sandbox."""
    environment = {
        "SLACK_BOT_TOKEN": secrets.slack_bot_token,
        "SLACK_SIGNING_SECRET": secrets.slack_signing_secret,
        "SLACK_API_URL": slack.base_url,
        "ZOOM_ACCOUNT_ID": zoom.account_id,
        "ZOOM_CLIENT_ID": zoom.client_id,
        "ZOOM_CLIENT_SECRET": secrets.zoom_client_secret,
        "ZOOM_API_URL": zoom.api_url,
        "ZOOM_OAUTH_URL": zoom.oauth_url,
        "DATABASE_URL": database_url(data_dir),
        "PASSWORD_ENCRYPTION_KEY": secrets.password_encryption_key,
        "SLASH_COMMAND": COMMAND,
        "HOST": "127.0.0.1",
        "PORT": str(bot_port),
        "PYTHONUNBUFFERED": "1",
        **BOT_ROLE_SETTINGS,
    }
    if "PATH" in os.environ:
        environment["PATH"] = os.environ["PATH"]
    return environment


def wait_for_stop(bot: subprocess.Popen[bytes], stop: threading.Event) -> int:
    while not stop.wait(POLL_SECONDS):
        status = bot.poll()
        if status is not None:
            _say(f"sandbox: zoombot exited with status {status}; stopping", error=True)
            return 1
    _say("Sandbox stopping.")
    return 0


@contextmanager
def _stop_requested() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM, with the previous handlers restored afterwards."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {
        number: signal.signal(number, request_stop) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _say(line: str, *, error: bool = False) -> None:
    print(line, file=sys.stderr if error else sys.stdout, flush=True)

"""`python -m sandbox.check_demo [--broken]`: `zoombot check` against the sandbox's Slack
workspace and Zoom, started as `python app.py sandbox` starts them (same people, channels,
settings, a database migrated as the bot does at start) in a throwaway folder; with --broken,
against that setup with one thing of each kind broken, to show every failure and its fix."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.check.run import check
from bot.config import Settings, load_settings
from bot.db.migrate import upgrade_to_head
from bot.db.session import make_engine
from sandbox.data_dir import database_url, prepare_data_dir
from sandbox.launcher import bot_environment, start_fakes
from sandbox.people import APPROVAL_CHANNEL, PEOPLE
from sandbox.slack_emulator import SlackEmulator
from sandbox.zoom_simulator import ZoomSimulator

# The bot's environment variables that are no setting of bot.config.Settings.
_NOT_SETTINGS = ("PATH", "PYTHONUNBUFFERED")


@dataclass
class SandboxServices:
    """The running fakes and the settings the sandbox would give the bot."""

    slack: SlackEmulator
    zoom: ZoomSimulator
    settings: dict[str, Any]
    data_dir: Path


@contextmanager
def sandbox_services(data_dir: Path) -> Iterator[SandboxServices]:
    """The sandbox's fakes, populated, and its bot settings (as overrides for load_settings)."""
    secrets = prepare_data_dir(data_dir, reset=False)
    with ExitStack() as stack:
        slack, zoom = start_fakes(stack, data_dir=data_dir, secrets=secrets)
        environment = bot_environment(
            slack, zoom, data_dir=data_dir, bot_port=3000, secrets=secrets
        )
        settings = {
            name.lower(): value for name, value in environment.items() if name not in _NOT_SETTINGS
        }
        engine = make_engine(database_url(data_dir))
        try:
            upgrade_to_head(engine)  # as the bot does at start (AUTO_MIGRATE)
        finally:
            engine.dispose()
        yield SandboxServices(slack, zoom, settings, data_dir)


def break_everything(services: SandboxServices) -> Settings:
    """One problem of each kind the checks can see without hiding the others."""
    slack, zoom = services.slack, services.zoom
    slack.granted_scopes = tuple(s for s in slack.granted_scopes if s != "usergroups:read")
    slack.set_bot_member(APPROVAL_CHANNEL, member=False)
    gone = PEOPLE[-1]
    slack.deactivate_user(gone.id)
    zoom.master_account = False
    fresh = services.data_dir / "fresh"
    fresh.mkdir(exist_ok=True)
    return load_settings(
        {
            **services.settings,
            "ops_channel": "CNOSUCH01",
            "requester_allowlist": f"URILEY01,UNOBODY01,{gone.id},nobody@sandbox.example",
            "approver_allowlist": "UBLAKE01,SAPPROVERS",
            # A database nobody migrated, and no key: the bot would make one at start.
            "database_url": f"sqlite:///{services.data_dir / 'missing' / 'zoombot.db'}",
            "password_encryption_key": None,
            "password_key_file": str(fresh / "zoombot.key"),
        }
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.check_demo")
    parser.add_argument("--broken", action="store_true", help="break one thing of each kind")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder, sandbox_services(Path(folder)) as services:
        if options.broken:
            settings = break_everything(services)
        else:
            settings = load_settings(services.settings)
        return check(settings, out=sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""What one background `views.open` costs the bot's process, before and after issue 5's change:
slack_sdk's WebClient (a new connection per call) with the modal rebuilt from slack_sdk's
models, against bot.slack.web_client's kept-alive client with modal.request_form's cached dict.

`.venv/bin/python -m bench.slack_calls [--calls N]`. The Slack emulator runs in a process of its
own (bench.fakes), so this process's CPU time is the client's alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

from bench.fakes import FakesProcess
from bench.identities import BOT_TOKEN, ORIGIN_CHANNEL
from bot.slack.blocks import ApprovalSettings
from bot.slack.modal import request_form, request_modal
from bot.slack.notifier import Notifier
from bot.slack.web_client import KeepAliveWebClient

WARM_UP_CALLS = 50
APPROVAL = ApprovalSettings(
    required_approvals=1, approve_reaction="white_check_mark", reject_reaction="x"
)


@dataclass(frozen=True)
class Variant:
    name: str
    client: type[WebClient]
    view: Callable[[], Any]


VARIANTS = (
    Variant(
        "WebClient + request_modal() View (before)",
        WebClient,
        lambda: request_modal(channel_id=ORIGIN_CHANNEL, require_reason=True),
    ),
    Variant(
        "WebClient + cached dict",
        WebClient,
        lambda: request_form(channel_id=ORIGIN_CHANNEL, require_reason=True),
    ),
    Variant(
        "KeepAliveWebClient + request_modal() View",
        KeepAliveWebClient,
        lambda: request_modal(channel_id=ORIGIN_CHANNEL, require_reason=True),
    ),
    Variant(
        "KeepAliveWebClient + cached dict (after)",
        KeepAliveWebClient,
        lambda: request_form(channel_id=ORIGIN_CHANNEL, require_reason=True),
    ),
)


@dataclass(frozen=True)
class Measured:
    cpu_ms_per_call: float
    wall_ms_per_call: float
    failed: int


def measure(variant: Variant, *, api_url: str, calls: int) -> Measured:
    notifier = Notifier(variant.client(token=BOT_TOKEN, base_url=api_url), approval=APPROVAL)

    def open_modals(count: int, prefix: str) -> int:
        # Made-up trigger ids: the emulator answers them and tracks no view.
        return sum(
            not notifier.open_modal(trigger_id=f"{prefix}.{n}", view=variant.view())
            for n in range(count)
        )

    open_modals(WARM_UP_CALLS, "warm")
    cpu, wall = time.process_time(), time.perf_counter()
    failed = open_modals(calls, variant.client.__name__)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Measured(cpu * 1000 / calls, wall * 1000 / calls, failed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    calls = parser.parse_args().calls
    with tempfile.TemporaryDirectory() as scratch:
        log_path = Path(scratch) / "fakes.log"
        with FakesProcess(project_root=Path.cwd(), log_path=log_path) as fakes:
            _say(f"{calls} views.open calls per row, Slack emulator in its own process\n")
            _say("| client + view | CPU ms/call | wall ms/call | failed |")
            _say("|---|--:|--:|--:|")
            for variant in VARIANTS:
                result = measure(variant, api_url=fakes.slack_api_url, calls=calls)
                fakes.command("forget_calls")
                _say(
                    f"| {variant.name} | {result.cpu_ms_per_call:.3f} "
                    f"| {result.wall_ms_per_call:.3f} | {result.failed} |"
                )


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""`python -m bench.submission_path`: the request-storing modal submission, in-process.

The confirmation step's Submit (RequestForms.confirm: open the sealed preview, validate, check
the allowlist, store the request and its `submitted` event) run N times on a temporary SQLite
file and on a throwaway PostgreSQL database, with the runtime's real pieces but no HTTP. The
background announce is only recorded while the submissions are timed, so they measure what
happens before the ack; the recorded announces run afterwards, timed on their own, against a
notifier that renders the approval message but sends nothing. Prints wall-clock mean / p50 /
p99 per call and process CPU per call of each step.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from slack_sdk import WebClient

from bench.audit import postgres_admin_url, throwaway_postgres
from bench.identities import APPROVAL_CHANNEL, APPROVER, COMMAND, ORIGIN_CHANNEL, REQUESTER
from bench.stats import percentile
from bot.config import normalize_database_url
from bot.db.migrate import upgrade_to_head
from bot.db.models import SubaccountRequest
from bot.db.session import make_engine, make_session_factory
from bot.flows.common import FlowSettings
from bot.flows.forms import RequestForms
from bot.requests.passwords import PasswordVault
from bot.requests.policy import AccessPolicy, Allowlist
from bot.requests.preview import Draft, seal_draft
from bot.requests.validation import RequestInput
from bot.runtime.tasks import BackgroundTasks
from bot.slack.notifier import Notifier
from bot.slack.render.blocks import ApprovalSettings, request_message

WARMUP_CALLS = 200
APPROVAL = ApprovalSettings(
    required_approvals=1, approve_reaction="white_check_mark", reject_reaction="x"
)


class RecordingTasks(BackgroundTasks):
    """Records what would run in the background (announce) and runs none of it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, task: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.calls.append((task, args))
        done: Future[Any] = Future()
        done.set_result(None)
        return done


class RenderingNotifier(Notifier):
    """Renders the approval message as the real one does; posts and DMs nothing."""

    def __init__(self) -> None:
        # Never called: every method that would reach Slack is overridden.
        slack = WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/")  # noqa: S106
        super().__init__(slack, approval=APPROVAL)
        self._ts = itertools.count(1)

    def post_request(
        self, *, channel_id: str, row: SubaccountRequest, approvers: list[str]
    ) -> str | None:
        request_message(row, approvers=approvers, settings=APPROVAL)
        return f"1700000000.{next(self._ts):06d}"

    def dm(self, *, user_id: str, text: str, blocks: list[dict[str, Any]] | None = None) -> bool:
        return True


class NoDirectory:
    """The allowlists name user IDs only, so the directory is never asked."""

    def user_id_for_email(self, email: str) -> str | None:
        raise AssertionError(email)

    def usergroup_members(self, group_id: str) -> frozenset[str]:
        raise AssertionError(group_id)


@dataclass(frozen=True)
class Figures:
    backend: str
    step: str
    wall_us: list[float]
    cpu_ms_per_call: float

    def line(self) -> str:
        mean = statistics.fmean(self.wall_us)
        p50, p99 = percentile(self.wall_us, 50), percentile(self.wall_us, 99)
        return (
            f"| {self.backend} | {self.step} | {len(self.wall_us)} | {mean:.0f} | {p50:.0f} "
            f"| {p99:.0f} | {self.cpu_ms_per_call:.3f} |"
        )


def build_forms(database_url: str, vault: PasswordVault, tasks: RecordingTasks) -> RequestForms:
    """RequestForms as build_runtime wires it, with the bench's settings (one approval)."""
    engine = make_engine(normalize_database_url(database_url))
    upgrade_to_head(engine)
    settings = FlowSettings(
        approval_channel=APPROVAL_CHANNEL,
        required_approvals=1,
        approval_ttl=timedelta(hours=24),
        require_reason=False,
        approve_reaction=APPROVAL.approve_reaction,
        reject_reaction=APPROVAL.reject_reaction,
        slash_command=COMMAND,
    )
    directory = NoDirectory()
    return RequestForms(
        settings=settings,
        sessions=make_session_factory(engine),
        policy=AccessPolicy(
            requesters=Allowlist.parse([REQUESTER]),
            approvers=Allowlist.parse([APPROVER]),
            directory=directory,
        ),
        notifier=RenderingNotifier(),
        vault=vault,
        tasks=tasks,
        jobs_due=lambda: None,
    )


def sealed_submissions(vault: PasswordVault, count: int) -> list[str]:
    """What bench/payloads.py sends: a valid request, the password left empty (generated)."""
    sealed = []
    for index in range(count):
        typed = RequestInput(
            first_name="Bench", last_name="Load", email=f"load{index}@example.com", reason="Bench"
        )
        draft = Draft(user_id=REQUESTER, channel_id=ORIGIN_CHANNEL, raw=typed)
        sealed.append(seal_draft(draft, vault))
    return sealed


def timed(calls: list[Callable[[], object]]) -> tuple[list[float], float]:
    """Each call's wall time in µs, and the process CPU per call in ms."""
    wall_us = []
    cpu_started = time.process_time()
    for call in calls:
        started = time.perf_counter()
        call()
        wall_us.append((time.perf_counter() - started) * 1e6)
    return wall_us, (time.process_time() - cpu_started) * 1e3 / len(calls)


def run(backend: str, database_url: str, calls: int) -> list[Figures]:
    vault = PasswordVault(Fernet.generate_key())
    tasks = RecordingTasks()
    forms = build_forms(database_url, vault, tasks)
    warmup = [_confirmer(forms, sealed) for sealed in sealed_submissions(vault, WARMUP_CALLS)]
    timed(warmup)
    confirms = [_confirmer(forms, sealed) for sealed in sealed_submissions(vault, calls)]
    confirm_us, confirm_cpu = timed(confirms)
    if len(tasks.calls) != WARMUP_CALLS + calls:
        raise RuntimeError(f"{len(tasks.calls)} announces recorded")
    announces = [_recorded(task, args) for task, args in tasks.calls]
    timed(announces[:WARMUP_CALLS])
    announce_us, announce_cpu = timed(announces[WARMUP_CALLS:])
    forms._sessions.kw["bind"].dispose()
    return [
        Figures(backend, "confirm (before the ack)", confirm_us, confirm_cpu),
        Figures(backend, "announce (background, no Slack)", announce_us, announce_cpu),
    ]


def _confirmer(forms: RequestForms, sealed: str) -> Callable[[], object]:
    def confirm() -> object:
        result = forms.confirm(user_id=REQUESTER, sealed=sealed)
        if result.request_id is None:
            raise RuntimeError(f"nothing stored: {result}")
        return result

    return confirm


def _recorded(task: Callable[..., Any], args: tuple[Any, ...]) -> Callable[[], object]:
    return lambda: task(*args)


@contextmanager
def sqlite_file() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="zoombot-bench-") as directory:
        yield f"sqlite:///{Path(directory) / 'bench.db'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.submission_path", description=__doc__)
    parser.add_argument("-n", "--calls", type=int, default=2000, help="timed calls per backend")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    figures = []
    with sqlite_file() as url:
        figures += run("SQLite file", url, args.calls)
    if not args.no_postgres:
        with throwaway_postgres(postgres_admin_url()) as url:
            figures += run("PostgreSQL", url, args.calls)
    lines = [
        "| backend | step | calls | mean µs | p50 µs | p99 µs | CPU ms/call |",
        "|---|---|--:|--:|--:|--:|--:|",
        *(figure.line() for figure in figures),
    ]
    print("\n".join(lines))  # noqa: T201 - the table is the output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

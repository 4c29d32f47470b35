"""`python -m bench [--quick | --profile]`: start the fakes, a throwaway PostgreSQL database and
four gunicorn servers (the bot on SQLite and on PostgreSQL, each with its `python app.py worker`
process, and the bare Bolt app in two configs), measure, write bench/RESULTS.md (or
bench/PROFILE.md), and stop everything."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import platform
import shlex
import shutil
import signal
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from bench import identities as ids
from bench import payloads
from bench.audit import AuditReader, postgres_admin_url, throwaway_postgres
from bench.fakes import FakesProcess
from bench.loadgen import wrk_path
from bench.phases import (
    FULL,
    QUICK,
    Bench,
    Plan,
    Target,
    ack_matrix,
    create_pending,
    warm_up,
    zoom_phases,
)
from bench.report import Context, Report
from bench.servers import (
    BARE_APP,
    BOT_APP,
    PROJECT_ROOT,
    procfile_web_command,
    start_server,
    wait_ready,
)

logger = logging.getLogger("bench")

RESULTS = Path(__file__).with_name("RESULTS.md")
TARGET_KEYS = ("bot-sqlite", "bot-postgres", "bare-default", "bare-pbr")
WORKERS = 2  # the Procfile's --workers; readiness waits for this many
SLACK_POSTS_PER_SECOND = 50  # the setting's maximum (see bot_env)
# Only these of the caller's variables reach the servers: no stray zoombot setting leaks in.
PASSED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="one short round: a smoke run")
    mode.add_argument(
        "--profile", action="store_true", help="py-spy the bot at concurrency 10 → PROFILE.md"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    experiments = parser.add_argument_group("experiments (not for the reported run)")
    experiments.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=FACTORY",
        help="one more bot on PostgreSQL served by FACTORY, e.g. "
        "switch=bench.experiments:switch_interval()",
    )
    experiments.add_argument(
        "--targets", default=",".join(TARGET_KEYS), help="servers to run, comma-separated"
    )
    experiments.add_argument("--skip-zoom", action="store_true", help="only the ack matrix")
    experiments.add_argument("--rounds", type=int, help="rounds of the ack matrix")
    experiments.add_argument(
        "--concurrencies", help="the ack matrix's concurrencies, e.g. 1,10,50 (default 1,10)"
    )
    return parser.parse_args(argv)


def base_env() -> dict[str, str]:
    passed = {name: os.environ[name] for name in PASSED_VARIABLES if name in os.environ}
    return {**passed, "PYTHONPATH": str(PROJECT_ROOT)}


def bot_env(fakes: FakesProcess, *, database_url: str, work_dir: Path, key: str) -> dict[str, str]:
    """The settings the benchmark depends on; everything else keeps its default. The servers run
    in the work directory, so a developer's .env is not read."""
    return {
        **base_env(),
        "SLACK_BOT_TOKEN": ids.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": ids.SIGNING_SECRET,
        "SLACK_API_URL": fakes.slack_api_url,
        "ZOOM_ACCOUNT_ID": ids.ZOOM_ACCOUNT_ID,
        "ZOOM_CLIENT_ID": ids.ZOOM_CLIENT_ID,
        "ZOOM_CLIENT_SECRET": ids.ZOOM_CLIENT_SECRET,
        "ZOOM_API_URL": fakes.zoom_api_url,
        "ZOOM_OAUTH_URL": fakes.zoom_oauth_url,
        "ZOOM_TIMEOUT_SECONDS": "15",  # the default, stated: the slow-Zoom phase needs > 10 s
        "DATABASE_URL": database_url,
        "REQUESTER_ALLOWLIST": ids.REQUESTER,
        "APPROVER_ALLOWLIST": ids.APPROVER,
        "APPROVAL_CHANNEL": ids.APPROVAL_CHANNEL,
        "REQUIRED_APPROVALS": "1",
        "APPROVE_REACTION": ids.APPROVE_REACTION,
        "SLASH_COMMAND": ids.COMMAND,
        # The fake Slack does not enforce Slack's one post per second per channel; at the
        # default (1) the worker would post the hundreds of requests a submission run stores
        # one a second, and every drain and setup would wait minutes for it.
        "SLACK_POSTS_PER_SECOND": str(SLACK_POSTS_PER_SECOND),
        "PASSWORD_ENCRYPTION_KEY": key,
        "PASSWORD_KEY_FILE": str(work_dir / "unused.key"),
    }


def bare_env(fakes: FakesProcess, *, pbr: bool) -> dict[str, str]:
    return {
        **base_env(),
        "BENCH_SLACK_BOT_TOKEN": ids.BOT_TOKEN,
        "BENCH_SLACK_SIGNING_SECRET": ids.SIGNING_SECRET,
        "BENCH_SLACK_API_URL": fakes.slack_api_url,
        "BENCH_COMMAND": ids.COMMAND,
        "BENCH_BARE_PROCESS_BEFORE_RESPONSE": "1" if pbr else "0",
    }


def start_targets(
    stack: ExitStack,
    fakes: FakesProcess,
    *,
    postgres_url: str,
    work_dir: Path,
    keys: tuple[str, ...] = TARGET_KEYS,
    variants: tuple[str, ...] = (),
) -> list[Target]:
    key = payloads.ENCRYPTION_KEY  # the submissions' confirmation steps are sealed with it
    sqlite_url = f"sqlite:///{work_dir / 'zoombot.db'}"
    specs = [
        ("bot-sqlite", "bot, SQLite", BOT_APP, bot_env(fakes, database_url=sqlite_url,
                                                       work_dir=work_dir, key=key), sqlite_url),
        ("bot-postgres", "bot, PostgreSQL", BOT_APP,
         bot_env(fakes, database_url=postgres_url, work_dir=work_dir, key=key), postgres_url),
        ("bare-default", "bare Bolt, default", BARE_APP, bare_env(fakes, pbr=False), None),
        ("bare-pbr", "bare Bolt, pbr=True", BARE_APP, bare_env(fakes, pbr=True), None),
    ]  # fmt: skip
    for variant in variants:
        name, _, factory = variant.partition("=")
        env = bot_env(fakes, database_url=postgres_url, work_dir=work_dir, key=key)
        specs.append(
            (f"bot-postgres-{name}", f"bot, PostgreSQL, {name}", factory, env, postgres_url)
        )
        keys = (*keys, f"bot-postgres-{name}")
    targets = []
    for name, label, app_target, env, database_url in specs:
        if name not in keys:
            continue
        server = start_server(
            name,
            app_target=app_target,
            env=env,
            log_dir=work_dir,
            with_worker=database_url is not None,  # a bot: its `worker:` process beside it
        )
        stack.callback(server.stop)
        audit = AuditReader(database_url) if database_url else None
        if audit is not None:
            stack.callback(audit.close)
        targets.append(Target(key=name, label=label, server=server, audit=audit))
    for target in targets:  # all four boot at once; then each must be up and quiet
        wait_ready(target.server, workers=WORKERS)
        logger.info("%s ready on port %d", target.label, target.server.port)
    return targets


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return (
        f"nproc {len(os.sched_getaffinity(0))}, {model}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def loads() -> str:
    return "/".join(f"{load:.2f}" for load in os.getloadavg())


def describe(plan: Plan) -> str:
    return ", ".join(f"{name}={value}" for name, value in asdict(plan).items())


def measure_all(bench: Bench, *, started_loads: str, skip_zoom: bool = False) -> str:
    for bot in bench.bots:  # the request message the refused reactions and clicks point at
        bot.message = create_pending(bench, bot, 1)[0].message
    logger.info("warming up")
    warm_up(bench)
    logger.info("ack matrix: %d rounds", bench.plan.rounds)
    matrix = ack_matrix(bench)
    logger.info("approvals against the fake Zoom")
    approvals = [] if skip_zoom else zoom_phases(bench)
    notes = [
        "**load generator**: wrk 4 (`-t1 -cN --timeout 3s`, Slack's ack deadline), replaying "
        "requests presigned with the signing secret moments before each run; approvals: "
        "a threaded keep-alive Python client that signs each request as it sends it",
        "**fakes**: the sandbox's SlackEmulator and ZoomSimulator (sandbox/) in a "
        "separate process on 127.0.0.1",
        "**reaction_added** in the ack table is an approval reaction by a user on neither "
        "allowlist on a pending request's real approval message (`item_user` the bot user): "
        "the bot finds the request, refuses and records the refusal before the ack, each time, "
        "so it repeats; **approve click** is the same person's click on that message's Approve "
        "button (`approve_request`, value the request id). A first approval by an approver "
        "(the decision and its outbox rows, before the ack) is timed in the approval phases",
        "**servers**: each bot is gunicorn plus one `python app.py worker` process (the "
        "Procfile's `worker:` line) on the same database; `SLACK_POSTS_PER_SECOND="
        f"{SLACK_POSTS_PER_SECOND}` (the fake Slack has no per-channel post limit)",
    ]
    notes.extend(f"**warning**: {warning}" for warning in bench.warnings)
    context = Context(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=shlex.join(sys.orig_argv),
        machine=machine(),
        gunicorn=procfile_web_command().replace("0.0.0.0:${PORT:-3000}", "127.0.0.1:<free port>"),
        loads=f"at start {started_loads}, at end {loads()} (other work shares this machine)",
        plan=describe(bench.plan),
        notes=notes,
    )
    report = Report(
        targets=bench.targets,
        matrix=matrix,
        approvals=approvals,
        concurrencies=bench.plan.concurrencies,
    )
    return report.markdown(context)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C: servers stopped, database dropped.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    wrk_path()
    plan = QUICK if args.quick else FULL
    if args.rounds:
        plan = dataclasses.replace(plan, rounds=args.rounds)
    if args.concurrencies:
        levels = tuple(int(level) for level in args.concurrencies.split(","))
        plan = dataclasses.replace(plan, concurrencies=levels)
    started_loads = loads()
    work_dir = Path(tempfile.mkdtemp(prefix="zoombot-bench-"))
    logger.info("work directory %s", work_dir)
    succeeded = False
    try:
        with ExitStack() as stack:
            fakes = stack.enter_context(
                FakesProcess(project_root=PROJECT_ROOT, log_path=work_dir / "fakes.log")
            )
            postgres_url = stack.enter_context(throwaway_postgres(postgres_admin_url()))
            targets = start_targets(
                stack,
                fakes,
                postgres_url=postgres_url,
                work_dir=work_dir,
                keys=tuple(args.targets.split(",")),
                variants=tuple(args.variant),
            )
            bench = Bench(plan=plan, fakes=fakes, targets=targets, work_dir=work_dir)
            if args.profile:
                from bench.profile import profile  # noqa: PLC0415 - only this mode needs py-spy

                profile(bench)
            else:
                markdown = measure_all(bench, started_loads=started_loads, skip_zoom=args.skip_zoom)
                experiment = bool(args.variant) or args.targets != ",".join(TARGET_KEYS)
                results = work_dir / "RESULTS.md" if experiment else RESULTS
                results.write_text(markdown)
                print(markdown)  # noqa: T201 - the report is the output
                logger.info("wrote %s", results)
        succeeded = True
    finally:
        if succeeded and not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
        else:
            logger.info("logs kept in %s", work_dir)
    return 0

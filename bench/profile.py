"""`python -m bench --profile`: py-spy samples the gunicorn workers while wrk drives each request
at concurrency 10, and PROFILE.md says where the milliseconds of one request go.

Two views per request: *gil* (`--gil`: only the thread holding its worker's GIL, i.e. the
Python time a worker can spend on nothing else) and *wall* (`--idle`: every thread, also while
it waits for the GIL, a lock, the database or a socket). Sampling does not pause the workers
(`--nonblocking`). Stacks are split into the
request path (gunicorn's request threads), the web process's pool (`zoombot_N` threads: views.open
and the ephemeral answers after the ack), and the rest. The bot's `worker` process (outbox,
Zoom jobs) is not a gunicorn subprocess and is not sampled: nothing in it runs before an ack.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.loadgen import WrkResult
from bench.phases import SCENARIOS, Bench, Target, create_pending, measure

logger = logging.getLogger("bench")

PROFILE = Path(__file__).with_name("PROFILE.md")
RATE_HZ = 100
SECONDS = 8
CONCURRENCY = 10
ATTACH_SECONDS = 1.0
TOP_FRAMES = 22
TOP_PACKAGES = 12
# Frames on (nearly) every stack of a class say nothing about where its time goes.
WRAPPER_SHARE = 0.97


@dataclass
class StackClass:
    samples: int = 0
    inclusive: Counter[str] = field(default_factory=Counter)
    leaf: Counter[str] = field(default_factory=Counter)
    packages: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Profile:
    scenario: str
    target: str
    mode: str
    result: WrkResult
    classes: dict[str, StackClass]

    def ms_per_request(self, samples: int) -> float:
        return samples / RATE_HZ * 1000 / max(1, self.result.requests)


def py_spy() -> str:
    path = Path(sys.executable).with_name("py-spy")
    if not path.exists():
        raise SystemExit("bench: py-spy is not installed; `.venv/bin/pip install py-spy`")
    return str(path)


def classify(frames: list[str]) -> str:
    """gunicorn's gthread request threads come from a ThreadPoolExecutor with the default name;
    the web process's pool names its threads `zoombot_N`."""
    thread = next((frame for frame in frames if frame.startswith("thread (")), "")
    if "zoombot" in thread or any("bot/runtime/tasks.py" in frame for frame in frames):
        return "background"
    if any(".handle (gunicorn/workers/gthread.py" in frame for frame in frames):
        return "request"
    return "other"


def package_of(frame: str) -> str:
    path = frame.rpartition("(")[2].rstrip(")")
    head = path.split("/", 1)[0]
    return head.removesuffix(".py") if "/" in path or path.endswith(".py") else path


def analyse(raw_file: Path) -> dict[str, StackClass]:
    classes: dict[str, StackClass] = {}
    for line in raw_file.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        code = [f for f in frames if not f.startswith(("process ", "thread ("))]
        entry = classes.setdefault(classify(frames), StackClass())
        entry.samples += count
        for frame in set(code):
            entry.inclusive[frame] += count
        if code:
            entry.leaf[code[-1]] += count
            entry.packages[package_of(code[-1])] += count
    return classes


def record(bench: Bench, target: Target, scenario: str, *, idle: bool) -> Profile:
    raw_file = bench.work_dir / f"{target.key}-{scenario.replace(' ', '_')}-{idle}.txt"
    argv = [py_spy(), "record", "--pid", str(target.server.process.pid), "--subprocesses"]
    argv += ["--threads", "--nolineno", "--nonblocking", "--format", "raw", "--rate", str(RATE_HZ)]
    argv += ["--output", str(raw_file), "--idle" if idle else "--gil"]
    log = (bench.work_dir / "py-spy.log").open("ab")
    spy = subprocess.Popen(argv, stdout=log, stderr=log)  # noqa: S603 - fixed argv
    try:
        time.sleep(ATTACH_SECONDS)
        # measure() waits until the servers are idle: the pool's work after these requests'
        # acks is inside the sample too.
        result = measure(bench, scenario, target, concurrency=CONCURRENCY, seconds=SECONDS).result
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(timeout=10)
        log.close()
    mode = "wall" if idle else "gil"
    return Profile(scenario, target.label, mode, result, analyse(raw_file))


def _frame_rows(profile: Profile, name: str) -> list[str]:
    entry = profile.classes.get(name, StackClass())
    rows = [
        "| ms/request | share | frame (inclusive) |",
        "|--:|--:|---|",
    ]
    shown = 0
    for frame, samples in entry.inclusive.most_common():
        if samples >= WRAPPER_SHARE * entry.samples:
            continue
        rows.append(
            f"| {profile.ms_per_request(samples):.3f} | {samples / entry.samples:.0%} | `{frame}` |"
        )
        shown += 1
        if shown == TOP_FRAMES:
            break
    packages = ", ".join(
        f"{package} {profile.ms_per_request(samples):.3f}"
        for package, samples in entry.packages.most_common(TOP_PACKAGES)
    )
    return [*rows, "", f"Self time by package (ms/request): {packages}", ""]


def markdown(profiles: list[Profile], command: str) -> str:
    lines = [
        "# zoombot profile",
        "",
        f"- **date**: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **command**: `{command}`",
        f"- py-spy {RATE_HZ} Hz on both gunicorn workers; wrk, concurrency {CONCURRENCY}, "
        f"{SECONDS} s per request type; ms/request = samples ÷ rate ÷ acked requests "
        "(the web pool's work after those acks included: sampling stops once the servers idle; "
        "the bot's worker process is not sampled)",
        "",
        "| request | server | view | req/s | p99 ms | request threads ms/req | web pool ms/req "
        "| other ms/req |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for profile in profiles:
        per = {
            name: profile.ms_per_request(profile.classes.get(name, StackClass()).samples)
            for name in ("request", "background", "other")
        }
        lines.append(
            f"| {profile.scenario} | {profile.target} | {profile.mode} "
            f"| {profile.result.requests_per_second:.0f} | {profile.result.p99_ms:.1f} "
            f"| {per['request']:.2f} | {per['background']:.2f} | {per['other']:.2f} |"
        )
    for profile in profiles:
        for name in ("request", "background"):
            if name == "background" and profile.target.startswith("bare"):
                continue
            lines += [
                "",
                f"## {profile.scenario} — {profile.target} — {profile.mode} — {name} path",
                "",
                *_frame_rows(profile, name),
            ]
    return "\n".join(lines)


def profile(bench: Bench) -> None:
    by_key = {target.key: target for target in bench.targets}
    bot, bare = by_key["bot-postgres"], by_key["bare-pbr"]
    for target in bench.bots:  # the request message the refused reactions and clicks point at
        target.message = create_pending(bench, target, 1)[0].message
    profiles = []
    for scenario in SCENARIOS:
        for target in (bot, bare):  # warm up
            measure(bench, scenario, target, concurrency=CONCURRENCY, seconds=2)
        for target, idle in ((bot, False), (bot, True), (bare, False)):
            logger.info(
                "profiling %s on %s (%s)", scenario, target.label, "wall" if idle else "cpu"
            )
            profiles.append(record(bench, target, scenario, idle=idle))
    text = markdown(profiles, " ".join(sys.orig_argv))
    PROFILE.write_text(text)
    print(text)  # noqa: T201 - the report is the output
    logger.info("wrote %s", PROFILE)

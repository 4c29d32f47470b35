"""What the benchmark measures: the ack matrix (four requests × the concurrencies × four servers,
interleaved in rounds) and the approval phases against a fake Zoom."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import payloads
from bench.audit import AuditReader, Posted
from bench.fakes import FakesProcess
from bench.identities import APPROVAL_CHANNEL, APPROVER
from bench.loadgen import Job, Outcome, WrkResult, run_wrk, send_jobs
from bench.payloads import Body, Message
from bench.servers import CLOCK_TICKS_PER_SECOND, Server, cpu_ticks, wait_idle

logger = logging.getLogger("bench")

SCENARIOS = ("slash command", "modal submission", "reaction_added", "approve click")
# The fake Slack call each request leads to after its ack, once per request: views.open and the
# ephemerals leave from the web process's small pool, the requester's DM from the worker's
# outbox (after the post).
FOLLOW_UP_CALL = {
    "slash command": "views.open",
    "modal submission": "conversations.open",  # the requester's DM after the post
    "reaction_added": "chat.postEphemeral",  # "you can't decide request #n" to the outsider
    "approve click": "chat.postEphemeral",  # the same refusal, for the button
}
# Every event must have its own event_id (the bot drops redeliveries), so reaction files hold
# more requests than any run can send; slash commands and submissions may repeat.
UNIQUE_PER_SECOND = 5000
REPEATABLE_PER_FILE = 2000
SETUP_CONCURRENCY = 10
POSTED_TIMEOUT_SECONDS = 180.0
DRAIN_TIMEOUT_SECONDS = 120.0
SLASH_PROBES = 5
ZOOM_TIMEOUT_SECONDS = 180.0
STALL_SECONDS = 30.0


@dataclass(frozen=True)
class Plan:
    rounds: int
    seconds_per_run: int
    warmup_seconds: int
    concurrencies: tuple[int, ...]
    paced_approvals: int
    paced_rate_per_second: float
    slow_slack_approvals: int
    burst_approvals: int
    burst_concurrency: int
    slow_zoom_approvals: int
    slow_zoom_rounds: tuple[str, ...]  # "fast"/"slow", ABBA so that drift cancels
    zoom_answer_seconds: float = 0.3
    slow_zoom_answer_seconds: float = 10.0
    slow_slack_seconds: float = 0.1


QUICK = Plan(
    rounds=1,
    seconds_per_run=2,
    warmup_seconds=1,
    concurrencies=(1, 10),
    paced_approvals=20,
    paced_rate_per_second=10.0,
    slow_slack_approvals=10,
    burst_approvals=60,
    burst_concurrency=10,
    slow_zoom_approvals=60,
    slow_zoom_rounds=("fast", "slow"),
)
FULL = Plan(
    rounds=3,
    seconds_per_run=5,
    warmup_seconds=2,
    concurrencies=(1, 10),  # 50 on request: --concurrencies 1,10,50
    paced_approvals=60,
    paced_rate_per_second=10.0,
    slow_slack_approvals=30,
    burst_approvals=300,
    burst_concurrency=10,
    slow_zoom_approvals=150,
    slow_zoom_rounds=("fast", "slow", "slow", "fast"),
)


@dataclass
class Target:
    key: str
    label: str
    server: Server
    audit: AuditReader | None = None  # bots only
    # Where refused approval reactions and clicks point: a real posted request for a bot.
    message: Message = field(default_factory=lambda: Message(APPROVAL_CHANNEL, "1.000100", 1))

    @property
    def is_bot(self) -> bool:
        return self.audit is not None


@dataclass
class Bench:
    plan: Plan
    fakes: FakesProcess
    targets: list[Target]
    work_dir: Path
    warnings: list[str] = field(default_factory=list)
    _tags: int = 0

    @property
    def bots(self) -> list[Target]:
        return [target for target in self.targets if target.is_bot]

    def drain(self, what: str) -> None:
        """Wait until every server is idle, so no run pays for the previous run's backlog."""
        if not wait_idle([t.server for t in self.targets], timeout_seconds=DRAIN_TIMEOUT_SECONDS):
            self.warnings.append(f"servers still busy {DRAIN_TIMEOUT_SECONDS:.0f} s after {what}")
            logger.warning("servers still busy after %s", what)
        self.fakes.command("forget_calls")

    def tag(self, prefix: str) -> str:
        self._tags += 1
        return f"{prefix}{self._tags}"


# -- the ack matrix ------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixRun:
    scenario: str
    concurrency: int
    target: str
    round: int
    result: WrkResult
    background_calls: int | None  # bots: the scenario's follow-up Slack calls made
    server_cpu_seconds: float  # gunicorn master and workers (+ the bot's worker), run and drain
    fakes_cpu_seconds: float  # fake Slack and Zoom answering the server's calls


def body_factory(bench: Bench, scenario: str, target: Target) -> Callable[[int], Body]:
    if scenario == "slash command":
        return payloads.slash_command
    if scenario == "modal submission":
        tag = bench.tag("load")
        return lambda index: payloads.submission(f"{tag}-{index}@example.com")
    if scenario == "approve click":
        return lambda _index: payloads.refused_click(target.message)
    return lambda _index: payloads.refused_approval(target.message)


@dataclass(frozen=True)
class Measurement:
    result: WrkResult
    background_calls: int | None
    server_cpu_seconds: float
    fakes_cpu_seconds: float


def measure(
    bench: Bench, scenario: str, target: Target, *, concurrency: int, seconds: int
) -> Measurement:
    count = UNIQUE_PER_SECOND * seconds if scenario == "reaction_added" else REPEATABLE_PER_FILE
    requests_file = payloads.write_presigned(
        bench.work_dir / "requests.tsv", body_factory(bench, scenario, target), count
    )
    before = bench.fakes.slack_counts()
    server_ticks, fakes_ticks = target.server.cpu_ticks(), cpu_ticks(bench.fakes.pid)
    result = run_wrk(
        target.server.events_url, requests_file, concurrency=concurrency, seconds=seconds
    )
    bench.drain(f"{scenario} c={concurrency} on {target.label}")
    if scenario == "reaction_added" and target.is_bot and result.requests > count:
        bench.warnings.append(f"{target.label} got {result.requests} events for {count} event ids")
    calls = None
    if target.is_bot:
        method = FOLLOW_UP_CALL[scenario]
        calls = bench.fakes.slack_counts()[method] - before[method]
    return Measurement(
        result=result,
        background_calls=calls,
        server_cpu_seconds=(target.server.cpu_ticks() - server_ticks) / CLOCK_TICKS_PER_SECOND,
        fakes_cpu_seconds=(cpu_ticks(bench.fakes.pid) - fakes_ticks) / CLOCK_TICKS_PER_SECOND,
    )


def warm_up(bench: Bench) -> None:
    for scenario in SCENARIOS:
        for target in bench.targets:
            measure(bench, scenario, target, concurrency=10, seconds=bench.plan.warmup_seconds)


def ack_matrix(bench: Bench) -> list[MatrixRun]:
    """Every cell once per round; within a cell the servers take turns in a rotating order, so
    each meets the machine's noise at every position."""
    runs = []
    cells = [(s, c) for s in SCENARIOS for c in bench.plan.concurrencies]
    for round_number in range(1, bench.plan.rounds + 1):
        for cell_number, (scenario, concurrency) in enumerate(cells):
            shift = (round_number + cell_number) % len(bench.targets)
            for target in bench.targets[shift:] + bench.targets[:shift]:
                measured = measure(
                    bench,
                    scenario,
                    target,
                    concurrency=concurrency,
                    seconds=bench.plan.seconds_per_run,
                )
                logger.info(
                    "round %d %-16s c=%-2d %-28s %7.1f req/s p99 %7.2f ms errors %d",
                    round_number,
                    scenario,
                    concurrency,
                    target.label,
                    measured.result.requests_per_second,
                    measured.result.p99_ms,
                    measured.result.error_count,
                )
                runs.append(
                    MatrixRun(
                        scenario,
                        concurrency,
                        target.key,
                        round_number,
                        measured.result,
                        measured.background_calls,
                        measured.server_cpu_seconds,
                        measured.fakes_cpu_seconds,
                    )
                )
    return runs


# -- approvals against the fake Zoom -------------------------------------------------------


@dataclass(frozen=True)
class ApprovalRun:
    phase: str
    target: str
    zoom_answer_seconds: float
    slack_latency_seconds: float
    concurrency: int
    rate_per_second: float | None
    outcomes: list[Outcome]
    sent_at: dict[int, float]  # request id → when its approval was sent
    zoom_received_at: dict[int, float]  # request id → when fake Zoom got POST /v2/accounts
    zoom_called_at: dict[int, float]  # request id → the `zoom_called` event's `at`
    # Slash commands sent right after the approvals: ms from sending one to its views.open.
    slash_to_modal_ms: list[float] = field(default_factory=list)
    # request id → seconds its Zoom calls waited for rate-limit slots (the bot records them)
    rate_limit_wait_seconds: dict[int, float] = field(default_factory=dict)

    @property
    def to_zoom_ms(self) -> list[float]:
        return [
            (self.zoom_received_at[key] - sent) * 1000
            for key, sent in self.sent_at.items()
            if key in self.zoom_received_at
        ]

    @property
    def to_zoom_excluding_waits_ms(self) -> list[float]:
        """→ Zoom less the time the bot waited for rate-limit slots: the bot's own latency."""
        return [
            (self.zoom_received_at[key] - sent - self.rate_limit_wait_seconds.get(key, 0.0)) * 1000
            for key, sent in self.sent_at.items()
            if key in self.zoom_received_at
        ]

    @property
    def to_zoom_called_ms(self) -> list[float]:
        return [
            (self.zoom_called_at[key] - sent) * 1000
            for key, sent in self.sent_at.items()
            if key in self.zoom_called_at
        ]

    @property
    def reached_per_second(self) -> float:
        if not self.zoom_received_at or not self.sent_at:
            return 0.0
        span = max(self.zoom_received_at.values()) - min(self.sent_at.values())
        return len(self.zoom_received_at) / span if span > 0 else 0.0


def create_pending(bench: Bench, target: Target, count: int) -> list[Posted]:
    """Submit `count` valid requests through the bot and wait until each is posted."""
    if target.audit is None:
        raise ValueError("only a bot stores requests")
    tag = bench.tag("pending")
    emails = [f"{tag}-{index}@example.com" for index in range(count)]
    jobs = [Job(email, payloads.submission(email)) for email in emails]
    send_jobs(target.server.events_url, jobs, concurrency=SETUP_CONCURRENCY)
    deadline = time.monotonic() + POSTED_TIMEOUT_SECONDS
    posted = target.audit.posted(emails)
    while len(posted) < count and time.monotonic() < deadline:
        time.sleep(0.25)
        posted = target.audit.posted(emails)
    if len(posted) < count:
        raise RuntimeError(f"only {len(posted)} of {count} requests were posted on {target.label}")
    bench.drain(f"setup of {count} requests on {target.label}")
    return posted


def approve(
    bench: Bench,
    target: Target,
    *,
    phase: str,
    count: int,
    concurrency: int,
    rate_per_second: float | None = None,
    zoom_answer_seconds: float,
    slack_latency_seconds: float = 0.0,
    slash_probes: int = 0,
) -> ApprovalRun:
    """Approve `count` fresh requests (one approval each, by an approver) and time how long each
    takes to reach the fake Zoom."""
    posted = create_pending(bench, target, count)
    emails = {item.request_id: item.email for item in posted}
    jobs = [
        Job(str(item.request_id), payloads.reaction(user_id=APPROVER, message=item.message))
        for item in posted
    ]
    bench.fakes.set_zoom_delay(zoom_answer_seconds)
    bench.fakes.set_slack_latency(slack_latency_seconds)
    try:
        outcomes = send_jobs(
            target.server.events_url,
            jobs,
            concurrency=concurrency,
            rate_per_second=rate_per_second,
        )
    finally:
        # Acks are measured: later Zoom answers come fast, so the queue drains in bounded time.
        bench.fakes.set_zoom_delay(0.0)
    probes = [f"{bench.tag('probe')}-trigger" for _ in range(slash_probes)]
    probe_sent = {
        outcome.key: outcome.sent_at
        for outcome in send_jobs(
            target.server.events_url,
            [Job(trigger, payloads.slash_command_with_trigger(trigger)) for trigger in probes],
            concurrency=1,
        )
    }
    audit = target.audit
    assert audit is not None
    receipts: dict[str, float] = {}
    opened: dict[str, float] = {}

    def progress() -> tuple[int, int, int]:
        # Every approval reached Zoom and was reported, and every probe opened its modal;
        # idle CPU alone is not enough while calls sleep on a slow fake.
        receipts.update(bench.fakes.zoom_receipts(list(emails.values())))
        opened.update(bench.fakes.views_opened(probes) if probes else {})
        return len(receipts), len(opened), audit.count_events_for("notified", list(emails))

    if not _wait_for(progress, (count, len(probes), count)):
        bench.warnings.append(
            f"{phase} on {target.label}: {len(receipts)} of {count} approvals reached Zoom, "
            f"{len(opened)} of {len(probes)} modals opened"
        )
    bench.fakes.set_slack_latency(0.0)
    bench.drain(f"{phase} on {target.label}")
    by_email = {email: request_id for request_id, email in emails.items()}
    return ApprovalRun(
        phase=phase,
        target=target.key,
        zoom_answer_seconds=zoom_answer_seconds,
        slack_latency_seconds=slack_latency_seconds,
        concurrency=concurrency,
        rate_per_second=rate_per_second,
        outcomes=outcomes,
        sent_at={int(outcome.key): outcome.sent_at for outcome in outcomes},
        zoom_received_at={by_email[email]: at for email, at in receipts.items()},
        zoom_called_at=audit.zoom_called_at(list(emails)),
        rate_limit_wait_seconds=audit.rate_limit_waits(list(emails)),
        slash_to_modal_ms=[
            (opened[trigger] - sent) * 1000
            for trigger, sent in probe_sent.items()
            if trigger in opened
        ],
    )


def _wait_for(
    progress: Callable[[], tuple[int, ...]],
    goal: tuple[int, ...],
    *,
    stall_seconds: float = STALL_SECONDS,
    timeout_seconds: float = ZOOM_TIMEOUT_SECONDS,
) -> bool:
    """Until `progress()` reaches `goal`; False once it has not moved for `stall_seconds` (a
    slow Zoom answers within 10 s) or after `timeout_seconds`."""
    deadline = time.monotonic() + timeout_seconds
    seen, moved_at = progress(), time.monotonic()
    while seen != goal:
        now = time.monotonic()
        if now > deadline or now - moved_at > stall_seconds:
            return False
        time.sleep(0.25)
        latest = progress()
        if latest != seen:
            seen, moved_at = latest, time.monotonic()
    return True


class ZoomUnreachedError(RuntimeError):
    """No approval reached the fake Zoom: the remaining phases would only wait."""


def checked(run: ApprovalRun) -> ApprovalRun:
    if not run.zoom_received_at:
        raise ZoomUnreachedError(f"no approval reached Zoom in {run.phase} on {run.target}")
    return run


def zoom_phases(bench: Bench) -> list[ApprovalRun]:
    """Every phase on every bot; stops early (with a warning) if nothing reaches Zoom."""
    runs: list[ApprovalRun] = []
    try:
        _zoom_phases(bench, runs)
    except ZoomUnreachedError as exc:
        bench.warnings.append(f"{exc}; the remaining approval phases were skipped")
    return runs


def _zoom_phases(bench: Bench, runs: list[ApprovalRun]) -> None:
    plan = bench.plan
    zoom = plan.zoom_answer_seconds
    for target in bench.bots:
        runs += [
            checked(
                approve(
                    bench,
                    target,
                    phase="paced",
                    count=plan.paced_approvals,
                    concurrency=4,
                    rate_per_second=plan.paced_rate_per_second,
                    zoom_answer_seconds=zoom,
                )
            ),
            checked(
                approve(
                    bench,
                    target,
                    phase="paced, slow Slack",
                    count=plan.slow_slack_approvals,
                    concurrency=4,
                    rate_per_second=plan.paced_rate_per_second,
                    zoom_answer_seconds=zoom,
                    slack_latency_seconds=plan.slow_slack_seconds,
                )
            ),
            checked(
                approve(
                    bench,
                    target,
                    phase="burst",
                    count=plan.burst_approvals,
                    concurrency=plan.burst_concurrency,
                    zoom_answer_seconds=zoom,
                )
            ),
        ]
    for condition in plan.slow_zoom_rounds:
        for target in bench.bots:
            seconds = plan.slow_zoom_answer_seconds if condition == "slow" else 0.0
            run = approve(
                bench,
                target,
                phase=f"zoom {condition}",
                count=plan.slow_zoom_approvals,
                concurrency=10,
                zoom_answer_seconds=seconds,
                slash_probes=SLASH_PROBES,
            )
            runs.append(checked(run))

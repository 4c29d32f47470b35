"""RESULTS.md: the machine, the command, the targets with their verdicts and the tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.phases import SCENARIOS, ApprovalRun, MatrixRun, Target
from bench.stats import median, percentile, ratio

P99_LIMIT = 1.3
THROUGHPUT_FLOOR = 0.7
TARGET_CONCURRENCIES = (1, 10)  # the targets hold there; other concurrencies are shown only
SLOW_ZOOM_LIMIT = 1.1
TO_ZOOM_P99_LIMIT_MS = 50.0


@dataclass(frozen=True)
class Cell:
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    background: float | None  # bots: follow-up Slack calls made per acked request
    server_cpu_ms: float  # per acked request, the worker process's work included
    fakes_cpu_ms: float


@dataclass(frozen=True)
class Context:
    date: str
    command: str
    machine: str
    gunicorn: str
    loads: str
    plan: str
    notes: list[str]


def aggregate(runs: Sequence[MatrixRun]) -> Cell:
    """Throughput over all rounds; each percentile the median of the rounds' values."""
    requests = sum(run.result.requests for run in runs)
    seconds = sum(run.result.duration_seconds for run in runs)
    calls = [run.background_calls for run in runs]
    background = None
    if requests and all(call is not None for call in calls):
        background = sum(call or 0 for call in calls) / requests
    return Cell(
        requests_per_second=requests / seconds if seconds else math.nan,
        p50_ms=median([run.result.p50_ms for run in runs]),
        p95_ms=median([run.result.p95_ms for run in runs]),
        p99_ms=median([run.result.p99_ms for run in runs]),
        errors=sum(run.result.error_count for run in runs),
        background=background,
        server_cpu_ms=ratio(sum(run.server_cpu_seconds for run in runs) * 1000, requests),
        fakes_cpu_ms=ratio(sum(run.fakes_cpu_seconds for run in runs) * 1000, requests),
    )


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _x(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.2f}×"


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0%}"


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


class Report:
    def __init__(
        self,
        *,
        targets: list[Target],
        matrix: list[MatrixRun],
        approvals: list[ApprovalRun],
        concurrencies: Sequence[int],
    ) -> None:
        self.targets = targets
        self.approvals = approvals
        self.concurrencies = concurrencies
        self.target_concurrencies = [c for c in concurrencies if c in TARGET_CONCURRENCIES]
        self.cells = {
            (scenario, concurrency, target.key): aggregate(
                [
                    run
                    for run in matrix
                    if (run.scenario, run.concurrency, run.target)
                    == (scenario, concurrency, target.key)
                ]
            )
            for scenario in SCENARIOS
            for concurrency in concurrencies
            for target in targets
        }

    # -- comparisons ------------------------------------------------------------------------

    def _bare(self, scenario: str, concurrency: int) -> list[Cell]:
        return [
            self.cells[(scenario, concurrency, target.key)]
            for target in self.targets
            if not target.is_bot
        ]

    def p99_ratio(self, scenario: str, concurrency: int, key: str) -> float:
        best = min((cell.p99_ms for cell in self._bare(scenario, concurrency)), default=math.nan)
        return ratio(self.cells[(scenario, concurrency, key)].p99_ms, best)

    def throughput_ratio(self, scenario: str, concurrency: int, key: str) -> float:
        best = max(
            (cell.requests_per_second for cell in self._bare(scenario, concurrency)),
            default=math.nan,
        )
        return ratio(self.cells[(scenario, concurrency, key)].requests_per_second, best)

    def _worst(self, key: str, measure: str) -> tuple[float, str]:
        values = []
        for scenario in SCENARIOS:
            for concurrency in self.target_concurrencies:
                if measure == "p99":
                    value = self.p99_ratio(scenario, concurrency, key)
                else:
                    value = -self.throughput_ratio(scenario, concurrency, key)
                values.append((value, f"{scenario}, c={concurrency}"))
        value, where = max(values, key=lambda item: -math.inf if math.isnan(item[0]) else item[0])
        return (value if measure == "p99" else -value), where

    def _approvals(self, phase: str, key: str) -> list[ApprovalRun]:
        return [run for run in self.approvals if run.phase == phase and run.target == key]

    def _ack_ms(self, phase: str, key: str) -> list[float]:
        return [
            outcome.latency_seconds * 1000
            for run in self._approvals(phase, key)
            for outcome in run.outcomes
        ]

    # -- markdown ---------------------------------------------------------------------------

    def targets_table(self) -> list[str]:
        lines = [
            "| target | server | measured | verdict |",
            "|---|---|---|---|",
        ]
        bots = [target for target in self.targets if target.is_bot]
        for bot in bots:
            worst, where = self._worst(bot.key, "p99")
            lines.append(
                f"| p99 ack ≤ {P99_LIMIT}× bare Bolt (faster config), every cell at c=1 and 10 "
                f"| {bot.label} | "
                f"worst {_x(worst)} ({where}) | {_verdict(worst <= P99_LIMIT)} |"
            )
        for bot in bots:
            worst, where = self._worst(bot.key, "throughput")
            verdict = _verdict(worst >= THROUGHPUT_FLOOR)
            lines.append(
                f"| req/s ≥ {THROUGHPUT_FLOOR:.0%} of bare Bolt (faster config), every cell at "
                f"c=1 and 10 | {bot.label} | worst {_pct(worst)} ({where}) "
                f"| {verdict} |"
            )
        for bot in bots:
            errors = sum(
                self.cells[(s, c, bot.key)].errors for s in SCENARIOS for c in self.concurrencies
            )
            errors += sum(
                1
                for run in self.approvals
                if run.target == bot.key
                for outcome in run.outcomes
                if outcome.status != 200
            )
            lines.append(f"| 0 errors | {bot.label} | {errors} | {_verdict(errors == 0)} |")
        for bot in bots:
            slow = percentile(self._ack_ms("zoom slow", bot.key), 99)
            fast = percentile(self._ack_ms("zoom fast", bot.key), 99)
            change = ratio(slow, fast)
            lines.append(
                f"| ack p99 with Zoom answering in 10 s within {SLOW_ZOOM_LIMIT - 1:.0%} of fast "
                f"| {bot.label} | {_ms(slow)} ms vs {_ms(fast)} ms ({_x(change)}) "
                f"| {_verdict(change <= SLOW_ZOOM_LIMIT)} |"
            )
        for bot in bots:
            delays = [
                ms
                for run in self._approvals("paced", bot.key)
                for ms in run.to_zoom_excluding_waits_ms
            ]
            p99 = percentile(delays, 99)
            lines.append(
                f"| approval → Zoom call p99 < {TO_ZOOM_P99_LIMIT_MS:.0f} ms (paced, rate-limit "
                f"waits excluded) | {bot.label} | {_ms(p99)} ms | "
                f"{_verdict(p99 < TO_ZOOM_P99_LIMIT_MS)} |"
            )
        return lines

    def matrix_table(self) -> list[str]:
        lines = [
            "| request | conc. | server | req/s | p50 ms | p95 ms | p99 ms | errors "
            "| p99 ÷ bare best | req/s ÷ bare best | follow-up done | server CPU ms/req "
            "| fakes CPU ms/req |",
            "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for scenario in SCENARIOS:
            for concurrency in self.concurrencies:
                for target in self.targets:
                    cell = self.cells[(scenario, concurrency, target.key)]
                    p99_x = throughput = background = ""
                    if target.is_bot:
                        p99_x = _x(self.p99_ratio(scenario, concurrency, target.key))
                        throughput = _pct(self.throughput_ratio(scenario, concurrency, target.key))
                        background = _pct(cell.background or math.nan)
                    lines.append(
                        f"| {scenario} | {concurrency} | {target.label} "
                        f"| {cell.requests_per_second:.0f} | {_ms(cell.p50_ms)} "
                        f"| {_ms(cell.p95_ms)} | {_ms(cell.p99_ms)} | {cell.errors} "
                        f"| {p99_x} | {throughput} | {background} | {_ms(cell.server_cpu_ms)} "
                        f"| {_ms(cell.fakes_cpu_ms)} |"
                    )
        return lines

    def comparison_table(self) -> list[str]:
        """Each bot cell next to the faster bare config's (the lower p99, the higher req/s,
        possibly from different configs), with the targets' verdicts at c=1 and 10."""
        lines = [
            "| request | conc. | database | bot p99 ms | bare p99 ms | ratio | bot req/s "
            "| bare req/s | % | targets |",
            "|---|--:|---|--:|--:|--:|--:|--:|--:|---|",
        ]
        for scenario in SCENARIOS:
            for concurrency in self.concurrencies:
                bare = self._bare(scenario, concurrency)
                bare_p99 = min((cell.p99_ms for cell in bare), default=math.nan)
                bare_rps = max((cell.requests_per_second for cell in bare), default=math.nan)
                for target in self.targets:
                    if not target.is_bot:
                        continue
                    cell = self.cells[(scenario, concurrency, target.key)]
                    p99_x = self.p99_ratio(scenario, concurrency, target.key)
                    share = self.throughput_ratio(scenario, concurrency, target.key)
                    verdict = ""
                    if concurrency in TARGET_CONCURRENCIES:
                        met = p99_x <= P99_LIMIT and share >= THROUGHPUT_FLOOR
                        verdict = "met" if met else "missed"
                    database = target.label.removeprefix("bot, ")
                    lines.append(
                        f"| {scenario} | {concurrency} | {database} | {_ms(cell.p99_ms)} "
                        f"| {_ms(bare_p99)} | {_x(p99_x)} | {cell.requests_per_second:.0f} "
                        f"| {bare_rps:.0f} | {_pct(share)} | {verdict} |"
                    )
        return lines

    def approvals_table(self) -> list[str]:
        lines = [
            "| phase | server | Zoom answers in | Slack answers in | approvals (conc.) "
            "| ack p50 / p99 ms | errors | → Zoom p50 / p95 / p99 ms "
            "| → Zoom p99 excl. rate-limit wait ms | → `zoom_called` p99 ms "
            "| reached Zoom | reached Zoom per s | slash → views.open p50 / max ms |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for run_group in self._groups():
            first = run_group[0]
            label = next(t.label for t in self.targets if t.key == first.target)
            acks = [o.latency_seconds * 1000 for run in run_group for o in run.outcomes]
            to_zoom = [ms for run in run_group for ms in run.to_zoom_ms]
            own = [ms for run in run_group for ms in run.to_zoom_excluding_waits_ms]
            to_called = [ms for run in run_group for ms in run.to_zoom_called_ms]
            errors = sum(1 for run in run_group for o in run.outcomes if o.status != 200)
            sent = sum(len(run.sent_at) for run in run_group)
            reached = sum(len(run.zoom_received_at) for run in run_group)
            pace = f" at {first.rate_per_second:.0f}/s" if first.rate_per_second else ""
            throughput = median([run.reached_per_second for run in run_group])
            probes = [ms for run in run_group for ms in run.slash_to_modal_ms]
            probe = f"{_ms(percentile(probes, 50))} / {_ms(max(probes))}" if probes else ""
            lines.append(
                f"| {first.phase} | {label} | {first.zoom_answer_seconds * 1000:.0f} ms "
                f"| {first.slack_latency_seconds * 1000:.0f} ms "
                f"| {sent} ({first.concurrency}{pace}) "
                f"| {_ms(percentile(acks, 50))} / {_ms(percentile(acks, 99))} | {errors} "
                f"| {_ms(percentile(to_zoom, 50))} / {_ms(percentile(to_zoom, 95))} / "
                f"{_ms(percentile(to_zoom, 99))} | {_ms(percentile(own, 99))} "
                f"| {_ms(percentile(to_called, 99))} "
                f"| {reached}/{sent} | {throughput:.1f} | {probe} |"
            )
        return lines

    def _groups(self) -> list[list[ApprovalRun]]:
        groups: dict[tuple[str, str], list[ApprovalRun]] = {}
        for run in self.approvals:
            groups.setdefault((run.phase, run.target), []).append(run)
        return list(groups.values())

    def markdown(self, context: Context) -> str:
        lines = [
            "# zoombot benchmark results",
            "",
            f"- **date**: {context.date}",
            f"- **machine**: {context.machine}",
            f"- **command**: `{context.command}`",
            f"- **servers**: the Procfile's web line, bound to 127.0.0.1: `{context.gunicorn}`",
            f"- **load average** (1/5/15 min) {context.loads}",
            f"- **plan**: {context.plan}",
            *[f"- {note}" for note in context.notes],
            "",
            "## Targets",
            "",
            *self.targets_table(),
            "",
            "## Ack latency and throughput (wrk, closed loop, keep-alive)",
            "",
            "Ratios compare each bot with the faster bare Bolt config of the same cell (lower "
            "p99, higher req/s). *follow-up done*: the Slack call each request leads to after "
            "its ack (views.open and the ephemeral refusals from the web process's pool, the "
            "requester's DM from the worker's outbox) per acked request (over 100% when wrk "
            "stopped with requests in flight). *CPU ms/req*: CPU time of the server's processes "
            "(gunicorn's master and workers and, for a bot, its `worker` process) and of the "
            "fakes, per acked request.",
            "",
            *self.matrix_table(),
            "",
            "### Bots against bare Bolt",
            "",
            f"The faster bare config's p99 and req/s per cell; targets (reported, not asserted): "
            f"p99 ≤ {P99_LIMIT}× and req/s ≥ {THROUGHPUT_FLOOR:.0%} at concurrency "
            f"{' and '.join(str(c) for c in TARGET_CONCURRENCIES)}.",
            "",
            *self.comparison_table(),
            "",
            "## Approvals against the fake Zoom",
            "",
            "→ Zoom: from sending the approval reaction to fake Zoom receiving POST /v2/accounts; "
            "*excl. rate-limit wait*: less the time the bot recorded waiting for its shared "
            "rate-limit slots (`rate_limit_wait_ms`), the target's measure. "
            "*paced*: approvals sent open loop at a fixed rate; *burst*: as fast as acks allow; "
            "*zoom slow/fast*: Zoom answering in 10 s vs at once (ack comparison); right after "
            "those approvals, a few slash commands are sent and timed to their views.open (a "
            "trigger_id expires after 3 s).",
            "",
            *self.approvals_table(),
            "",
        ]
        return "\n".join(lines)

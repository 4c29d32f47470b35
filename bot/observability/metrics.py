"""GET /metrics: what the audit log and the outbox say, read from the database on each scrape so
every process (web, worker, each gunicorn worker) answers the same. Counters are counts of
audit rows, which are never deleted, so they only grow."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select
from sqlalchemy.orm import aliased

from bot.db.models import (
    OutboxStatus,
    RequestEvent,
    RequestStatus,
    SlackOutbox,
    SubaccountRequest,
    WorkerHeartbeat,
)
from bot.delivery.outbox import Kind
from bot.delivery.slack_errors import Verdict
from bot.observability.prometheus import Family, Histogram, bounded, render
from bot.requests.events import EventKind
from bot.zoom.errors import ZoomError

PREFIX = "zoombot"
# Seconds; Zoom's create usually answers in one or two, the client times out at 15 by default.
ZOOM_LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0)
DELIVERY_RESULTS = frozenset({"delivered", "already_posted", "failed"} | {v.value for v in Verdict})
DECISION_KINDS = (
    EventKind.APPROVAL,  # one approver's approval counted
    EventKind.APPROVED,  # the request reached its approvals and went to Zoom
    EventKind.REJECTED,
    EventKind.APPROVE_REFUSED,  # someone not allowed to, or too late
    EventKind.REJECT_REFUSED,
    EventKind.EXPIRED,  # nobody decided within APPROVAL_TTL
)
# Outcomes whose time from `zoom_called` is not one call: a look-up after an interrupted try,
# or nothing sent at all.
_NOT_ONE_CALL = frozenset({"ZoomOutcomeUnchecked", "PasswordUndecryptable"})


@dataclass(frozen=True)
class MetricsOptions:
    worker_stale_seconds: float = 30.0


def metrics_text(engine: Engine, options: MetricsOptions | None = None) -> str:
    """The whole exposition; raises SQLAlchemyError when the database does not answer."""
    options = options or MetricsOptions()
    now = datetime.now(UTC)
    with engine.connect() as connection:
        families = [
            *_requests(connection),
            *_outbox(connection, now),
            *_workers(connection, now, options),
            *_deliveries(connection),
            *_zoom_calls(connection),
            *_decisions(connection),
        ]
    return render(families)


def _requests(connection: Connection) -> Iterable[Family]:
    counts = _counted(
        connection, SubaccountRequest.status, known=[status.value for status in RequestStatus]
    )
    family = Family(f"{PREFIX}_requests", "Requests in the audit log by status.", "gauge")
    for status, count in sorted(counts.items()):
        family.add(count, status=status)
    yield family


def _outbox(connection: Connection, now: datetime) -> Iterable[Family]:
    counts = _counted(
        connection, SlackOutbox.status, known=[status.value for status in OutboxStatus]
    )
    rows = Family(
        f"{PREFIX}_outbox_rows",
        "Slack deliveries owed (pending), done (delivered) and given up (failed).",
        "gauge",
    )
    for status, count in sorted(counts.items()):
        rows.add(count, status=status)
    due = and_(SlackOutbox.status == OutboxStatus.PENDING, SlackOutbox.next_attempt_at <= now)
    due_count, oldest = connection.execute(
        select(func.count(), func.min(SlackOutbox.next_attempt_at)).where(due)
    ).one()
    due_rows = Family(
        f"{PREFIX}_outbox_due_rows",
        "Pending Slack deliveries due now (waiting for a worker).",
        "gauge",
    )
    due_rows.add(float(due_count))
    age = Family(
        f"{PREFIX}_outbox_oldest_due_age_seconds",
        "How long the oldest due Slack delivery has waited (0 when none is due).",
        "gauge",
    )
    age.add(_seconds_since(now, oldest))
    return (rows, due_rows, age)


def _workers(connection: Connection, now: datetime, options: MetricsOptions) -> Iterable[Family]:
    fresh_since = now - timedelta(seconds=options.worker_stale_seconds)
    newest, alive = connection.execute(
        select(
            func.max(WorkerHeartbeat.beat_at),
            func.count().filter(WorkerHeartbeat.beat_at >= fresh_since),
        )
    ).one()
    workers = Family(
        f"{PREFIX}_workers_alive",
        "Worker processes whose heartbeat is fresher than WORKER_STALE_SECONDS.",
        "gauge",
    )
    workers.add(float(alive or 0))
    yield workers
    if newest is not None:
        age = Family(
            f"{PREFIX}_worker_heartbeat_age_seconds",
            "Seconds since the newest worker heartbeat (absent when no worker ever beat).",
            "gauge",
        )
        age.add(_seconds_since(now, newest))
        yield age


def _deliveries(connection: Connection) -> Iterable[Family]:
    result = RequestEvent.detail["result"].as_string()
    kind = RequestEvent.detail["kind"].as_string()
    rows = connection.execute(
        select(result, kind, func.count())
        .where(RequestEvent.kind == EventKind.SLACK_DELIVERY)
        .group_by(result, kind)
    )
    totals: dict[tuple[str, str], float] = {}
    kinds = [each.value for each in Kind]
    for result_value, kind_value, count in rows:
        key = (bounded(result_value, DELIVERY_RESULTS), bounded(kind_value, kinds))
        totals[key] = totals.get(key, 0.0) + count
    family = Family(
        f"{PREFIX}_slack_deliveries_total",
        "Slack delivery attempts by result (delivered, a retryable verdict, failed for good) "
        "and by what was delivered.",
        "counter",
    )
    for (result_label, kind_label), count in sorted(totals.items()):
        family.add(count, result=result_label, kind=kind_label)
    yield family


def _zoom_calls(connection: Connection) -> Iterable[Family]:
    called = aliased(RequestEvent)
    called_at = (
        select(func.max(called.at))
        .where(
            called.request_id == RequestEvent.request_id,
            called.kind == EventKind.ZOOM_CALLED,
            called.at <= RequestEvent.at,
        )
        .scalar_subquery()
    )
    rows = connection.execute(
        select(RequestEvent.kind, RequestEvent.at, called_at, RequestEvent.detail).where(
            RequestEvent.kind.in_((EventKind.ZOOM_RESULT, EventKind.REQUEUED))
        )
    )
    errors = _zoom_error_names()
    totals: dict[tuple[str, str], float] = {}
    latency = Histogram(ZOOM_LATENCY_BUCKETS)
    for kind, at, sent_at, detail in rows:
        outcome, error = _zoom_outcome(kind, detail or {}, errors)
        totals[(outcome, error)] = totals.get((outcome, error), 0.0) + 1
        seconds = _call_seconds(at, sent_at, detail or {})
        if seconds is not None and error not in _NOT_ONE_CALL:
            latency.observe(seconds, outcome=outcome)
    family = Family(
        f"{PREFIX}_zoom_calls_total",
        "Zoom account creations by outcome (created, reconciled, failed, unknown, rate_limited) "
        "and error class (none on success).",
        "counter",
    )
    for (outcome, error), count in sorted(totals.items()):
        family.add(count, outcome=outcome, error=error)
    yield family
    yield latency.family(
        f"{PREFIX}_zoom_call_duration_seconds",
        "Time from the create being sent to its outcome being recorded, rate-limit waits "
        "excluded (from the audit log's zoom_called and zoom_result times).",
    )


def _zoom_outcome(kind: str, detail: dict[str, Any], errors: frozenset[str]) -> tuple[str, str]:
    if kind == EventKind.REQUEUED:
        return "rate_limited", "ZoomRateLimited"
    if "error" not in detail:
        return ("reconciled" if detail.get("reconciled") else "created"), "none"
    outcome = "failed" if detail.get("outcome_known", True) else "unknown"
    return outcome, bounded(detail.get("error"), errors)


def _call_seconds(at: datetime, sent_at: datetime | None, detail: dict[str, Any]) -> float | None:
    if sent_at is None or detail.get("reconciled"):
        return None
    waited = detail.get("rate_limit_wait_ms")
    wait_seconds = float(waited) / 1000 if isinstance(waited, int | float) else 0.0
    return max(0.0, (_aware(at) - _aware(sent_at)).total_seconds() - wait_seconds)


def _decisions(connection: Connection) -> Iterable[Family]:
    rows = connection.execute(
        select(RequestEvent.kind, func.count())
        .where(RequestEvent.kind.in_(DECISION_KINDS))
        .group_by(RequestEvent.kind)
    )
    counts = {str(kind): int(count) for kind, count in rows}
    family = Family(
        f"{PREFIX}_decisions_total",
        "Decision steps in the audit log: approvals counted, requests approved or rejected, "
        "refused attempts, expiries.",
        "counter",
    )
    for kind in DECISION_KINDS:
        family.add(float(counts.get(kind, 0)), kind=kind)
    yield family


def _counted(connection: Connection, column: Any, *, known: list[str]) -> dict[str, float]:
    """Row counts by `column`, every known value present (0 when none), the rest as other."""
    totals = dict.fromkeys(known, 0.0)
    for value, count in connection.execute(select(column, func.count()).group_by(column)):
        label = bounded(value, known)
        totals[label] = totals.get(label, 0.0) + count
    return totals


def _zoom_error_names() -> frozenset[str]:
    names, pending = {ZoomError.__name__, *_NOT_ONE_CALL}, [ZoomError]
    while pending:
        for subclass in pending.pop().__subclasses__():
            names.add(subclass.__name__)
            pending.append(subclass)
    return frozenset(names)


def _seconds_since(now: datetime, then: datetime | None) -> float:
    return 0.0 if then is None else max(0.0, (now - _aware(then)).total_seconds())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

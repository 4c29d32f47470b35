"""GET /metrics: the audit log and the outbox as Prometheus text, on SQLite and PostgreSQL."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from bot.config import normalize_database_url
from bot.db.migrate import upgrade_to_head
from bot.db.models import (
    RequestEvent,
    SlackOutbox,
    SubaccountRequest,
    WorkerHeartbeat,
)
from bot.db.session import make_engine, make_session_factory
from bot.observability.redaction import forget_secret, register_secret
from bot.runtime.web import HealthLimits, make_http_server, make_ops_app
from tests.prometheus_text import parse, value

SECRET = "hunter2-Secret-Zq9"


def now() -> datetime:
    """Read when a row is made, not at collection: a long suite run must not age the rows."""
    return datetime.now(UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(normalize_database_url(database_url))
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def secret() -> Iterator[str]:
    register_secret(SECRET)
    yield SECRET
    forget_secret(SECRET)


def serve(engine: Engine) -> Iterator[str]:
    server = make_http_server(
        make_ops_app(engine, health=HealthLimits(worker_stale_seconds=30)),
        host="127.0.0.1",
        port=0,
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def base_url(engine: Engine) -> Iterator[str]:
    yield from serve(engine)


def add_request(engine: Engine, status: str, *events: tuple[str, dict | None, float]) -> int:
    """A request with `events`: (kind, detail, seconds after now() - 1 h)."""
    sessions = make_session_factory(engine)
    start = now() - timedelta(hours=1)
    with sessions.begin() as session:
        row = SubaccountRequest(status=status, requester_id="UREQ", email=f"{SECRET}@example.com")
        session.add(row)
        session.flush()
        for kind, detail, seconds in events:
            session.add(
                RequestEvent(
                    request_id=row.id,
                    kind=kind,
                    detail=detail,
                    at=start + timedelta(seconds=seconds),
                )
            )
        return row.id


def add_outbox(engine: Engine, status: str, *, due_seconds_ago: float) -> None:
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        session.add(
            SlackOutbox(
                kind="message",
                queue="C1",
                status=status,
                payload={"text": SECRET},
                next_attempt_at=now() - timedelta(seconds=due_seconds_ago),
                deadline_at=now() + timedelta(hours=1),
            )
        )


def delivery(result: str, kind: str = "request_post") -> tuple[str, dict, float]:
    return ("slack_delivery", {"outbox_id": 1, "kind": kind, "result": result}, 0)


def scrape(base_url: str) -> tuple[dict[str, str], dict]:
    response = httpx.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def test_requests_are_counted_by_status_every_status_present(engine, base_url):
    add_request(engine, "pending_approval")
    add_request(engine, "pending_approval")
    add_request(engine, "created")

    types, samples = scrape(base_url)

    assert types["zoombot_requests"] == "gauge"
    assert value(samples, "zoombot_requests", status="pending_approval") == 2
    assert value(samples, "zoombot_requests", status="created") == 1
    assert value(samples, "zoombot_requests", status="unknown") == 0


def test_an_unexpected_status_is_counted_as_other_never_as_itself(engine, base_url, secret):
    add_request(engine, secret)

    response = httpx.get(f"{base_url}/metrics", timeout=10)
    _types, samples = parse(response.text)

    assert value(samples, "zoombot_requests", status="other") == 1
    assert secret not in response.text


def test_outbox_depth_by_status_and_the_oldest_due_rows_age(engine, base_url):
    add_outbox(engine, "pending", due_seconds_ago=120)
    add_outbox(engine, "pending", due_seconds_ago=10)
    add_outbox(engine, "pending", due_seconds_ago=-600)  # a retry not due for ten minutes
    add_outbox(engine, "delivered", due_seconds_ago=3000)
    add_outbox(engine, "failed", due_seconds_ago=3000)

    _types, samples = scrape(base_url)

    assert value(samples, "zoombot_outbox_rows", status="pending") == 3
    assert value(samples, "zoombot_outbox_rows", status="delivered") == 1
    assert value(samples, "zoombot_outbox_rows", status="failed") == 1
    assert value(samples, "zoombot_outbox_due_rows") == 2
    assert 120 <= value(samples, "zoombot_outbox_oldest_due_age_seconds") < 180


def test_an_empty_outbox_has_no_waiting_age(base_url):
    _types, samples = scrape(base_url)

    assert value(samples, "zoombot_outbox_due_rows") == 0
    assert value(samples, "zoombot_outbox_oldest_due_age_seconds") == 0


def test_workers_alive_counts_fresh_heartbeats_only(engine, base_url):
    with make_session_factory(engine).begin() as session:
        session.add(WorkerHeartbeat(worker_id="w1", pid=1, beat_at=now() - timedelta(seconds=5)))
        session.add(WorkerHeartbeat(worker_id="w2", pid=2, beat_at=now() - timedelta(minutes=10)))

    _types, samples = scrape(base_url)

    assert value(samples, "zoombot_workers_alive") == 1
    assert 5 <= value(samples, "zoombot_worker_heartbeat_age_seconds") < 60


def test_no_worker_ever_means_none_alive_and_no_age(base_url):
    _types, samples = scrape(base_url)

    assert value(samples, "zoombot_workers_alive") == 0
    assert not any(name == "zoombot_worker_heartbeat_age_seconds" for name, _ in samples)


def test_slack_deliveries_are_counted_by_result_and_kind(engine, base_url, secret):
    add_request(
        engine,
        "created",
        delivery("delivered"),
        delivery("delivered"),
        delivery("rate_limited", "dm"),
        delivery("failed", "message"),
        delivery(secret, secret),  # free text in the detail never becomes a label
    )

    types, samples = scrape(base_url)

    name = "zoombot_slack_deliveries_total"
    assert types[name] == "counter"
    assert value(samples, name, result="delivered", kind="request_post") == 2
    assert value(samples, name, result="rate_limited", kind="dm") == 1
    assert value(samples, name, result="failed", kind="message") == 1
    assert value(samples, name, result="other", kind="other") == 1


def test_zoom_calls_by_outcome_with_latency_from_the_audit_times(engine, base_url, secret):
    created = {"http_status": 201, "account_id": "a1", "owner_id": "o1"}
    in_use = {"error": "ZoomEmailInUse", "outcome_known": True, "message": secret}
    timeout = {"error": "ZoomTimeout", "outcome_known": False, "rate_limit_wait_ms": 200.0}
    add_request(engine, "created", ("zoom_called", {}, 0), ("zoom_result", created, 1.5))
    add_request(engine, "failed", ("zoom_called", {}, 0), ("zoom_result", in_use, 0.4))
    add_request(engine, "unknown", ("zoom_called", {}, 0), ("zoom_result", timeout, 15.2))
    add_request(
        engine,
        "created",
        ("zoom_called", {}, 0),
        ("requeued", {"reason": "rate_limited"}, 0.1),
        ("zoom_called", {}, 5),
        ("zoom_result", created | {"reconciled": True}, 100),
    )
    add_request(engine, "failed", ("zoom_result", {"error": secret, "outcome_known": True}, 1))

    response = httpx.get(f"{base_url}/metrics", timeout=10)
    types, samples = parse(response.text)

    calls = "zoombot_zoom_calls_total"
    assert value(samples, calls, outcome="created", error="none") == 1
    assert value(samples, calls, outcome="reconciled", error="none") == 1
    assert value(samples, calls, outcome="failed", error="ZoomEmailInUse") == 1
    assert value(samples, calls, outcome="unknown", error="ZoomTimeout") == 1
    assert value(samples, calls, outcome="rate_limited", error="ZoomRateLimited") == 1
    assert value(samples, calls, outcome="failed", error="other") == 1
    latency = "zoombot_zoom_call_duration_seconds"
    assert types[latency] == "histogram"
    assert value(samples, f"{latency}_bucket", outcome="created", le="1") == 0
    assert value(samples, f"{latency}_bucket", outcome="created", le="2") == 1
    assert value(samples, f"{latency}_sum", outcome="created") == pytest.approx(1.5, abs=0.01)
    assert value(samples, f"{latency}_bucket", outcome="unknown", le="15") == 1  # 15.2 - 0.2
    assert value(samples, f"{latency}_count", outcome="rate_limited") == 1
    # A reconciled outcome is a look-up, not one call: it has no latency.
    assert value(samples, f"{latency}_count", outcome="reconciled") != 1
    assert secret not in response.text


def test_decisions_are_counted_by_kind(engine, base_url):
    add_request(
        engine,
        "provisioning",
        ("approval", None, 0),
        ("approval", None, 1),
        ("approved", None, 1),
    )
    add_request(engine, "rejected", ("approve_refused", {"reason": "x"}, 0), ("rejected", None, 1))

    _types, samples = scrape(base_url)

    name = "zoombot_decisions_total"
    assert value(samples, name, kind="approval") == 2
    assert value(samples, name, kind="approved") == 1
    assert value(samples, name, kind="rejected") == 1
    assert value(samples, name, kind="approve_refused") == 1
    assert value(samples, name, kind="expired") == 0


def test_every_family_is_present_on_an_empty_database(base_url):
    types, _samples = scrape(base_url)

    assert set(types) == {
        "zoombot_requests",
        "zoombot_outbox_rows",
        "zoombot_outbox_due_rows",
        "zoombot_outbox_oldest_due_age_seconds",
        "zoombot_workers_alive",
        "zoombot_slack_deliveries_total",
        "zoombot_zoom_calls_total",
        "zoombot_zoom_call_duration_seconds",
        "zoombot_decisions_total",
    }


def test_an_unreachable_database_answers_503_with_a_short_reason(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'zoombot.db'}")

    for base_url in serve(engine):
        response = httpx.get(f"{base_url}/metrics", timeout=10)

        assert response.status_code == 503
        assert response.json() == {"status": "error", "database": "unreachable (OperationalError)"}


def test_other_paths_of_the_metrics_app_are_not_found(base_url):
    assert httpx.get(f"{base_url}/slack/events", timeout=10).status_code == 404
    assert httpx.post(f"{base_url}/metrics", timeout=10).status_code == 404

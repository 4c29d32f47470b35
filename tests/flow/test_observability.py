"""GET /metrics over the bot's own HTTP endpoint after a real conversation, and the health and
metrics server that runs beside Socket Mode."""

import httpx

from bot.flows.queries import Queries
from bot.observability.side_server import start_side_server
from bot.runtime.parts import health_limits
from tests.flow.support import approve
from tests.harness import BOT_TOKEN, GOOD_PASSWORD, SIGNING_SECRET, ZOOM_CLIENT_SECRET
from tests.prometheus_text import parse, value


def base_url(bot):
    return bot.url.removesuffix("/slack/events")


def test_metrics_count_a_request_from_submission_to_its_zoom_account(bot):
    request = bot.submit_ok()
    assert approve(bot, request).status == "created"

    response = httpx.get(f"{base_url(bot)}/metrics", timeout=10)

    assert response.status_code == 200
    _types, samples = parse(response.text)
    assert value(samples, "zoombot_requests", status="created") == 1
    assert value(samples, "zoombot_requests", status="pending_approval") == 0
    assert value(samples, "zoombot_zoom_calls_total", outcome="created", error="none") == 1
    assert value(samples, "zoombot_zoom_call_duration_seconds_count", outcome="created") == 1
    assert value(samples, "zoombot_decisions_total", kind="approved") == 1
    delivered = value(
        samples, "zoombot_slack_deliveries_total", result="delivered", kind="request_post"
    )
    assert delivered == 1
    assert value(samples, "zoombot_workers_alive") >= 1
    assert value(samples, "zoombot_outbox_rows", status="failed") == 0


def test_metrics_carry_no_secret(bot):
    request = bot.submit_ok()
    approve(bot, request)

    text = httpx.get(f"{base_url(bot)}/metrics", timeout=10).text

    for secret in (GOOD_PASSWORD, BOT_TOKEN, SIGNING_SECRET, ZOOM_CLIENT_SECRET, "jill@example"):
        assert secret not in text


def test_the_side_server_of_socket_mode_answers_healthz_and_metrics_only(bot):
    runtime = bot.runtime
    side = start_side_server(
        runtime.engine, host="127.0.0.1", port=0, health=health_limits(runtime.settings)
    )
    try:
        url = f"http://127.0.0.1:{side.port}"
        health = httpx.get(f"{url}/healthz", timeout=10)
        metrics = httpx.get(f"{url}/metrics", timeout=10)
        slack = httpx.post(f"{url}/slack/events", content=b"{}", timeout=10)
    finally:
        side.close()

    assert health.status_code == 200
    assert health.json()["database"] == "ok"
    assert metrics.status_code == 200
    assert "zoombot_requests" in parse(metrics.text)[0]
    assert slack.status_code == 404


def test_an_unexpected_listener_error_shows_the_person_the_reference_it_logs(
    bot, caplog, monkeypatch
):
    def broken(self, *, user_id, request_id):
        raise RuntimeError(f"broken with {SIGNING_SECRET}")

    monkeypatch.setattr(Queries, "status", broken)

    response = bot.slash(text="status 1")
    bot.wait()

    assert response.status_code == 500  # Bolt's answer to a listener that raised before its ack
    (record,) = [r for r in caplog.records if r.getMessage().startswith("unhandled error")]
    logged = record.getMessage().removesuffix(")").rsplit("(ref ", 1)[1]
    assert len(logged) == 8
    (post,) = bot.slack.response_posts
    assert f"(reference {logged})" in post["body"]["text"]
    assert post["body"]["response_type"] == "ephemeral"
    assert SIGNING_SECRET not in caplog.text
    assert SIGNING_SECRET not in post["body"]["text"]

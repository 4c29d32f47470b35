"""`zoombot serve` over Socket Mode serves no Slack HTTP of its own, yet still answers /healthz and
/metrics on $PORT (a platform's health check and Prometheus reach it), and stops that side
server with the bot. Slack's Socket Mode connection is replaced by a handler that only waits."""

import logging
import threading

import httpx
import pytest

from bot.runtime import serve
from sandbox.slack_emulator import SlackEmulator
from sandbox.zoom_simulator import ZoomSimulator
from tests.flow.test_health_and_startup import free_port, valid_settings
from tests.harness import BOT_TOKEN, ZOOM_CLIENT_SECRET

APP_TOKEN = "xapp-1-A111-222-socketmodetoken"


class WaitingHandler:
    """Stands in for slack_bolt's SocketModeHandler: start() blocks until the test lets go."""

    started = threading.Event()
    release = threading.Event()
    app_token: str | None = None

    def __init__(self, app, app_token):
        type(self).app_token = app_token

    def start(self):
        type(self).started.set()
        type(self).release.wait(timeout=60)


@pytest.fixture
def socket_mode_bot(monkeypatch, database_url, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    root = logging.getLogger()
    # serve() configures logging for the process: put the test process's back afterwards.
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    WaitingHandler.started.clear()
    WaitingHandler.release.clear()
    monkeypatch.setattr("slack_bolt.adapter.socket_mode.SocketModeHandler", WaitingHandler)
    with (
        SlackEmulator(bot_token=BOT_TOKEN, clock_ts=True) as slack,
        ZoomSimulator(client_secret=ZOOM_CLIENT_SECRET) as zoom,
    ):
        port = free_port()
        settings = valid_settings(
            SLACK_APP_TOKEN=APP_TOKEN,
            SLACK_API_URL=slack.base_url,
            ZOOM_API_URL=zoom.api_url,
            ZOOM_OAUTH_URL=zoom.oauth_url,
            DATABASE_URL=database_url,
            HOST="127.0.0.1",
            PORT=str(port),
        )
        del settings["SLACK_SIGNING_SECRET"]  # not needed over Socket Mode
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(serve.serve()), daemon=True)
        thread.start()
        try:
            assert WaitingHandler.started.wait(timeout=30), "Socket Mode was never started"
            yield f"http://127.0.0.1:{port}"
        finally:
            WaitingHandler.release.set()
            thread.join(timeout=30)
        assert result == [0]
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)  # stopped with the bot


def test_socket_mode_answers_healthz_and_metrics_on_port(socket_mode_bot):
    health = httpx.get(f"{socket_mode_bot}/healthz", timeout=5)
    metrics = httpx.get(f"{socket_mode_bot}/metrics", timeout=5)
    events = httpx.post(f"{socket_mode_bot}/slack/events", content=b"{}", timeout=5)

    assert health.status_code == 200
    assert health.json()["database"] == "ok"
    assert metrics.status_code == 200
    assert "zoombot_outbox_due_rows" in metrics.text
    assert events.status_code == 404  # Slack's requests come over the socket, not here
    assert WaitingHandler.app_token == APP_TOKEN

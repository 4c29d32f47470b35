"""GET /healthz, and `python app.py` started the way an operator starts it."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_signing import SlackSender
from sandbox.zoom_simulator import ZoomSimulator
from tests.harness import (
    BOT_TOKEN,
    ENCRYPTION_KEY,
    ORIGIN_CHANNEL,
    REQUESTER,
    SIGNING_SECRET,
    ZOOM_CLIENT_SECRET,
)

APP = Path(__file__).resolve().parents[2] / "app.py"
REQUIRED = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "ZOOM_ACCOUNT_ID",
    "ZOOM_CLIENT_ID",
    "ZOOM_CLIENT_SECRET",
    "REQUESTER_ALLOWLIST",
    "APPROVER_ALLOWLIST",
]
START_TIMEOUT_SECONDS = 30


def health_url(bot):
    return bot.url.removesuffix("/slack/events") + "/healthz"


def test_healthz_reports_ok_with_the_database_reachable(bot):
    response = httpx.get(health_url(bot), timeout=5)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok", "worker": "ok", "outbox": "ok"}


def test_unknown_path_is_not_found(bot):
    response = httpx.get(bot.url.removesuffix("/slack/events") + "/admin", timeout=5)

    assert response.status_code == 404


# -- python app.py ------------------------------------------------------------------------------


def bare_environment(tmp_path, **variables):
    """Only what a shell gives any process, plus `variables`; run in tmp_path, so no .env."""
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    environment.update(variables)
    return environment


def run_app(tmp_path, **variables):
    return subprocess.run(  # noqa: S603 - our own interpreter running our own app.py
        [sys.executable, str(APP)],
        cwd=tmp_path,
        env=bare_environment(tmp_path, **variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def problem_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def test_start_without_settings_exits_2_naming_each_missing_variable(tmp_path):
    result = run_app(tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = problem_lines(result.stderr)
    assert len(lines) == len(REQUIRED)
    for variable in REQUIRED:
        (line,) = [line for line in lines if f"{variable}:" in line]
        assert line.startswith("zoombot: ")


def valid_settings(**overrides):
    settings = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "ZOOM_ACCOUNT_ID": "acct-1",
        "ZOOM_CLIENT_ID": "zoom-client-id",
        "ZOOM_CLIENT_SECRET": ZOOM_CLIENT_SECRET,
        "REQUESTER_ALLOWLIST": REQUESTER,
        "APPROVER_ALLOWLIST": "UAPP1",
        "PASSWORD_ENCRYPTION_KEY": ENCRYPTION_KEY,
    }
    settings.update(overrides)
    return settings


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SLACK_BOT_TOKEN", "not-a-bot-token"),
        ("SLACK_SIGNING_SECRET", ""),
        ("REQUIRED_APPROVALS", "many"),
        ("APPROVAL_CHANNEL", "#general"),
        ("REQUESTER_ALLOWLIST", "everyone"),
        ("PORT", "99999"),
    ],
)
def test_start_with_a_malformed_setting_exits_2_naming_it(tmp_path, variable, value):
    result = run_app(tmp_path, **valid_settings(**{variable: value}))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = problem_lines(result.stderr)
    assert line.startswith(f"zoombot: {variable}: ")


def test_problems_are_all_reported_at_once(tmp_path):
    settings = valid_settings(SLACK_BOT_TOKEN="nope", REQUIRED_APPROVALS="many")
    del settings["ZOOM_CLIENT_ID"]

    result = run_app(tmp_path, **settings)

    assert result.returncode == 2
    named = sorted(line.split(":")[1].strip() for line in problem_lines(result.stderr))
    assert named == ["REQUIRED_APPROVALS", "SLACK_BOT_TOKEN", "ZOOM_CLIENT_ID"]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url, process):
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"app.py exited with {process.returncode}: {process.stderr.read()}")
        try:
            response = httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        return response
    pytest.fail(f"app.py did not answer {url} within {START_TIMEOUT_SECONDS}s")


@pytest.fixture
def started_app(database_url, tmp_path):
    """`python app.py` with valid settings against the fakes; terminated after the test."""
    with (
        SlackEmulator(bot_token=BOT_TOKEN, clock_ts=True) as slack,
        ZoomSimulator(client_secret=ZOOM_CLIENT_SECRET) as zoom,
    ):
        port = free_port()
        settings = valid_settings(
            SLACK_API_URL=slack.base_url,
            ZOOM_API_URL=zoom.api_url,
            ZOOM_OAUTH_URL=zoom.oauth_url,
            DATABASE_URL=database_url,
            PORT=str(port),
        )
        process = subprocess.Popen(  # noqa: S603 - our own interpreter running our own app.py
            [sys.executable, str(APP)],
            cwd=tmp_path,
            env=bare_environment(tmp_path, **settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield process, f"http://127.0.0.1:{port}", slack
        finally:
            if process.poll() is None:
                process.terminate()
            process.communicate(timeout=15)


def test_started_app_serves_healthz(started_app):
    process, base_url, _slack = started_app

    response = wait_until_healthy(f"{base_url}/healthz", process)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "worker": "ok", "outbox": "ok"}


def test_started_app_answers_a_signed_slash_command(started_app):
    process, base_url, slack = started_app
    wait_until_healthy(f"{base_url}/healthz", process)

    response = SlackSender(f"{base_url}/slack/events", SIGNING_SECRET).slash(
        user_id=REQUESTER, channel_id=ORIGIN_CHANNEL
    )

    assert response.status_code == 200
    (call,) = slack.wait_for("views.open")
    assert call.params["view"]["callback_id"] == "create_sub_account"


def test_started_app_stops_cleanly_on_sigterm(started_app):
    process, base_url, _slack = started_app
    wait_until_healthy(f"{base_url}/healthz", process)

    process.terminate()
    _stdout, stderr = process.communicate(timeout=15)

    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert "zoombot stopping" in stderr

"""HTTP surface: POST /slack/events to Bolt, GET /healthz, a threaded server for local runs."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.db.session import check_database
from bot.delivery.store import health as outbox_health

logger = logging.getLogger(__name__)

# Slack's payloads are a few KB; anything past this is not from Slack.
MAX_BODY_BYTES = 1_000_000

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class HealthLimits:
    """/healthz answers 503 past these: no worker beat this recently, or a due Slack delivery
    waited this long (the workers are stuck or too few)."""

    worker_stale_seconds: float = 30.0
    outbox_stale_seconds: float = 300.0


def make_wsgi_app(bolt_app: App, engine: Engine, *, health: HealthLimits | None = None) -> WSGIApp:
    slack_handler = SlackRequestHandler(bolt_app)
    limits = health or HealthLimits()

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/healthz" and method in ("GET", "HEAD"):
            return _healthz(engine, limits, start_response)
        if path == "/slack/events" and method == "POST":
            if _content_length(environ) > MAX_BODY_BYTES:
                return _json(start_response, "400 Bad Request", {"error": "body too large"})
            if not _timestamp_is_a_number(environ):
                # Bolt's verifier would raise on it (a 500); Slack never sends one: refuse it.
                return _json(start_response, "401 Unauthorized", {"error": "invalid request"})
            result: Iterable[bytes] = slack_handler(environ, start_response)
            return result
        return _json(start_response, "404 Not Found", {"error": "not found"})

    return application


def _content_length(environ: dict[str, Any]) -> int:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return MAX_BODY_BYTES + 1


def _timestamp_is_a_number(environ: dict[str, Any]) -> bool:
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
    if timestamp is None:
        return True  # missing: Bolt refuses it with 401
    try:
        int(timestamp)
    except ValueError:
        return False
    return True


def _healthz(engine: Engine, limits: HealthLimits, start_response: StartResponse) -> list[bytes]:
    try:
        check_database(engine)
        figures = outbox_health(engine)
    except SQLAlchemyError as exc:
        # The class name says enough and cannot carry a connection string's password.
        cause = getattr(exc, "orig", None) or exc
        reason = f"unreachable ({type(cause).__name__})"
        return _json(
            start_response, "503 Service Unavailable", {"status": "error", "database": reason}
        )
    body: dict[str, Any] = {"status": "ok", "database": "ok", "worker": "ok", "outbox": "ok"}
    worker_seconds, oldest_seconds = figures["worker_seconds"], figures["oldest_due_seconds"]
    if worker_seconds is None or worker_seconds > limits.worker_stale_seconds:
        body["worker"] = (
            "no worker alive"
            if worker_seconds is None
            else (f"last seen {worker_seconds:.0f}s ago")
        )
    if oldest_seconds is not None and oldest_seconds > limits.outbox_stale_seconds:
        body["outbox"] = f"oldest due delivery waited {oldest_seconds:.0f}s"
    if body["worker"] != "ok" or body["outbox"] != "ok":
        body["status"] = "error"
        return _json(start_response, "503 Service Unavailable", body)
    return _json(start_response, "200 OK", body)


def _json(start_response: StartResponse, status: str, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of Slack deliveries (events, clicks,
    # retries arriving together) overflowed it and connections were reset.
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


def make_http_server(app: WSGIApp, *, host: str, port: int) -> WSGIServer:
    """A threaded WSGI server for `python app.py` and tests; production uses gunicorn."""
    return make_server(
        host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )

"""HTTP surface: POST /slack/events to Bolt, GET /healthz and GET /metrics (also served alone
beside Socket Mode: make_ops_app), a threaded server for local runs."""

from __future__ import annotations

import json
import logging
import re
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
from bot.observability.context import log_context
from bot.observability.metrics import MetricsOptions, metrics_text
from bot.observability.prometheus import CONTENT_TYPE as METRICS_CONTENT_TYPE

logger = logging.getLogger(__name__)

# Slack's payloads are a few KB; anything past this is not from Slack.
MAX_BODY_BYTES = 1_000_000
# X-Request-ID as routers send it (Heroku: a UUID); anything else is not logged.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

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
    ops = make_ops_app(engine, health=health)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/slack/events" and method == "POST":
            if _content_length(environ) > MAX_BODY_BYTES:
                return _json(start_response, "400 Bad Request", {"error": "body too large"})
            if not _timestamp_is_a_number(environ):
                # Bolt's verifier would raise on it (a 500); Slack never sends one: refuse it.
                return _json(start_response, "401 Unauthorized", {"error": "invalid request"})
            # Bolt answers inside this call (it processes before responding): the listener's
            # log lines carry the router's request id, and the Slack fields its middleware
            # sets (bot/observability/context.py) end with the request.
            with log_context(http_request_id=_request_id(environ)):
                result: Iterable[bytes] = slack_handler(environ, start_response)
            return result
        return ops(environ, start_response)

    return application


def make_ops_app(engine: Engine, *, health: HealthLimits | None = None) -> WSGIApp:
    """GET /healthz and GET /metrics alone; every other path is 404."""
    limits = health or HealthLimits()
    options = MetricsOptions(worker_stale_seconds=limits.worker_stale_seconds)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/healthz" and method in ("GET", "HEAD"):
            return _healthz(engine, limits, start_response)
        if path == "/metrics" and method in ("GET", "HEAD"):
            return _metrics(engine, options, start_response)
        return _json(start_response, "404 Not Found", {"error": "not found"})

    return application


def _request_id(environ: dict[str, Any]) -> str | None:
    value = str(environ.get("HTTP_X_REQUEST_ID") or "")
    return value if _REQUEST_ID.match(value) else None


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
        return _json(
            start_response,
            "503 Service Unavailable",
            {"status": "error", "database": _unreachable(exc)},
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


def _metrics(engine: Engine, options: MetricsOptions, start_response: StartResponse) -> list[bytes]:
    try:
        text = metrics_text(engine, options)
    except SQLAlchemyError as exc:
        return _json(
            start_response,
            "503 Service Unavailable",
            {"status": "error", "database": _unreachable(exc)},
        )
    body = text.encode()
    start_response(
        "200 OK", [("Content-Type", METRICS_CONTENT_TYPE), ("Content-Length", str(len(body)))]
    )
    return [body]


def _unreachable(exc: SQLAlchemyError) -> str:
    # The class name says enough and cannot carry a connection string's password.
    cause = getattr(exc, "orig", None) or exc
    return f"unreachable ({type(cause).__name__})"


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

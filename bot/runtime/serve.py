"""The bot's long-running processes: settings → runtime → serve Slack (with or without the
worker), the worker alone, and gunicorn's WSGI factory. Start-up failures end in one line."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings, load_settings
from bot.errors import ConfigurationError
from bot.observability.logs import configure_logging
from bot.observability.side_server import start_side_server
from bot.runtime.compose import Role, Runtime, build_runtime
from bot.runtime.parts import health_limits
from bot.runtime.web import WSGIApp, make_http_server

logger = logging.getLogger("zoombot")

EXIT_CONFIG = 2
EXIT_STARTUP = 1


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as error:
        for problem in error.problems:
            print(f"zoombot: {problem}", file=sys.stderr)  # noqa: T201 - the operator's console
        raise SystemExit(EXIT_CONFIG) from None


def runtime_or_exit(settings: Settings, *, role: Role = Role.ALL) -> Runtime:
    """Start-up failures get one clear line, not a traceback."""
    try:
        return build_runtime(settings, role=role)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "unknown"
        reason = f"Slack refused the bot token ({error}); check SLACK_BOT_TOKEN"
    except (SlackClientError, OSError) as exc:
        reason = f"cannot reach Slack at SLACK_API_URL ({type(exc).__name__})"
    except SQLAlchemyError as exc:
        reason = f"cannot prepare the database at DATABASE_URL ({type(exc).__name__})"
    logger.error("zoombot did not start: %s", reason)
    raise SystemExit(EXIT_STARTUP)


def wsgi() -> WSGIApp:
    """Factory for gunicorn (`gunicorn 'app:wsgi()'`)."""
    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    # Each gunicorn worker only verifies, writes and acks; `zoombot worker` does the rest.
    return runtime_or_exit(settings, role=Role.WEB).wsgi


def serve() -> int:
    """Slack over HTTP on $PORT (Socket Mode with SLACK_APP_TOKEN), the worker in-process."""
    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    runtime = runtime_or_exit(settings, role=Role.ALL)
    if settings.slack_app_token is not None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler  # noqa: PLC0415

        # Socket Mode has no HTTP of its own: /healthz and /metrics still answer on $PORT.
        side = start_side_server(
            runtime.engine, host=settings.host, port=settings.port, health=health_limits(settings)
        )
        logger.info("zoombot connecting to Slack over Socket Mode")
        handler = SocketModeHandler(runtime.bolt, settings.slack_app_token.get_secret_value())
        try:
            handler.start()  # type: ignore[no-untyped-call]  # slack_bolt leaves it untyped
        finally:
            side.close()
            runtime.close()
        return 0
    server = make_http_server(runtime.wsgi, host=settings.host, port=settings.port)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    logger.info(
        "zoombot listening on %s:%s (POST /slack/events, GET /healthz, GET /metrics)",
        settings.host,
        settings.port,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("zoombot stopping")
    finally:
        server.server_close()
        runtime.close()
    return 0


def run_worker() -> int:
    """Deliver what is owed to Slack, run the Zoom jobs and the sweeps, until SIGTERM/SIGINT."""
    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    runtime = runtime_or_exit(settings, role=Role.WORKER)
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("zoombot worker running")
    stopping.wait()
    logger.info("zoombot worker stopping")
    runtime.close()
    return 0

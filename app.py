"""zoombot entry point.

python app.py            serve Slack over HTTP on $PORT (Socket Mode when SLACK_APP_TOKEN is set),
                         with the worker in the same process
python app.py worker     the worker alone: Slack deliveries, Zoom jobs, sweeps (Procfile `worker:`)
python app.py sandbox    the whole flow on this machine: Slack emulator, Zoom simulator, a web page
python app.py export     write the audit log (requests and their events) as CSV or JSON
gunicorn 'app:wsgi()'    the HTTP app alone under a production server (Procfile `web:`)
"""

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
from bot.runtime import Role, Runtime, build_runtime
from bot.web import WSGIApp, make_http_server

logger = logging.getLogger("zoombot")

EXIT_CONFIG = 2
EXIT_STARTUP = 1


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


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
    """Factory for gunicorn: `gunicorn 'app:wsgi()'`."""
    settings = settings_or_exit()
    configure_logging(settings.log_level)
    # Each gunicorn worker only verifies, writes and acks; `python app.py worker` does the rest.
    return runtime_or_exit(settings, role=Role.WEB).wsgi


def main() -> None:
    settings = settings_or_exit()
    configure_logging(settings.log_level)
    runtime = runtime_or_exit(settings, role=Role.ALL)
    if settings.slack_app_token is not None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler  # noqa: PLC0415

        logger.info("zoombot connecting to Slack over Socket Mode")
        SocketModeHandler(runtime.bolt, settings.slack_app_token.get_secret_value()).start()
        return
    server = make_http_server(runtime.wsgi, host=settings.host, port=settings.port)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    logger.info(
        "zoombot listening on %s:%s (POST /slack/events, GET /healthz)",
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


def run_worker() -> int:
    """`python app.py worker`: deliver what is owed to Slack, run the Zoom jobs and the sweeps,
    until SIGTERM or SIGINT."""
    settings = settings_or_exit()
    configure_logging(settings.log_level)
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


def run_subcommand(argv: list[str]) -> int | None:
    """`worker`, `sandbox` and `export`; None means: serve the bot (and its worker)."""
    if argv[:1] == ["sandbox"]:
        from bot.sandbox.launcher import main as sandbox_main  # noqa: PLC0415

        return sandbox_main(argv[1:])
    if argv[:1] == ["worker"]:
        return run_worker()
    if argv[:1] == ["export"]:
        from bot.audit_export import main as export_main  # noqa: PLC0415

        return export_main(argv[1:])
    return None


if __name__ == "__main__":
    exit_status = run_subcommand(sys.argv[1:])
    if exit_status is not None:
        raise SystemExit(exit_status)
    main()

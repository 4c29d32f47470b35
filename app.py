"""zoombot entry point.

python app.py            serve Slack over HTTP on $PORT (Socket Mode when SLACK_APP_TOKEN is set)
gunicorn 'app:wsgi()'    the same HTTP app under a production server (see Procfile)
"""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings, load_settings
from bot.errors import ConfigurationError
from bot.runtime import Runtime, build_runtime
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


def runtime_or_exit(settings: Settings) -> Runtime:
    """Start-up failures get one clear line, not a traceback."""
    try:
        return build_runtime(settings)
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
    return runtime_or_exit(settings).wsgi


def main() -> None:
    settings = settings_or_exit()
    configure_logging(settings.log_level)
    runtime = runtime_or_exit(settings)
    if settings.slack_app_token is not None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler  # noqa: PLC0415

        logger.info("zoombot connecting to Slack over Socket Mode")
        SocketModeHandler(runtime.bolt, settings.slack_app_token.get_secret_value()).start()
        return
    server = make_http_server(runtime.wsgi, host="0.0.0.0", port=settings.port)  # noqa: S104

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    logger.info("zoombot listening on port %s (POST /slack/events, GET /healthz)", settings.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("zoombot stopping")
    finally:
        server.server_close()
        runtime.close()


if __name__ == "__main__":
    main()

"""`zoombot check`: load the settings, run every check against the real services, print the
checklist; exit 0 when all pass, 1 when any fails, 2 when the settings themselves are wrong."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.check.database import check_database
from bot.check.keys import check_key, configured_keys
from bot.check.report import FAIL_MARK, CheckResult, render
from bot.check.slack import check_slack
from bot.check.slack_api import SlackProbe
from bot.check.zoom import check_zoom
from bot.config import Settings, load_settings
from bot.errors import ConfigurationError

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
DESCRIPTION = (
    "Check the settings against Slack, Zoom and the database: the token and its scopes, the "
    "bot's channels, every allowlist entry, the Zoom master account, migrations and the "
    "encryption key. Exit status 0 when every check passes, 1 when one fails, 2 when a "
    "setting is missing or malformed."
)


def main(argv: list[str], *, out: TextIO | None = None) -> int:
    stream = sys.stdout if out is None else out
    parser = argparse.ArgumentParser(prog="zoombot check", description=DESCRIPTION)
    try:
        parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, or a usage error argparse already printed
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_CONFIG
    try:
        settings = load_settings()
    except ConfigurationError as error:
        stream.write("zoombot check: fix these settings first (nothing else was checked):\n")
        stream.writelines(f"{FAIL_MARK} {problem}\n" for problem in error.problems)
        return EXIT_CONFIG
    return check(settings, out=stream)


def check(settings: Settings, *, out: TextIO) -> int:
    """Run every check, print the checklist, and return the exit status."""
    results = run_checks(settings)
    out.write(render(results, secrets=secret_values(settings)) + "\n")
    out.flush()
    return EXIT_OK if all(result.ok for result in results) else EXIT_FAILED


def run_checks(settings: Settings) -> list[CheckResult]:
    results: list[CheckResult] = []
    with SlackProbe(
        api_url=settings.slack_api_url,
        token=settings.slack_bot_token.get_secret_value(),
        timeout_seconds=settings.slack_timeout_seconds,
    ) as probe:
        results += check_slack(settings, probe=probe)
    # Connect within 5 s, as the bot's own Zoom client does; answers within ZOOM_TIMEOUT_SECONDS.
    timeout = httpx.Timeout(settings.zoom_timeout_seconds, connect=5.0)
    with httpx.Client(timeout=timeout) as http:
        results += check_zoom(settings, http=http)
    database, engine = check_database(settings)
    results.append(database)
    try:
        results.append(check_key(settings, engine=engine))
    finally:
        if engine is not None:
            engine.dispose()
    return results


def secret_values(settings: Settings) -> list[str]:
    """Everything the output must never show, scrubbed from it as a last line of defence."""
    values = [
        settings.slack_bot_token.get_secret_value(),
        settings.zoom_client_secret.get_secret_value(),
        *configured_keys(settings),
    ]
    for optional in (
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.password_encryption_key,
    ):
        if optional is not None:
            values.append(optional.get_secret_value())
    try:
        password = make_url(settings.database_url).password
    except ArgumentError:
        password = None
    if password:
        values.append(str(password))
    return values

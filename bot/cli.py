"""The `zoombot` command (also `python app.py …`): one subcommand per way of running the bot.
Each imports what it needs when it runs, so `zoombot --help` and `zoombot migrate` start fast
and the runtime-only install (no jsonschema) serves without the sandbox's packages."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

EXIT_FAILURE = 1
EXIT_USAGE = 2

Handler = Callable[[list[str]], int]


@dataclass(frozen=True)
class Command:
    summary: str
    run: Handler
    takes_arguments: bool = False


def _serve(_argv: list[str]) -> int:
    from bot.runtime.serve import serve  # noqa: PLC0415

    return serve()


def _worker(_argv: list[str]) -> int:
    from bot.runtime.serve import run_worker  # noqa: PLC0415

    return run_worker()


def _sandbox(argv: list[str]) -> int:
    # A plug-in looked up by name when asked for: bot/ never imports the top-level sandbox
    # package (it sits beside bot/ in the checkout), so the bot runs where it is absent.
    try:
        module = importlib.import_module("sandbox.launcher")
    except ModuleNotFoundError as exc:
        if exc.name == "sandbox":
            _say("the sandbox is not installed: run it from a checkout of the repository")
            return EXIT_USAGE
        if exc.name == "jsonschema":
            _say("the sandbox needs the `sandbox` extra: pip install -r requirements-dev.lock")
            return EXIT_USAGE
        raise
    return cast(Handler, module.main)(argv)


def _export(argv: list[str]) -> int:
    from bot.audit.export import main as export_main  # noqa: PLC0415

    return export_main(argv)


def _check(argv: list[str]) -> int:
    # Imported by name: bot.check is optional to everything else in this module.
    module = importlib.import_module("bot.check")
    return cast(Handler, module.main)(argv)


def _migrate(_argv: list[str]) -> int:
    """`alembic upgrade head` under the bot's migration lock, saying what it changed. Needs
    DATABASE_URL alone, not the Slack or Zoom settings."""
    from alembic.migration import MigrationContext  # noqa: PLC0415
    from pydantic import ValidationError  # noqa: PLC0415
    from sqlalchemy import Engine  # noqa: PLC0415
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from bot.config import DatabaseSettings  # noqa: PLC0415
    from bot.db.migrate import upgrade_to_head  # noqa: PLC0415
    from bot.db.session import make_engine  # noqa: PLC0415

    def revision(engine: Engine) -> str:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision() or "empty"

    try:
        database_url = DatabaseSettings().database_url
    except ValidationError:
        _say("DATABASE_URL: not a usable database URL")
        return EXIT_USAGE
    engine = make_engine(database_url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        before = revision(engine)
        upgrade_to_head(engine)
        after = revision(engine)
    except SQLAlchemyError as exc:
        _say(f"could not migrate {where} ({type(exc).__name__})")
        return EXIT_FAILURE
    finally:
        engine.dispose()
    done = f"already at {after}" if before == after else f"migrated from {before} to {after}"
    print(f"zoombot: {where}: {done}")  # noqa: T201 - the operator's console
    return 0


COMMANDS: dict[str, Command] = {
    "serve": Command(
        "serve Slack over HTTP on $PORT (Socket Mode when SLACK_APP_TOKEN is set), the worker "
        "in the same process; `python app.py` alone does this",
        _serve,
    ),
    "worker": Command(
        "the worker alone: Slack deliveries, Zoom jobs, sweeps (Procfile `worker:`)", _worker
    ),
    "sandbox": Command(
        "the whole flow on this machine: Slack emulator, Zoom simulator, a web page",
        _sandbox,
        takes_arguments=True,
    ),
    "export": Command(
        "write the audit log (requests and their events) as CSV or JSON",
        _export,
        takes_arguments=True,
    ),
    "check": Command(
        "check the settings, Slack, Zoom and the database before going live",
        _check,
        takes_arguments=True,
    ),
    "migrate": Command(
        "apply pending database migrations at DATABASE_URL (Procfile `release:`)", _migrate
    ),
}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()]
    return "\n".join(
        [
            "usage: zoombot <command> [options]",
            "",
            "commands:",
            *lines,
            "",
            "gunicorn 'app:wsgi()' serves the HTTP app alone (Procfile `web:`).",
            "`zoombot <command> --help` describes the options of sandbox, export and check.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `zoombot` console script; returns the exit status."""
    words = sys.argv[1:] if argv is None else argv
    if words[:1] in (["-h"], ["--help"], ["help"]):
        print(usage())  # noqa: T201 - asked for
        return 0
    command = COMMANDS.get(words[0]) if words else None
    if command is None:
        problem = f"unknown command: {words[0]}" if words else "missing command"
        _say(f"{problem}\n{usage()}")
        return EXIT_USAGE
    if words[1:] and not command.takes_arguments:
        _say(f"{words[0]} takes no arguments (got {' '.join(words[1:])})\n{usage()}")
        return EXIT_USAGE
    return command.run(words[1:])


def _say(message: str) -> None:
    print(f"zoombot: {message}", file=sys.stderr)  # noqa: T201 - the operator's console

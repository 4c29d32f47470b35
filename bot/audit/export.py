"""`python app.py export --since DATE [--until DATE] --format csv|json [--output PATH]`: the
audit log as a file for auditors. Reads DATABASE_URL only, so it needs no Slack or Zoom secret.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, NoReturn

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.audit.records import (
    CONFIG_COLUMNS,
    EVENT_COLUMNS,
    REQUEST_COLUMNS,
    AuditExport,
    load_export,
)
from bot.config import DatabaseSettings
from bot.db.session import make_engine, make_session_factory
from bot.errors import BotError, UserFacingError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PROGRAM = "zoombot export"
# Spreadsheets run a cell starting with these as a formula; requesters type the reason.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class UsageError(UserFacingError):
    """A bad argument: one line for the operator (exit status 2) or, from the slash command, for
    the approver who typed it."""


class ExportFailed(BotError):
    """The database could not be read; the message names no URL (it may hold a password)."""


class RaisingParser(argparse.ArgumentParser):
    """argparse whose errors raise UsageError instead of printing and exiting (the slash
    command's parser shares it)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


@dataclass(frozen=True)
class ExportRequest:
    since: datetime
    until: datetime
    format: str
    output: Path | None


def main(argv: list[str]) -> int:
    try:
        request = parse_arguments(argv)
    except UsageError as exc:
        _say(f"{exc} (see {PROGRAM} --help)")
        return EXIT_USAGE
    except SystemExit as exc:  # --help printed its text
        return int(exc.code or 0)
    try:
        export = read_export(DatabaseSettings().database_url, request)
    except ExportFailed as exc:
        _say(str(exc))
        return EXIT_FAILED
    try:
        write_export(export, request)
    except OSError as exc:
        _say(f"cannot write {request.output} ({type(exc).__name__})")
        return EXIT_FAILED
    return EXIT_OK


def _say(line: str) -> None:
    print(f"{PROGRAM}: {line}", file=sys.stderr)  # noqa: T201 - the operator's console


def parse_arguments(argv: list[str], *, now: datetime | None = None) -> ExportRequest:
    parser = RaisingParser(prog=PROGRAM, description="Write the audit log as CSV or JSON.")
    parser.add_argument("--since", required=True, help="YYYY-MM-DD or ISO datetime (UTC)")
    parser.add_argument("--until", help="exclusive; a bare date includes that whole day")
    parser.add_argument("--format", required=True, choices=("csv", "json"))
    parser.add_argument("--output", type=Path, help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    since = parse_moment(args.since, option="--since")
    until = (
        parse_moment(args.until, option="--until", end_of_day=True)
        if args.until
        else (now or datetime.now(UTC))
    )
    if until <= since:
        raise UsageError("--until must be later than --since")
    return ExportRequest(since=since, until=until, format=args.format, output=args.output)


def parse_moment(text: str, *, option: str, end_of_day: bool = False) -> datetime:
    """A date means its midnight UTC (or the next midnight, for an inclusive end); a datetime
    without a zone is UTC."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:
        moment = datetime.combine(day, time(), tzinfo=UTC)
        return moment + timedelta(days=1) if end_of_day else moment
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is not a date (YYYY-MM-DD) or an ISO datetime"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_export(database_url: str, request: ExportRequest) -> AuditExport:
    _check_sqlite_file(database_url)
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return load_export(session, since=request.since, until=request.until)
    except SQLAlchemyError as exc:
        raise ExportFailed(
            f"cannot read the audit log at DATABASE_URL ({type(exc).__name__}); "
            "is it the bot's database, migrated?"
        ) from None
    finally:
        engine.dispose()


def _check_sqlite_file(database_url: str) -> None:
    # Opening a missing SQLite file would silently create an empty database.
    if not database_url.startswith("sqlite"):
        return
    database = make_url(database_url).database
    if database and database != ":memory:" and not Path(database).is_file():
        raise ExportFailed(f"no database file at {database} (set DATABASE_URL)")


def write_export(export: AuditExport, request: ExportRequest) -> None:
    if request.output is None:
        _write(export, request.format, sys.stdout)
        return
    with request.output.open("w", encoding="utf-8", newline="") as handle:
        _write(export, request.format, handle)


def render(export: AuditExport, format_name: str) -> str:
    """The whole file as text, for an upload (`/zoom-subaccount export`)."""
    buffer = io.StringIO(newline="")
    _write(export, format_name, buffer)
    return buffer.getvalue()


def _write(export: AuditExport, format_name: str, handle: IO[str]) -> None:
    if format_name == "json":
        json.dump(as_json(export), handle, indent=2, ensure_ascii=False)
        handle.write("\n")
        return
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    writer.writerows([_safe_cell(value) for value in row] for row in csv_rows(export))


def as_json(export: AuditExport) -> dict[str, Any]:
    return {
        "since": export.since.isoformat(),
        "until": export.until.isoformat(),
        "requests": export.requests,
        "other_events": export.other_events,
        "config_events": export.config_events,
    }


CSV_COLUMNS = (
    "record",
    *(f"request_{column}" for column in REQUEST_COLUMNS),
    *(f"event_{column}" for column in EVENT_COLUMNS),
)


def csv_rows(export: AuditExport) -> Iterator[list[Any]]:
    """One row per event: the request's columns repeated on each of its events, so the file
    sorts and filters well; `record` says whether a row is a request's, a loose event or an
    access-list change."""
    blank_request = [None] * len(REQUEST_COLUMNS)
    for request in export.requests:
        request_cells = [_cell(request[column]) for column in REQUEST_COLUMNS]
        for event in request["events"] or [None]:
            yield ["request", *request_cells, *_event_cells(event)]
    for event in export.other_events:
        yield ["event", *blank_request, *_event_cells(event)]
    for change in export.config_events:
        detail = {key: change[key] for key in CONFIG_COLUMNS if key not in ("id", "at", "kind")}
        as_event = {"id": change["id"], "at": change["at"], "kind": change["kind"]}
        yield ["config", *blank_request, *_event_cells({**as_event, "detail": detail})]


def _event_cells(event: dict[str, Any] | None) -> list[Any]:
    if event is None:
        return [None] * len(EVENT_COLUMNS)
    return [_cell(event.get(column)) for column in EVENT_COLUMNS]


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def _safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value

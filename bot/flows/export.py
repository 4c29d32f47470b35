"""`/zoom-subaccount export`: an approver gets the audit log (built as `python app.py export`
builds it) as a file in their DM. Each export, refusal and failed delivery is itself audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session, sessionmaker

from bot.audit.export import RaisingParser, UsageError, parse_moment
from bot.audit.records import AuditExport, load_export
from bot.db.models import RequestEvent
from bot.delivery import outbox
from bot.delivery.files import AUDIT_EXPORT
from bot.flows.unavailable import when_database_down
from bot.requests import workflow
from bot.requests.events import EventKind
from bot.requests.policy import AccessPolicy
from bot.runtime.tasks import BackgroundTasks
from bot.slack.notifier import Notifier
from bot.slack.render import messages
from bot.slack.render.user_facing import user_facing_text

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = timedelta(days=30)
FORMATS = ("csv", "json")
# Slack's clients may turn a typed "--" into a dash: "—since" still means "--since".
_DASHES = ("\u2014", "\u2013")


@dataclass(frozen=True)
class ExportCommand:
    since: datetime
    until: datetime
    format: str


def parse_export_command(arguments: list[str], *, now: datetime) -> ExportCommand:
    """`[--since DATE] [--until DATE] [--format csv|json]`; the last 30 days as CSV by default.
    Raises UsageError with one line saying what is wrong."""
    parser = RaisingParser(prog="export", add_help=False, allow_abbrev=False)
    parser.add_argument("--since")
    parser.add_argument("--until")
    parser.add_argument("--format", choices=FORMATS, default="csv")
    args = parser.parse_args([_with_dashes(word) for word in arguments])
    since = parse_moment(args.since, option="--since") if args.since else now - DEFAULT_WINDOW
    until = parse_moment(args.until, option="--until", end_of_day=True) if args.until else now
    if until <= since:
        raise UsageError("--until must be later than --since")
    return ExportCommand(since=since, until=until, format=args.format)


def _with_dashes(word: str) -> str:
    for dash in _DASHES:
        if word.startswith(dash):
            return "--" + word.removeprefix(dash)
    return word


class SlackExports:
    """One export from the slash command to the uploaded file; built per command."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        policy: AccessPolicy,
        notifier: Notifier,
        tasks: BackgroundTasks,
        command: str,
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._notifier = notifier
        self._tasks = tasks
        self._command = command

    def start(
        self, *, user_id: str, arguments: list[str], response_url: str, now: datetime | None = None
    ) -> str:
        """What the ack says (privately); the export itself runs on the background pool."""
        if not self._policy.is_approver(user_id):
            self._record_refusal(user_id)
            return refusal_text()
        try:
            command = parse_export_command(arguments, now=now or datetime.now(UTC))
        except UsageError as exc:
            return f"{user_facing_text(exc)}. {usage_text(self._command)}"
        self._tasks.submit(
            self.deliver, user_id=user_id, command=command, response_url=response_url
        )
        return preparing_text(command)

    def deliver(self, *, user_id: str, command: ExportCommand, response_url: str) -> None:
        """Audits the export and owes its file in one transaction: the worker uploads it to
        the approver's DM (retried, shared once) or explains through `response_url` why not."""

        def tell(text: str) -> None:
            self._notifier.respond(response_url=response_url, text=text)

        down = when_database_down("an audit export", tell=tell, text=unavailable_text())
        with down, self._sessions.begin() as session:
            export = load_export(session, since=command.since, until=command.until)
            workflow.add_event(
                session,
                request_id=None,
                kind=EventKind.EXPORTED,
                actor_id=user_id,
                detail={**window(command), **counts(export)},
            )
            self._notifier.owe(owed_file(user_id, command, export, response_url), db=session)

    def _record_refusal(self, user_id: str) -> None:
        self._record(user_id, EventKind.EXPORT_REFUSED, {"reason": "not an approver"})

    def _record(self, user_id: str, kind: EventKind, detail: dict[str, object]) -> None:
        # The person is still answered; the log keeps what the table could not.
        with when_database_down(f"recording {kind} by {user_id}"), self._sessions.begin() as db:
            workflow.add_event(db, request_id=None, kind=kind, actor_id=user_id, detail=detail)


# -- the file the outbox owes, and its failure --------------------------------------------------


def owed_file(
    user_id: str, command: ExportCommand, export: AuditExport, response_url: str
) -> outbox.Owed:
    """The file is made again when it is sent (bot/delivery/files.py), from the same window."""
    return outbox.file_share(
        AUDIT_EXPORT,
        queue=f"dm:{user_id}",
        user_id=user_id,
        details={
            **window(command),
            "for_user": user_id,
            "filename": file_name(command),
            "title": f"Zoom sub account audit log, {describe_window(command)}",
            "comment": delivered_text(command, export),
            "response_url": response_url,
        },
    )


def export_failed(db: Connection, payload: dict[str, Any], *, error: str) -> list[outbox.Owed]:
    """Written when the file is given up: an `export_failed` event, and the approver told why
    (privately, through the slash command's response_url)."""
    user_id = str(payload.get("for_user") or "")
    detail = {key: payload[key] for key in ("since", "until", "format")} | {"error": error}
    db.execute(
        insert(RequestEvent).values(
            request_id=None, kind=EventKind.EXPORT_FAILED, actor_id=user_id or None, detail=detail
        )
    )
    url = str(payload.get("response_url") or "")
    return [outbox.response(url, text=failure_text(error), user_id=user_id)] if url else []


# -- what the export records and says --------------------------------------------------------


def window(command: ExportCommand) -> dict[str, object]:
    return {
        "since": command.since.isoformat(),
        "until": command.until.isoformat(),
        "format": command.format,
    }


def counts(export: AuditExport) -> dict[str, object]:
    request_events = sum(len(request["events"]) for request in export.requests)
    return {
        "requests": len(export.requests),
        "events": request_events + len(export.other_events),
        "config_events": len(export.config_events),
    }


def file_name(command: ExportCommand) -> str:
    last_day = (command.until - timedelta(microseconds=1)).date()
    return f"zoombot-audit-{command.since.date()}-to-{last_day}.{command.format}"


def describe_window(command: ExportCommand) -> str:
    return f"{command.since:%Y-%m-%d %H:%M} to {command.until:%Y-%m-%d %H:%M} UTC"


def preparing_text(command: ExportCommand) -> str:
    return (
        f"Preparing your export of the requests created from {describe_window(command)} "
        f"({command.format.upper()})… I will send it to you in a direct message."
    )


def delivered_text(command: ExportCommand, export: AuditExport) -> str:
    total = counts(export)
    return (
        f"Your audit export: requests created from {describe_window(command)} — "
        f"{total['requests']} requests, {total['events']} events, "
        f"{total['config_events']} access-list changes. It holds no passwords, but it names "
        "people and email addresses: keep it private."
    )


def refusal_text() -> str:
    return "Only approvers can export the audit log. (This attempt was logged.)"


def usage_text(command: str) -> str:
    return (
        f"Usage: `{command} export [--since YYYY-MM-DD] [--until YYYY-MM-DD] "
        "[--format csv|json]` (default: the last 30 days, as CSV)."
    )


def unavailable_text() -> str:
    return (
        "Your audit export could not be made: the bot's database is temporarily unavailable. "
        "Nothing was shared. Please try again in a few minutes."
    )


_FAILURE_REASONS = {
    "missing_scope": "the bot is not allowed to upload files (it needs the files:write scope; "
    "an admin must reinstall it)",
    "file_uploads_disabled": "file uploads are turned off in this workspace",
    "ratelimited": "Slack asked the bot to slow down",
    "dm_unavailable": "the bot could not open a direct message with you",
    "not_in_channel": "the bot could not post in your direct messages",
    "channel_not_found": "the bot could not find your direct messages",
}


def failure_text(error: str) -> str:
    """`error` is Slack's error code, or the class name of a failure Slack never answered."""
    if error[:1].isupper():
        reason = "the file could not be sent to Slack"
    else:
        reason = _FAILURE_REASONS.get(error, f"Slack did not accept the file ({error})")
    return (
        f":warning: Your audit export could not be delivered: {reason}. Nothing was shared "
        "with anyone. Try again in a minute; if it keeps failing, ask an admin of this bot."
    )


def help_text(command: str, *, approver: bool) -> str:
    """The slash command's help; approvers also read about `export`."""
    text = messages.help_text(command)
    if not approver:
        return text
    return (
        f"{text}\n• `{command} export [--since DATE] [--until DATE] [--format csv|json]` — "
        "(approvers) the audit log as a file in your direct messages; default: the last 30 "
        "days, as CSV"
    )

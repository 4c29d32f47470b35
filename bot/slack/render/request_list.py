"""The text of `/zoom-subaccount list`: the caller's recent requests, one line each."""

from __future__ import annotations

from datetime import datetime

from bot.db.models import RequestStatus, SubaccountRequest
from bot.slack.render.blocks import escape, mention, slack_date


def request_list_text(
    rows: list[SubaccountRequest], *, now: datetime, team_domain: str, command: str
) -> str:
    if not rows:
        return f"You have no Zoom sub account requests yet. `{command}` opens the form."
    lines = [f"*Your {len(rows)} most recent Zoom sub account requests* (newest first):"]
    lines.extend(_line(row, now=now, team_domain=team_domain) for row in rows)
    lines.append(f"`{command} status ID` shows one in full.")
    return "\n".join(lines)


def _line(row: SubaccountRequest, *, now: datetime, team_domain: str) -> str:
    name = escape(f"{row.first_name or ''} {row.last_name or ''}".strip())
    who = f"{name} <{escape(row.email)}>" if row.email else "(no details: refused)"
    parts = [
        f"• *#{row.id}* {row.status.replace('_', ' ')}",
        who.strip(),
        f"asked {slack_date(row.created_at)} ({age(row.created_at, now)})",
    ]
    outcome = outcome_summary(row)
    if outcome:
        parts.append(outcome)
    link = message_link(row, team_domain)
    if link:
        parts.append(f"<{link}|message>")
    return " — ".join(parts)


def age(moment: datetime, now: datetime) -> str:
    seconds = int((now - moment).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def outcome_summary(row: SubaccountRequest, *, rejected: str = "by") -> str:
    """The Zoom account, Zoom's error code, or who rejected (after `rejected`); nothing while
    undecided."""
    status = RequestStatus(row.status)
    if status == RequestStatus.CREATED and row.zoom_account_id:
        return f"Zoom account `{escape(row.zoom_account_id)}`"
    if status in (RequestStatus.FAILED, RequestStatus.UNKNOWN):
        code = f"Zoom code {row.zoom_error_code}" if row.zoom_error_code is not None else ""
        return ("check Zoom; " if status == RequestStatus.UNKNOWN else "") + (code or "no answer")
    if status == RequestStatus.REJECTED:
        return f"{rejected} {mention(row.approver_id)}"
    return ""


def message_link(row: SubaccountRequest, team_domain: str) -> str | None:
    """The approval message's permalink, built rather than asked of Slack (one call less)."""
    if not (team_domain and row.approval_channel_id and row.approval_ts):
        return None
    return (
        f"https://{team_domain}.slack.com/archives/{row.approval_channel_id}/"
        f"p{row.approval_ts.replace('.', '')}"
    )

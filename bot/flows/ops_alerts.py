"""What goes to OPS_CHANNEL: provisioning that failed or whose outcome is unknown, so whoever
runs the bot sees it without watching every approval thread."""

from __future__ import annotations

from bot.db.models import RequestStatus, SubaccountRequest
from bot.slack.render.blocks import escape, mention

ALERT_STATUSES = frozenset({RequestStatus.FAILED, RequestStatus.UNKNOWN})


def needs_alert(row: SubaccountRequest) -> bool:
    return row.status in ALERT_STATUSES


def alert_text(row: SubaccountRequest, outcome: str) -> str:
    """`outcome` is the redacted outcome text already shown to the requester."""
    headline = (
        ":rotating_light: *Outcome unknown — check Zoom before anyone retries.*"
        if row.status == RequestStatus.UNKNOWN
        else ":warning: *Provisioning failed.*"
    )
    where = f" Thread in <#{row.approval_channel_id}>." if row.approval_channel_id else ""
    return (
        f"{headline} Request #{row.id} for {escape(row.email or '')}, asked by "
        f"{mention(row.requester_id)}, approved by {mention(row.approver_id)}.{where}\n{outcome}"
    )

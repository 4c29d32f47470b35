"""The audit log read back for export: requests of a time window with their approvals and
events, events tied to no request, and access-list changes — never a password or ciphertext.

Request columns are listed one by one (an allowlist, not a denylist), so a column added to the
table later stays out of exports until someone decides it belongs there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import ConfigEvent, RequestApproval, RequestEvent, SubaccountRequest

REQUEST_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "status",
    "requester_id",
    "channel_id",
    "first_name",
    "last_name",
    "email",
    "account_name",
    "sub_reseller_id",
    "options",
    "reason",
    "password_generated",
    "approval_channel_id",
    "approval_ts",
    "approver_id",
    "decided_at",
    "zoom_http_status",
    "zoom_error_code",
    "zoom_error_message",
    "zoom_account_id",
    "zoom_owner_id",
    "zoom_owner_email",
    "zoom_created_at",
    "zoom_attempts",
    "reminded_at",
    "escalated_at",
    "batch_id",
    "batch_row",
)
EVENT_COLUMNS = ("id", "at", "kind", "actor_id", "detail")
CONFIG_COLUMNS = ("id", "at", "kind", "setting", "version", "entries", "added", "removed")
MASK = "********"


@dataclass(frozen=True)
class AuditExport:
    since: datetime
    until: datetime
    requests: list[dict[str, Any]]  # each with "approvals" and "events" lists
    other_events: list[dict[str, Any]]  # steps tied to no request (request_id NULL)
    config_events: list[dict[str, Any]]


def load_export(session: Session, *, since: datetime, until: datetime) -> AuditExport:
    """Requests created in [since, until) with all their events; other rows by their time."""
    in_window = (SubaccountRequest.created_at >= since) & (SubaccountRequest.created_at < until)
    requests = list(
        session.scalars(select(SubaccountRequest).where(in_window).order_by(SubaccountRequest.id))
    )
    chosen = select(SubaccountRequest.id).where(in_window)
    events = _grouped(
        session.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_id.in_(chosen))
            .order_by(RequestEvent.id)
        )
    )
    approvals = _grouped(
        session.scalars(
            select(RequestApproval)
            .where(RequestApproval.request_id.in_(chosen))
            .order_by(RequestApproval.id)
        )
    )
    return AuditExport(
        since=since,
        until=until,
        requests=[_request(row, approvals[row.id], events[row.id]) for row in requests],
        other_events=[event_record(e) for e in _unlinked_events(session, since, until)],
        config_events=[config_record(c) for c in _config_events(session, since, until)],
    )


def _grouped(rows: Any) -> defaultdict[int, list[Any]]:
    grouped: defaultdict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.request_id].append(row)
    return grouped


def _unlinked_events(session: Session, since: datetime, until: datetime) -> list[RequestEvent]:
    return list(
        session.scalars(
            select(RequestEvent)
            .where(
                RequestEvent.request_id.is_(None),
                RequestEvent.at >= since,
                RequestEvent.at < until,
            )
            .order_by(RequestEvent.id)
        )
    )


def _config_events(session: Session, since: datetime, until: datetime) -> list[ConfigEvent]:
    return list(
        session.scalars(
            select(ConfigEvent)
            .where(ConfigEvent.at >= since, ConfigEvent.at < until)
            .order_by(ConfigEvent.id)
        )
    )


def _request(
    row: SubaccountRequest, approvals: list[RequestApproval], events: list[RequestEvent]
) -> dict[str, Any]:
    record = request_record(row)
    record["approvals"] = [
        {"approver_id": approval.approver_id, "at": plain(approval.at)} for approval in approvals
    ]
    record["events"] = [event_record(event) for event in events]
    return record


def request_record(row: SubaccountRequest) -> dict[str, Any]:
    return {column: plain(getattr(row, column)) for column in REQUEST_COLUMNS}


def event_record(event: RequestEvent) -> dict[str, Any]:
    record = {column: plain(getattr(event, column)) for column in EVENT_COLUMNS}
    record["detail"] = scrub(event.detail)
    return record


def config_record(event: ConfigEvent) -> dict[str, Any]:
    return {column: plain(getattr(event, column)) for column in CONFIG_COLUMNS}


def plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO 8601 in UTC, everything else as stored."""
    return value.isoformat() if isinstance(value, datetime) else value


def scrub(value: Any) -> Any:
    """Defence in depth: any text under a key naming a password or ciphertext is masked, even
    though the bot stores none (the body of `zoom_called` already has its password masked)."""
    if isinstance(value, dict):
        return {key: _scrub_item(str(key), item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def _scrub_item(key: str, item: Any) -> Any:
    lowered = key.lower()
    if ("password" in lowered or "ciphertext" in lowered) and isinstance(item, str | bytes):
        return MASK
    return scrub(item)

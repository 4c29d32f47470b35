"""The log context of the work in hand (which request, which Slack event, which HTTP request):
context variables set by the web app, a Bolt middleware and the workers, read by logs.py."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

# Only enum-like values and ids go here: they reach every log line of the work in hand.
FIELDS = (
    "request_id",  # the bot's request number (subaccount_requests.id)
    "batch_id",  # a bulk request's number
    "outbox_id",  # the Slack delivery being attempted
    "slack_type",  # the payload's type: event_callback, block_actions, view_submission, …
    "slack_event",  # the event type, action id, callback id or command
    "slack_retry_num",  # X-Slack-Retry-Num: Slack's redelivery of an event it thinks was lost
    "http_request_id",  # X-Request-ID from the router (Heroku, most proxies), when it sent one
)
MAX_VALUE_LENGTH = 64

_context: contextvars.ContextVar[Mapping[str, str | int] | None] = contextvars.ContextVar(
    "zoombot_log_context", default=None
)


def current_context() -> dict[str, str | int]:
    return dict(_context.get() or {})


@contextmanager
def log_context(**fields: str | int | None) -> Iterator[None]:
    """Add `fields` (names from FIELDS; None leaves a field out) to every log line inside."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"not log context fields: {sorted(unknown)}")
    merged = current_context()
    merged.update({name: _bounded(value) for name, value in fields.items() if value is not None})
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def _bounded(value: str | int) -> str | int:
    return value if isinstance(value, int) else value[:MAX_VALUE_LENGTH]


# -- Bolt ------------------------------------------------------------------------------------


_SLACK_FIELDS = ("request_id", "slack_type", "slack_event", "slack_retry_num")


def bolt_context_middleware(body: dict[str, Any], req: Any, next_: Callable[[], object]) -> object:
    """A Bolt global middleware (`app.use`): the payload's type, event and request id for the
    listener's log lines.

    Bolt's sync middleware cannot wrap the listener (next_() only marks the chain to go on;
    the listener runs after every middleware returned), so the fields are set, not scoped:
    the caller of dispatch bounds them (bot/runtime/web.py wraps each HTTP request in log_context),
    and the next payload on the thread replaces them (Socket Mode's pool threads)."""
    fields = {name: value for name, value in current_context().items() if name not in _SLACK_FIELDS}
    fields.update(slack_fields(body, headers=getattr(req, "headers", None) or {}))
    _context.set(fields)
    return next_()


def slack_fields(body: Mapping[str, Any], *, headers: Mapping[str, Any]) -> dict[str, str | int]:
    """The log context of a Slack payload: its type, what it is about, and a request id when the
    payload names one (the decision buttons carry it as their value)."""
    fields: dict[str, str | int] = {}
    payload_type = body.get("type") or ("slash_command" if "command" in body else None)
    if isinstance(payload_type, str):
        fields["slack_type"] = payload_type
    event = _event_name(body)
    if event:
        fields["slack_event"] = event
    request_id = _request_id(body)
    if request_id is not None:
        fields["request_id"] = request_id
    retry = _header(headers, "x-slack-retry-num")
    if retry is not None and retry.isdigit():
        fields["slack_retry_num"] = int(retry)
    return fields


def _event_name(body: Mapping[str, Any]) -> str | None:
    event = body.get("event")
    if isinstance(event, dict) and isinstance(event.get("type"), str):
        return str(event["type"])
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return str(actions[0].get("action_id") or "") or None
    view = body.get("view")
    if isinstance(view, dict) and view.get("callback_id"):
        return str(view["callback_id"])
    command = body.get("command")
    return str(command) if isinstance(command, str) else None


def _request_id(body: Mapping[str, Any]) -> int | None:
    actions = body.get("actions")
    if not (isinstance(actions, list) and actions and isinstance(actions[0], dict)):
        return None
    value = str(actions[0].get("value") or "")
    return int(value) if value.isdigit() and len(value) < 12 else None


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    value = headers.get(name)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return str(value) if value is not None else None

"""A Zoom call in the audit log: what the `zoom_result` (and `requeued`) event's detail holds
about the call's error and its rate-limit wait, and the error rebuilt from that detail (so a
message can be rendered again exactly as it was first sent)."""

from __future__ import annotations

from typing import Any

from bot.observability.redaction import redact
from bot.zoom.errors import FieldError, ZoomError, ZoomRateLimited


def wait_detail(wait_seconds: float) -> dict[str, float]:
    """How long the call waited for its rate-limit slots, so that wait can be told apart from
    the bot's own latency (bench/); left out when it did not wait."""
    wait_ms = round(wait_seconds * 1000, 1)
    return {"rate_limit_wait_ms": wait_ms} if wait_ms else {}


def redact_error(error: ZoomError, password: str) -> None:
    """Zoom's words may echo the password; they reach the audit log and Slack."""
    error.zoom_message = redact(error.zoom_message, [password])
    error.field_errors = tuple(
        FieldError(field=item.field, message=redact(item.message, [password]))
        for item in error.field_errors
    )


def error_detail(error: ZoomError) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "http_status": error.http_status,
        "code": error.zoom_code,
        "message": error.zoom_message,
        "error": type(error).__name__,
        "outcome_known": error.outcome_known,
    }
    # Only when present: the two things besides the class that change the words a person reads.
    if error.field_errors:
        detail["field_errors"] = [
            {"field": item.field, "message": item.message} for item in error.field_errors
        ]
    if isinstance(error, ZoomRateLimited) and error.rate_limit_type:
        detail["rate_limit_type"] = error.rate_limit_type
    return detail


def error_from_detail(detail: dict[str, Any]) -> ZoomError:
    """The error `error_detail` described (an unknown class name reads as the root error)."""
    error_class = _error_classes().get(str(detail.get("error")), ZoomError)
    error = error_class(
        str(detail.get("message") or ""),
        http_status=_int_or_none(detail.get("http_status")),
        zoom_code=_int_or_none(detail.get("code")),
        outcome_known=bool(detail.get("outcome_known", True)),
        field_errors=tuple(
            FieldError(field=str(item.get("field", "")), message=str(item.get("message", "")))
            for item in detail.get("field_errors") or []
            if isinstance(item, dict)
        ),
    )
    if isinstance(error, ZoomRateLimited):
        limit_type = detail.get("rate_limit_type")
        error.rate_limit_type = str(limit_type) if limit_type else None
    return error


def _error_classes() -> dict[str, type[ZoomError]]:
    found: dict[str, type[ZoomError]] = {ZoomError.__name__: ZoomError}
    pending = [ZoomError]
    while pending:
        for subclass in pending.pop().__subclasses__():
            found.setdefault(subclass.__name__, subclass)
            pending.append(subclass)
    return found


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None

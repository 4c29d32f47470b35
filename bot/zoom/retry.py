"""When to try a rate-limited request again: Retry-After parsing and jittered backoff."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

INITIAL_BACKOFF_SECONDS = 0.5


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait per a Retry-After header, or None when absent or unreadable.

    Accepts delta-seconds, an HTTP date, or an ISO-8601 timestamp (Zoom's own documentation
    shows the latter). A moment already past means "now": 0.0. `now` must be timezone-aware.
    """
    text = (value or "").strip()
    if not text:
        return None
    seconds = _delta_seconds(text)
    if seconds is not None:
        return seconds
    moment = _http_date(text) or _iso_timestamp(text)
    if moment is None:
        return None
    return max((moment - now).total_seconds(), 0.0)


def backoff_seconds(attempt: int, *, max_seconds: float) -> float:
    """Exponential backoff for retry number `attempt` (0-based), capped, with up to 25% jitter."""
    base = min(INITIAL_BACKOFF_SECONDS * 2.0**attempt, max_seconds)
    # Jitter spreads out clients that were throttled together; it is not security-relevant.
    return base * (1 - 0.25 * random.random())  # noqa: S311


def _delta_seconds(text: str) -> float | None:
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _http_date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return _as_utc(moment)


def _iso_timestamp(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return _as_utc(moment)


def _as_utc(moment: datetime) -> datetime:
    # A timestamp without an offset is taken as UTC, as HTTP dates always are.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

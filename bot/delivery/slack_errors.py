"""What a failed Slack Web API call means for the row that made it: wait and retry, retry and
look before posting again, or give up. One place decides it for every kind of row."""

from __future__ import annotations

import enum
import math
from urllib.error import URLError

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import BotError


class Verdict(enum.Enum):
    RATE_LIMITED = "rate_limited"  # HTTP 429: nothing happened; wait Retry-After
    NOT_SENT = "not_sent"  # certainly never reached Slack (connection refused): retry
    AMBIGUOUS = "ambiguous"  # may have acted (timeout, lost answer, 5xx): look before posting
    TRANSIENT = "transient"  # Slack said no for now (ok:false, a passing error): retry
    PERMANENT = "permanent"  # retrying cannot help: the row fails, ops is told


# Slack's own codes that a later try may not repeat; all other ok:false codes are permanent
# (channel_not_found, not_in_channel, is_archived, invalid_blocks, msg_too_long, …).
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
        # The token: an operator can fix it, and what is owed should then still go out.
        "invalid_auth",
        "not_authed",
        "token_expired",
        "token_revoked",
        "account_inactive",
    }
)
# ok:false answers after which Slack may still have acted on the call.
AMBIGUOUS_ERRORS = frozenset({"internal_error", "fatal_error"})


class SlackFailure(BotError):
    """A classified failure; `error` is a short code safe to store and log (never a payload)."""

    def __init__(self, verdict: Verdict, error: str, *, retry_after_seconds: float = 0.0) -> None:
        super().__init__(f"{verdict.value}: {error}")
        self.verdict = verdict
        self.error = error
        self.retry_after_seconds = retry_after_seconds
        # Raised by the post itself (not a look-up before it): see Settler.failed_attempt.
        self.posted = False


def classify(exc: Exception) -> SlackFailure:
    if isinstance(exc, SlackApiError):
        return _from_api_error(exc)
    if isinstance(exc, URLError) and isinstance(exc.reason, ConnectionRefusedError):
        return SlackFailure(Verdict.NOT_SENT, "connection_refused")
    if isinstance(exc, (OSError, SlackClientError, ValueError)):
        # Timeouts, resets, lost or garbled answers: the request may have been acted on.
        return SlackFailure(Verdict.AMBIGUOUS, type(exc).__name__[:64])
    raise exc


def _from_api_error(exc: SlackApiError) -> SlackFailure:
    response = exc.response
    status = getattr(response, "status_code", 200) if response is not None else 200
    if status == 429:
        return SlackFailure(
            Verdict.RATE_LIMITED, "ratelimited", retry_after_seconds=_retry_after(response)
        )
    if status >= 500:
        return SlackFailure(Verdict.AMBIGUOUS, f"http_{status}")
    error = str(response.get("error") or "unknown") if response is not None else "unknown"
    if status != 200:
        return SlackFailure(Verdict.AMBIGUOUS, f"http_{status}")
    if error in AMBIGUOUS_ERRORS:
        return SlackFailure(Verdict.AMBIGUOUS, error)
    if error in TRANSIENT_ERRORS:
        return SlackFailure(Verdict.TRANSIENT, error)
    return SlackFailure(Verdict.PERMANENT, error[:64])


def _retry_after(response: object) -> float:
    headers = getattr(response, "headers", None) or {}
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            try:
                return max(1.0, float(math.ceil(float(value))))
            except ValueError:
                break
    return 1.0

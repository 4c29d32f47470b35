"""Optional error reporting to Sentry (SENTRY_DSN): initialised once per process, without
personal data or local variables, and every string of every event and breadcrumb scrubbed of
the registered secrets (bot/observability/redaction.py) before it leaves the process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, cast

import sentry_sdk
from sentry_sdk.transport import Transport
from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Event, Hint

from bot.observability.redaction import REDACTED, redact

logger = logging.getLogger(__name__)

# Keys whose values never leave, whatever they hold (Sentry's own scrubber covers the usual
# ones in request data; these reach an event through `extra` or breadcrumb data too).
_SECRET_KEYS = ("password", "secret", "token", "authorization", "cookie", "api_key", "dsn")

_lock = threading.Lock()
_initialised = False


def init_sentry(
    dsn: str | None,
    *,
    environment: str | None = None,
    release: str | None = None,
    transport: Transport | None = None,
) -> bool:
    """Start reporting to `dsn` (None: do nothing); a second call in the process is ignored.
    `transport`: where envelopes go instead of Sentry's servers (tests)."""
    global _initialised  # noqa: PLW0603 - one Sentry client per process, by design
    if not dsn:
        return False
    with _lock:
        if _initialised:
            return False
        _initialised = True
    options: dict[str, Any] = {
        "dsn": dsn,
        "environment": environment,
        "release": release,
        # No personal data: send_default_pii left unset, whose default is False (sentry-sdk
        # 2.7x deprecates setting it at all in favour of data_collection, which would also
        # turn Sentry's own key-name scrubber off).
        "include_local_variables": False,
        # Slack's request bodies hold typed passwords: never attach them.
        "max_request_body_size": "never",
        "before_send": scrub_event,
        "before_breadcrumb": scrub_breadcrumb,
    }
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)
    logger.info("reporting errors to Sentry")
    return True


def shutdown_sentry() -> None:
    """Flush and stop the client (process end, tests); init_sentry may run again after."""
    global _initialised  # noqa: PLW0603 - see init_sentry
    with _lock:
        if not _initialised:
            return
        _initialised = False
    client = sentry_sdk.get_client()
    client.close(timeout=2.0)
    sentry_sdk.get_global_scope().set_client(None)


def scrub_event(event: Event, _hint: Hint) -> Event | None:
    """before_send: no frame variables, and no registered secret in any string."""
    for exception in (event.get("exception") or {}).get("values") or []:
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    return cast(Event, scrubbed(event))


def scrub_breadcrumb(crumb: Breadcrumb, _hint: BreadcrumbHint) -> Breadcrumb | None:
    return cast(Breadcrumb, scrubbed(crumb))


def scrubbed(value: Any, key: str = "") -> Any:
    """A copy of `value` with every string redacted and secret-named keys' values replaced."""
    if key and any(part in key.lower() for part in _SECRET_KEYS) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(name)): scrubbed(item, str(name)) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrubbed(item) for item in value]
    return value

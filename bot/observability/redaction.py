"""Last line of defence for secrets: every log record is scrubbed of registered secret values.

Code never formats a secret into a message on purpose; this catches what a library might log
(slack_sdk logs request bodies at DEBUG, for instance).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
_MIN_SECRET_LENGTH = 6  # shorter values would scrub ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False


def register_secret(value: str | None) -> None:
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def forget_secret(value: str | None) -> None:
    with _lock:
        _secrets.discard(value or "")


def redact(text: str, extra: Iterable[str] = ()) -> str:
    with _lock:
        secrets = sorted(_secrets.union(extra), key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def install_log_redaction() -> None:
    """Wrap the LogRecord factory so every record, whatever its handler, is scrubbed."""
    global _installed  # noqa: PLW0603 - installing a process-wide hook is inherently global
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        return _scrub(record)

    logging.setLogRecordFactory(factory)


def _scrub(record: logging.LogRecord) -> logging.LogRecord:
    with _lock:
        if not _secrets:
            return record
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        return record
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return record

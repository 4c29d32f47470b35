"""The process's log handler: the familiar text lines, or with LOG_FORMAT=json one JSON object
per line (time, level, logger, message, the context of context.py, the traceback), every string
of it scrubbed of registered secrets (bot/observability/redaction.py) whatever its source."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

from bot.observability.context import current_context
from bot.observability.redaction import install_log_redaction, redact

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record. The record factory already scrubbed the message and the
    traceback (redaction.install_log_redaction); scrubbing again here also covers secrets
    registered after the record was made and a stack_info the factory does not see."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        line.update(current_context())
        if record.exc_info:
            exc_text = record.exc_text or self.formatException(record.exc_info)
            line["exc_info"] = redact(exc_text)
        elif record.exc_text:
            line["exc_info"] = redact(record.exc_text)
        if record.stack_info:
            line["stack_info"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class _ContextTextFormatter(logging.Formatter):
    """The text format, with the context (when there is one) appended as key=value pairs."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = current_context()
        if context:
            text += " [" + " ".join(f"{key}={value}" for key, value in context.items()) + "]"
        return redact(text)


def make_formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else _ContextTextFormatter(TEXT_FORMAT)


def configure_logging(level: str = "INFO", log_format: LogFormat = "text") -> None:
    """Log to stderr in `log_format` at `level`; secrets are scrubbed from every record from
    here on. Replaces the handler an earlier call installed (not other handlers)."""
    install_log_redaction()
    handler = _OwnHandler()
    handler.setFormatter(make_formatter(log_format))
    root = logging.getLogger()
    # Called again (tests, a re-configuration): the earlier handler of ours goes, others stay.
    for old in [each for each in root.handlers if isinstance(each, _OwnHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


class _OwnHandler(logging.Handler):
    """The handler configure_logging installs: writes to sys.stderr as it is when the record
    comes (a test's capture, a supervisor's pipe), one line per record."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging must never raise; the stdlib's way
            self.handleError(record)

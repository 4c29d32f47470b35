"""Durations as operators write them in settings: `30m`, `4h`, `1d`, `1h30m`, or `off`."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?\s*[smhd]\s*)+$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
OFF_WORDS = frozenset({"off", "none", "never", "disabled"})
HINT = "must be a duration such as 30m, 4h, 1d or 1h30m"


def parse_duration(text: str, *, allow_off: bool) -> timedelta | None:
    """A positive timedelta, or None for `off` when allowed; ValueError says what is accepted."""
    value = text.strip().lower()
    if allow_off and value in OFF_WORDS:
        return None
    if not _WHOLE.match(value):
        raise ValueError(HINT + (", or off" if allow_off else ""))
    total = timedelta()
    for amount, unit in _PART.findall(value):
        total += timedelta(**{_UNITS[unit]: float(amount)})
    if total <= timedelta():
        hint = " (use off to disable)" if allow_off else ""
        raise ValueError("must be longer than zero" + hint)
    return total


def describe(duration: timedelta | None) -> str:
    """`4h`, `1h30m`, `off`: the way the settings are written, for messages and the audit log."""
    if duration is None:
        return "off"
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"

"""`zoombot check`: the settings checked against the real Slack, Zoom and database, printed as
a ✓/✗ checklist with the fix under each failure (run.py runs it; see there for exit statuses).
"""

from __future__ import annotations


def main(argv: list[str]) -> int:
    # Imported here, not above: the Slack emulator imports bot.check.manifest, and should not
    # pull in the bot's whole runtime (which keys.py needs) with it.
    from bot.check.run import main as run_main  # noqa: PLC0415

    return run_main(argv)


__all__ = ["main"]

"""The checklist: one result per check, rendered as ✓/✗ lines with the fix under each failure,
and scrubbed of every secret the settings hold before anything is printed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

PASS_MARK, FAIL_MARK = "✓", "✗"
REDACTED = "[redacted]"


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist: what was checked, what was found, and how to fix a failure."""

    name: str
    ok: bool
    detail: str
    fix: tuple[str, ...] = field(default_factory=tuple)


def passed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, ok=True, detail=detail)


def failed(name: str, detail: str, *fix: str) -> CheckResult:
    return CheckResult(name, ok=False, detail=detail, fix=tuple(fix))


def render(results: Iterable[CheckResult], *, secrets: Iterable[str] = ()) -> str:
    """The checklist and a closing summary line; any secret is replaced by [redacted]."""
    results = list(results)
    lines = []
    for result in results:
        mark = PASS_MARK if result.ok else FAIL_MARK
        lines.append(f"{mark} {result.name}: {result.detail}")
        lines.extend(f"    → {fix}" for fix in result.fix)
    failures = sum(not result.ok for result in results)
    if failures:
        lines.append(f"\n{failures} of {len(results)} checks failed.")
    else:
        lines.append(f"\nAll {len(results)} checks passed.")
    return scrub("\n".join(lines), secrets)


def scrub(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a secret that contains another is replaced whole.
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text

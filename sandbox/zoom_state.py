"""What the Zoom simulator keeps across restarts: its accounts, the emails it throttled once and
the log of create requests (passwords masked), in one readable JSON file replaced atomically."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = "zoombot-zoom-simulator/1"
MASK = "********"
RECEIVED_LIMIT = 500  # create requests kept in the log; older ones are dropped


class SimulatorStateError(ValueError):
    """The state file exists but cannot be read back."""


@dataclass
class SimulatorState:
    created_accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    seeded_accounts: list[dict[str, Any]] = field(default_factory=list)
    throttled_emails: set[str] = field(default_factory=set)  # casefolded
    received: list[dict[str, Any]] = field(default_factory=list)  # oldest first


def load_state(path: Path) -> SimulatorState:
    """The state saved at `path`, or an empty one when there is no file yet."""
    if not path.exists():
        return SimulatorState()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            raise SimulatorStateError(f"format is {document.get('format')!r}, not {FORMAT!r}")
        return SimulatorState(
            created_accounts={a["owner_email"]: a for a in document["created_accounts"]},
            seeded_accounts=list(document["seeded_accounts"]),
            throttled_emails=set(document["throttled_emails"]),
            received=list(document["received_creates"])[-RECEIVED_LIMIT:],
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SimulatorStateError(
            f"{path} is not a readable Zoom simulator state file ({exc}); delete it to start afresh"
        ) from exc


def save_state(path: Path, state: SimulatorState) -> None:
    """Write to a temporary file beside `path`, then rename it over: never half a file."""
    document = {
        "format": FORMAT,
        "seeded_accounts": state.seeded_accounts,
        "created_accounts": list(state.created_accounts.values()),
        "throttled_emails": sorted(state.throttled_emails),
        "received_creates": state.received[-RECEIVED_LIMIT:],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def received_entry(
    *, method: str, path: str, body: Any, status: int, answer: Any
) -> dict[str, Any]:
    """One line of the request log: the body with its password masked, and the answer with any
    echo of that password (a schema message quotes the value it refuses) masked too."""
    if not isinstance(body, dict):
        # Not a JSON object: nothing to show, and neither the text nor the field errors (which
        # quote it) are kept, since either could hold a password.
        if isinstance(answer, dict):
            answer = {key: value for key, value in answer.items() if key != "errors"}
        return _entry(method, path, None, status, answer)
    password = body.get("password")
    shown = {**body, "password": MASK} if "password" in body else dict(body)
    if password is not None and password != "":
        secret = password if isinstance(password, str) else json.dumps(password)
        answer = _masked(answer, secret)
    return _entry(method, path, shown, status, answer)


def _entry(method: str, path: str, body: Any, status: int, answer: Any) -> dict[str, Any]:
    at = datetime.now(UTC).isoformat(timespec="milliseconds")
    return {
        "at": at,
        "method": method,
        "path": path,
        "body": body,
        "status": status,
        "answer": answer,
    }


def _masked(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, MASK)
    if isinstance(value, list):
        return [_masked(item, secret) for item in value]
    if isinstance(value, dict):
        return {key: _masked(item, secret) for key, item in value.items()}
    return value

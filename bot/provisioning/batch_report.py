"""The files a finished bulk request sends: the per-row outcome CSV for its thread (never a
password) and the generated passwords for its requester alone."""

from __future__ import annotations

import csv
import io

from bot.db.models import SubaccountRequest
from bot.requests.passwords import PasswordVault

OUTCOME_COLUMNS = (
    "row",
    "request_id",
    "email",
    "status",
    "zoom_account_id",
    "http_status",
    "error_code",
    "error_message",
)
# A cell starting with one of these is a formula to a spreadsheet: Zoom's messages are quoted.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def outcome_csv(rows: list[SubaccountRequest]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(OUTCOME_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.batch_row,
                row.id,
                row.email or "",
                row.status,
                row.zoom_account_id or "",
                "" if row.zoom_http_status is None else row.zoom_http_status,
                "" if row.zoom_error_code is None else row.zoom_error_code,
                _inert(row.zoom_error_message or ""),
            ]
        )
    return buffer.getvalue().encode()


def _inert(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def passwords_csv(rows: list[SubaccountRequest], vault: PasswordVault) -> tuple[bytes, list[str]]:
    """`row,email,password` for every created account whose password the bot generated and
    still holds (encrypted), and those passwords (so the caller can keep them out of logs)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("row", "email", "password"))
    passwords = []
    for row in rows:
        if row.password_generated and row.password_ciphertext is not None and row.zoom_account_id:
            password = vault.decrypt(row.password_ciphertext)
            writer.writerow((row.batch_row, row.email or "", password))
            passwords.append(password)
    return buffer.getvalue().encode(), passwords


def failed_rows_text(rows: list[SubaccountRequest], *, limit: int = 20) -> str:
    """The rows that did not end created, one line each, for a text reply when no file can be
    uploaded (no password is ever part of a row's outcome)."""
    failed = [row for row in rows if row.status != "created"]
    lines = [
        f"row {row.batch_row}: {row.email} — {row.status}"
        + (f" (Zoom code {row.zoom_error_code})" if row.zoom_error_code is not None else "")
        for row in failed[:limit]
    ]
    if len(failed) > limit:
        lines.append(f"…and {len(failed) - limit} more.")
    return "\n".join(lines)

"""The bulk form (a CSV file or pasted rows), the per-row preview pushed over it, and reading
the form's state back. Built from slack_sdk's models, which check Slack's limits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from bot.requests.csv_rows import COLUMNS, MAX_ROWS, BulkParse
from bot.slack import ids
from bot.slack.render.blocks import escape

PASTE_LIMIT = 3000  # Slack's longest plain_text_input
SHOWN_ERRORS = 40  # rows with errors listed in the preview; the rest are counted
SHOWN_ROWS = 5
_SECTION_LIMIT = 2900  # Slack allows 3,000 characters per section


def bulk_form(*, channel_id: str, require_reason: bool) -> View:
    required = ["first_name", "last_name", "email", *(["reason"] if require_reason else [])]
    optional = [name for name in COLUMNS if name not in required]
    return View(
        type="modal",
        callback_id=ids.BULK_FORM_CALLBACK,
        title="Bulk Zoom sub accounts",
        submit="Check rows",
        close="Cancel",
        private_metadata=json.dumps({"channel_id": channel_id}),
        blocks=[
            SectionBlock(
                text=(
                    f"One account per row, at most {MAX_ROWS:,} rows. The first line names the "
                    f"columns. Required: `{', '.join(required)}`. Also: `{', '.join(optional)}`. "
                    "`share_mc`, `share_rc` and `billing_auto_renew` take true or false; "
                    "`pay_mode` master or sub; connector lists separate addresses with `;`. "
                    "Leave `password` empty and the bot generates one and sends it to you only."
                )
            ),
            InputBlock(
                block_id=ids.BULK_FILE,
                label="CSV file",
                optional=True,
                element=FileInputElement(
                    action_id=ids.BULK_FILE, filetypes=["csv", "txt"], max_files=1
                ),
            ),
            InputBlock(
                block_id=ids.BULK_TEXT,
                label="Or paste the rows",
                optional=True,
                hint=f"At most {PASTE_LIMIT:,} characters here (some 30 rows); attach a file "
                "for more.",
                element=PlainTextInputElement(
                    action_id=ids.BULK_TEXT,
                    multiline=True,
                    max_length=PASTE_LIMIT,
                    placeholder="first_name,last_name,email,reason",
                ),
            ),
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="Nothing is stored or sent until you check the rows and submit."
                    )
                ]
            ),
        ],
    )


@dataclass(frozen=True)
class FormInput:
    text: str
    file_ids: list[str]


def parse_form(values: object) -> FormInput:
    """view.state.values of the form; anything missing or of the wrong shape reads as empty."""
    blocks: dict[str, Any] = values if isinstance(values, dict) else {}

    def element(block_id: str) -> dict[str, Any]:
        block = blocks.get(block_id)
        found = block.get(block_id) if isinstance(block, dict) else None
        return found if isinstance(found, dict) else {}

    text = element(ids.BULK_TEXT).get("value")
    files = element(ids.BULK_FILE).get("files")
    file_ids = [
        str(item["id"])
        for item in (files if isinstance(files, list) else [])
        if isinstance(item, dict) and item.get("id")
    ]
    return FormInput(text=text if isinstance(text, str) else "", file_ids=file_ids)


def preview_view(*, draft_id: int, parsed: BulkParse) -> View:
    """Pushed over the form: Back (the close button) returns to it exactly as it was filled."""
    valid = len(parsed.valid)
    blocks: list[Block] = [SectionBlock(text=_summary(parsed))]
    blocks.extend(SectionBlock(text=text) for text in _error_sections(parsed))
    blocks.append(SectionBlock(text=_first_rows(parsed)))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Submit stores the valid rows as one bulk request and posts it for "
                    "approval; one decision covers them all. Back returns to your rows."
                )
            ]
        )
    )
    return View(
        type="modal",
        callback_id=ids.BULK_PREVIEW_CALLBACK,
        title="Check the rows",
        submit=f"Submit {valid:,}",
        close="Back",
        # Slack then says when it is closed, so the draft goes at once (see listeners/batches.py).
        notify_on_close=True,
        private_metadata=json.dumps({"draft_id": draft_id}),
        blocks=blocks,
    )


def _summary(parsed: BulkParse) -> str:
    valid, bad = len(parsed.valid), parsed.rows_with_errors
    total = valid + bad
    if not bad:
        return f"*All {total:,} rows are valid.*"
    return (
        f"*{valid:,} of {total:,} rows are valid.* Submit sends those; the {bad:,} rows with "
        "errors are left out (fix them and send them in another batch, or go Back)."
    )


def _error_sections(parsed: BulkParse) -> list[str]:
    lines: list[str] = []
    shown_rows: set[int] = set()
    for error in parsed.errors:
        if error.row not in shown_rows and len(shown_rows) >= SHOWN_ERRORS:
            continue
        shown_rows.add(error.row)
        lines.append("• " + escape(error.describe())[:500])
    hidden = parsed.rows_with_errors - len(shown_rows)
    if hidden > 0:
        lines.append(f"…and {hidden:,} more rows with errors.")
    return _chunks(["*Rows with errors*", *lines]) if lines else []


def _first_rows(parsed: BulkParse) -> str:
    lines = ["*Valid rows*"] + [
        f"• row {row.row}: {escape(row.request.first_name)} {escape(row.request.last_name)} "
        f"<{escape(row.request.email)}>"
        + (" (password generated)" if row.request.password is None else "")
        for row in parsed.valid[:SHOWN_ROWS]
    ]
    if len(parsed.valid) > SHOWN_ROWS:
        lines.append(f"…and {len(parsed.valid) - SHOWN_ROWS:,} more.")
    return "\n".join(lines)[:_SECTION_LIMIT]


def _chunks(lines: list[str]) -> list[str]:
    """Lines joined into sections of at most _SECTION_LIMIT characters each."""
    sections, current = [], ""
    for line in lines:
        if current and len(current) + 1 + len(line) > _SECTION_LIMIT:
            sections.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        sections.append(current)
    return sections


def notice(*, title: str, text: str) -> View:
    """Shown after Submit, over the preview: closing it closes the whole form (clear_on_close)."""
    return View(
        type="modal",
        title=title,
        close="Done",
        clear_on_close=True,
        blocks=[SectionBlock(text=MarkdownTextObject(text=text))],
    )


def draft_from_metadata(private_metadata: str) -> int | None:
    """The draft id in the preview's private_metadata; None for anything else."""
    try:
        data = json.loads(private_metadata or "{}")
    except ValueError:
        return None
    draft = data.get("draft_id") if isinstance(data, dict) else None
    return draft if isinstance(draft, int) and not isinstance(draft, bool) else None

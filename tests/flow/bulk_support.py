"""Driving a bulk request through the real bot as Slack would: the form's submission (pasted
rows or an attached file), the preview's Submit, and decisions on the batch's message."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import select

from bot.db.models import RequestBatch, RequestEvent, SubaccountRequest
from sandbox.slack_signing import plain_text_value, view_closed_body
from tests.flow.support import json_body
from tests.harness import ORIGIN_CHANNEL, REQUESTER, BotHarness

HEADER = "first_name,last_name,email,password,reason"


def csv_rows(count: int, *, start: int = 1, password: str = "", domain: str = "example.com") -> str:
    """`count` valid rows under HEADER (emails person-N@domain)."""
    lines = [HEADER]
    lines += [
        f"Person,Number{n},person-{n}@{domain},{password},Onboarding wave"
        for n in range(start, start + count)
    ]
    return "\n".join(lines) + "\n"


def form_values(text: str | None = None, file_ids: list[str] | None = None) -> dict[str, Any]:
    return {
        "bulk_file": {
            "bulk_file": {"type": "file_input", "files": [{"id": f} for f in file_ids or []]}
        },
        "bulk_csv": {"bulk_csv": plain_text_value(text)},
    }


def send_form(
    bot: BotHarness,
    text: str | None = None,
    *,
    file_ids: list[str] | None = None,
    user_id: str = REQUESTER,
) -> dict[str, Any]:
    """Submit the bulk form; the bot's answer (errors, a pushed preview, or an update)."""
    response = bot.sender.submit_view(
        user_id=user_id,
        callback_id="bulk_upload",
        values=form_values(text, file_ids),
        private_metadata=json.dumps({"channel_id": ORIGIN_CHANNEL}),
    )
    return json_body(response)


def preview(bot: BotHarness, text: str, **kwargs: Any) -> dict[str, Any]:
    """The preview view pushed for `text` (the form's answer must be a push)."""
    answer = send_form(bot, text, **kwargs)
    assert answer.get("response_action") == "push", answer
    view: dict[str, Any] = answer["view"]
    return view


def confirm(bot: BotHarness, view: dict[str, Any], *, user_id: str = REQUESTER) -> dict[str, Any]:
    """Press Submit on the preview `view`; the bot's answer."""
    response = bot.sender.submit_view(
        user_id=user_id,
        callback_id=view["callback_id"],
        values={},
        private_metadata=view["private_metadata"],
    )
    return json_body(response)


def go_back(bot: BotHarness, view: dict[str, Any], *, user_id: str = REQUESTER) -> None:
    """Close the preview (its Back button): Slack sends view_closed."""
    body, content_type = view_closed_body(user_id=user_id, opened={"id": "V2", "view": view})
    assert bot.sender.post(body, content_type).status_code == 200


def submit_batch(bot: BotHarness, text: str) -> RequestBatch:
    """Form, preview, Submit; waits until the batch is posted for approval."""
    answer = confirm(bot, preview(bot, text))
    assert answer.get("response_action") == "update", answer
    bot.wait()
    return latest_batch(bot)


def batches(bot: BotHarness) -> list[RequestBatch]:
    with bot.sessions() as session:
        return list(session.scalars(select(RequestBatch).order_by(RequestBatch.id)))


def latest_batch(bot: BotHarness) -> RequestBatch:
    return batches(bot)[-1]


def batch(bot: BotHarness, batch_id: int) -> RequestBatch:
    with bot.sessions() as session:
        return session.get_one(RequestBatch, batch_id)


def rows_of(bot: BotHarness, batch_id: int) -> list[SubaccountRequest]:
    with bot.sessions() as session:
        return list(
            session.scalars(
                select(SubaccountRequest)
                .where(SubaccountRequest.batch_id == batch_id)
                .order_by(SubaccountRequest.batch_row)
            )
        )


def batch_event_kinds(bot: BotHarness, batch_id: int) -> list[str]:
    with bot.sessions() as session:
        return list(
            session.scalars(
                select(RequestEvent.kind)
                .where(RequestEvent.batch_id == batch_id)
                .order_by(RequestEvent.id)
            )
        )


def react_on(bot: BotHarness, user_id: str, found: RequestBatch, reaction: str) -> None:
    assert found.approval_channel_id, "the batch was never posted"
    assert found.approval_ts, "the batch was never posted"
    response = bot.sender.react(
        user_id=user_id,
        reaction=reaction,
        channel_id=found.approval_channel_id,
        message_ts=found.approval_ts,
    )
    assert response.status_code == 200, response.text
    bot.wait(30)


def click_on(bot: BotHarness, user_id: str, found: RequestBatch, action_id: str) -> None:
    response = bot.sender.click(
        user_id=user_id,
        action_id=action_id,
        value=str(found.id),
        channel_id=found.approval_channel_id or "CNONE",
        message_ts=found.approval_ts or "1.0",
        block_id="batch_decision",
    )
    assert response.status_code == 200, response.text
    bot.wait(30)


def view_text(view: dict[str, Any]) -> str:
    return json.dumps(view.get("blocks", []), ensure_ascii=False)


def read_csv(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))

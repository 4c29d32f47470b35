"""The request form filled with an earlier request's values, for "Request again" — every field
but the password, which the bot erased and the person types (or leaves empty) again."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import CheckboxesElement, InputBlock, Option, StaticSelectElement
from slack_sdk.models.views import View

from bot.db.models import SubaccountRequest
from bot.slack import ids
from bot.slack.render.modal import request_modal


def prefilled_request_modal(row: SubaccountRequest, *, require_reason: bool) -> View:
    view = request_modal(channel_id=row.channel_id or "", require_reason=require_reason)
    texts = initial_texts(row)
    options = row.options or {}
    for block in view.blocks or []:
        if not isinstance(block, InputBlock):
            continue
        element: Any = block.element
        if isinstance(element, StaticSelectElement):
            chosen = [o for o in element.options or [] if _value(o) == options.get("pay_mode")]
            element.initial_option = chosen[0] if chosen else None
        elif isinstance(element, CheckboxesElement):
            ticked = [o for o in element.options or [] if options.get(_value(o))]
            element.initial_options = ticked or None
        elif texts.get(str(block.block_id)):
            element.initial_value = texts[str(block.block_id)]
    return view


def _value(option: Option | dict[str, Any]) -> str:
    return str(option.get("value") if isinstance(option, dict) else option.value)


def initial_texts(row: SubaccountRequest) -> dict[str, str]:
    options = row.options or {}
    return {
        ids.FIRST_NAME: row.first_name or "",
        ids.LAST_NAME: row.last_name or "",
        ids.EMAIL: row.email or "",
        ids.ACCOUNT_NAME: row.account_name or "",
        ids.SUB_RESELLER_ID: row.sub_reseller_id or "",
        ids.MEETING_CONNECTORS: ", ".join(options.get("meeting_connector_list") or []),
        ids.ROOM_CONNECTORS: ", ".join(options.get("room_connector_list") or []),
        ids.REASON: row.reason or "",
    }

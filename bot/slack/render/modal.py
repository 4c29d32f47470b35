"""The request modal: built from slack_sdk's models (which check Slack's limits) and parsed back."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from slack_sdk.models.blocks import (
    CheckboxesElement,
    ContextBlock,
    EmailInputElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.requests.validation import EMAIL_MAX, NAME_MAX, REASON_MAX, SUB_RESELLER_MAX, RequestInput
from bot.slack import ids

_OPTION_LABELS = {
    "share_mc": "Share Meeting Connectors",
    "share_rc": "Share Room Connectors",
    "billing_auto_renew": "Billing auto-renew",
}


def request_modal(*, channel_id: str, require_reason: bool) -> View:
    return View(
        type="modal",
        callback_id=ids.REQUEST_MODAL_CALLBACK,
        title="Zoom sub account",
        submit="Request",
        close="Cancel",
        private_metadata=json.dumps({"channel_id": channel_id}),
        blocks=[
            _text_input(ids.FIRST_NAME, "First name", max_length=NAME_MAX),
            _text_input(ids.LAST_NAME, "Last name", max_length=NAME_MAX),
            InputBlock(
                block_id=ids.EMAIL,
                label="Owner email",
                element=EmailInputElement(action_id=ids.EMAIL, placeholder="jill@example.com"),
                hint=f"At most {EMAIL_MAX} characters. Zoom sends the confirmation here.",
            ),
            _text_input(
                ids.PASSWORD,
                "Password",
                optional=True,
                hint="8–32 characters, upper and lower case and a digit, no runs like aaa or "
                "123. Leave empty and the bot generates one and sends it only to you.",
            ),
            _text_input(
                ids.ACCOUNT_NAME,
                "Account name",
                optional=True,
                max_length=NAME_MAX,
                hint="Zoom uses first + last name when empty.",
            ),
            _text_input(
                ids.SUB_RESELLER_ID, "Sub-reseller ID", optional=True, max_length=SUB_RESELLER_MAX
            ),
            _pay_mode_input(),
            _options_input(),
            _text_input(
                ids.MEETING_CONNECTORS,
                "Meeting Connector IPs",
                optional=True,
                hint="Comma-separated IPv4/IPv6 addresses; needs “Share Meeting Connectors”.",
            ),
            _text_input(
                ids.ROOM_CONNECTORS,
                "Room Connector IPs",
                optional=True,
                hint="Comma-separated IPv4/IPv6 addresses; needs “Share Room Connectors”.",
            ),
            _text_input(
                ids.REASON,
                "Reason",
                optional=not require_reason,
                multiline=True,
                max_length=REASON_MAX,
                hint="Why is this account needed? Approvers see this; Zoom does not.",
            ),
            ContextBlock(
                elements=[
                    MarkdownTextObject(text="The password is never shown to approvers or logged.")
                ]
            ),
        ],
    )


def request_form(*, channel_id: str, require_reason: bool) -> dict[str, Any]:
    """`request_modal(...).to_dict()` without rebuilding it: the blank form is built (and its
    limits checked by slack_sdk) once per `require_reason`; only `private_metadata` differs.

    The top-level dict is the caller's own; the nested blocks are shared by every call and
    must be treated as read-only (a deep copy would cost what the cache saves)."""
    metadata = json.dumps({"channel_id": channel_id})
    if len(metadata) > View.private_metadata_max_length:
        # Let slack_sdk refuse it exactly as it would refuse request_modal()'s.
        return request_modal(channel_id=channel_id, require_reason=require_reason).to_dict()
    return {**_blank_form(require_reason), "private_metadata": metadata}


@cache
def _blank_form(require_reason: bool) -> dict[str, Any]:
    return request_modal(channel_id="", require_reason=require_reason).to_dict()


def _text_input(
    block_id: str,
    label: str,
    *,
    optional: bool = False,
    multiline: bool = False,
    max_length: int | None = None,
    hint: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        hint=hint,
        element=PlainTextInputElement(
            action_id=block_id, multiline=multiline or None, max_length=max_length
        ),
    )


def _pay_mode_input() -> InputBlock:
    return InputBlock(
        block_id=ids.PAY_MODE,
        label="Who pays",
        optional=True,
        hint="Zoom's default is the master account.",
        element=StaticSelectElement(
            action_id=ids.PAY_MODE,
            placeholder="Master account (default)",
            options=[
                Option(value="master", label="Master account pays"),
                Option(value="sub", label="Sub account pays"),
            ],
        ),
    )


def _options_input() -> InputBlock:
    return InputBlock(
        block_id=ids.OPTIONS,
        label="Options",
        optional=True,
        element=CheckboxesElement(
            action_id=ids.OPTIONS,
            options=[Option(value=value, label=label) for value, label in _OPTION_LABELS.items()],
        ),
    )


def channel_from_metadata(private_metadata: str) -> str | None:
    try:
        channel = json.loads(private_metadata or "{}").get("channel_id")
    except (ValueError, AttributeError):
        return None
    # Only a Slack conversation ID (it fits the audit log's column); anything else is no channel.
    if isinstance(channel, str) and _CHANNEL_ID.fullmatch(channel):
        return channel
    return None


_CHANNEL_ID = re.compile(r"[A-Z0-9]{2,32}")


def parse_state(values: object) -> RequestInput:
    """Read view.state.values; anything missing or of the wrong shape reads as empty."""
    blocks: dict[str, Any] = values if isinstance(values, dict) else {}

    def element(block_id: str) -> dict[str, Any]:
        block = blocks.get(block_id)
        found = block.get(block_id) if isinstance(block, dict) else None
        return found if isinstance(found, dict) else {}

    def text(block_id: str) -> str:
        value = element(block_id).get("value")
        return value if isinstance(value, str) else ""

    selected = element(ids.PAY_MODE).get("selected_option")
    pay_mode = selected.get("value") if isinstance(selected, dict) else None
    ticked = element(ids.OPTIONS).get("selected_options")
    options = tuple(
        str(option.get("value"))
        for option in (ticked if isinstance(ticked, list) else [])
        if isinstance(option, dict)
    )
    return RequestInput(
        first_name=text(ids.FIRST_NAME),
        last_name=text(ids.LAST_NAME),
        email=text(ids.EMAIL),
        password=text(ids.PASSWORD),
        account_name=text(ids.ACCOUNT_NAME),
        sub_reseller_id=text(ids.SUB_RESELLER_ID),
        pay_mode=pay_mode if isinstance(pay_mode, str) else "",
        options=options,
        meeting_connector_list=text(ids.MEETING_CONNECTORS),
        room_connector_list=text(ids.ROOM_CONNECTORS),
        reason=text(ids.REASON),
    )


def notice_view(*, title: str, text: str) -> View:
    """A closing screen shown in place of the form after a submission."""
    return View(
        type="modal",
        title=title,
        close="Done",
        blocks=[SectionBlock(text=MarkdownTextObject(text=text))],
    )

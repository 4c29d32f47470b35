"""The confirmation step's views: the preview of a request, the form again after Back (filled in,
the password left empty), and the notice when the step can no longer be used."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.errors import UserFacingError
from bot.requests.preview import (
    PREVIEW_TTL_SECONDS,
    ApprovalRoute,
    Draft,
    Preview,
    PreviewError,
)
from bot.slack import ids
from bot.slack.render.blocks import escape
from bot.slack.render.modal import notice_view, request_modal
from bot.slack.render.user_facing import user_facing_text

SECTION_LIMIT = 3000  # Slack's limit on a section's text
_FENCE = "```"
_SHOWN_APPROVERS = 30
_AGAIN_HINT = (
    "Enter the password again, or leave this empty and the bot generates one and sends it only "
    "to you. (The bot does not send a typed password back to Slack.)"
)


def preview_view(preview: Preview) -> View:
    route = preview.route
    when = "right after you submit" if route.required_approvals == 0 else "once it is approved"
    blocks: list[Block] = [
        _section(f"*Zoom will receive exactly this* (`POST /accounts`), {when}:"),
        *[_section(chunk) for chunk in code_chunks(zoom_json(preview.zoom_body))],
        ContextBlock(elements=[MarkdownTextObject(text=_password_note(preview))]),
    ]
    if preview.reason:
        blocks.append(_section("*Reason* (for the approvers; Zoom does not receive it)"))
        blocks.append(SectionBlock(text=PlainTextObject(text=preview.reason, emoji=False)))
    blocks += [
        _section("*Who may approve*\n" + approvers_text(route)),
        _section("*Where*\n" + channel_text(route)),
        ActionsBlock(
            block_id=ids.PREVIEW_BACK_ACTION,
            elements=[
                ButtonElement(
                    action_id=ids.PREVIEW_BACK_ACTION, text="Back to the form", value="back"
                )
            ],
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Nothing is saved until you press *Submit request*. This step expires "
                    f"after {PREVIEW_TTL_SECONDS // 60} minutes."
                )
            ]
        ),
    ]
    return View(
        type="modal",
        callback_id=ids.PREVIEW_CALLBACK,
        title="Check the request",
        submit="Submit request",
        close="Cancel",
        private_metadata=preview.sealed,
        blocks=blocks,
    )


def zoom_json(body: dict[str, Any]) -> str:
    text = json.dumps(body, indent=2, ensure_ascii=False)
    # A value holding ``` would close the code block early; \u0060 is the same JSON string.
    return text.replace("`", "\\u0060") if _FENCE in text else text


def code_chunks(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """`text` escaped for mrkdwn in fenced code blocks of at most `limit` characters each, cut
    between lines (a line too long for one block is cut between characters)."""
    room = limit - 2 * len(_FENCE) - 2
    chunks: list[str] = []
    current = ""
    for line in _pieces(text, room):
        if current and len(current) + 1 + len(line) > room:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    chunks.append(current)
    return [f"{_FENCE}\n{chunk}\n{_FENCE}" for chunk in chunks]


def _pieces(text: str, room: int) -> list[str]:
    pieces = []
    for line in text.split("\n"):
        escaped = escape(line)
        while len(escaped) > room:
            cut = room
            # Never inside an entity (&amp; &lt; &gt;).
            entity = escaped.rfind("&", cut - 4, cut)
            if entity != -1:
                cut = entity
            pieces.append(escaped[:cut])
            escaped = escaped[cut:]
        pieces.append(escaped)
    return pieces


def _password_note(preview: Preview) -> str:
    if preview.password_typed:
        return "The password you typed is shown as `********`: approvers never see it."
    return "No password typed: the bot generates one and sends it only to you."


def approvers_text(route: ApprovalRoute) -> str:
    lines = []
    needed = route.required_approvals
    if needed == 0:
        lines.append("No approval is needed: the account is created as soon as you submit.")
    elif not route.approver_ids:
        lines.append(
            ":warning: Nobody else on the approver list can be found in Slack, so nobody can "
            "approve it yet. Ask an admin to check APPROVER_ALLOWLIST."
        )
    else:
        among = "from" if needed == 1 else "from different people among"
        plural = "approval" if needed == 1 else "approvals"
        lines.append(f"Needs {needed} {plural} {among}: {_mentions(route.approver_ids)}")
        if len(route.approver_ids) < needed:
            lines.append(
                f":warning: Only {len(route.approver_ids)} of them can approve it: fewer than "
                f"the {needed} approvals needed."
            )
    if needed and route.requester_is_approver:
        lines.append("Not you: nobody approves their own request.")
    return "\n".join(lines)


def _mentions(user_ids: tuple[str, ...]) -> str:
    shown = ", ".join(f"<@{escape(user_id)}>" for user_id in user_ids[:_SHOWN_APPROVERS])
    hidden = len(user_ids) - _SHOWN_APPROVERS
    return f"{shown} and {hidden} more" if hidden > 0 else shown


def channel_text(route: ApprovalRoute) -> str:
    if route.channel_id is None:
        return ":warning: The bot has no channel to post it in: ask an admin to set it up."
    what = "for the record" if route.required_approvals == 0 else "for approval"
    return f"It is posted {what} in <#{escape(route.channel_id)}>."


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


# -- Back: the form again --------------------------------------------------------------------------


def filled_form(draft: Draft, *, require_reason: bool) -> View:
    """The request form with every value of `draft` but the password, which is never sent back
    to Slack: its field is empty, with a hint saying so when one had been typed."""
    view = request_modal(channel_id=draft.channel_id or "", require_reason=require_reason)
    texts = _texts(draft)
    for block in view.blocks or []:
        if isinstance(block, InputBlock):
            _fill(block, draft, texts)
    return view


def _texts(draft: Draft) -> dict[str, str]:
    raw = draft.raw
    return {
        ids.FIRST_NAME: raw.first_name.strip(),
        ids.LAST_NAME: raw.last_name.strip(),
        ids.EMAIL: raw.email.strip(),
        ids.ACCOUNT_NAME: raw.account_name.strip(),
        ids.SUB_RESELLER_ID: raw.sub_reseller_id.strip(),
        ids.MEETING_CONNECTORS: raw.meeting_connector_list.strip(),
        ids.ROOM_CONNECTORS: raw.room_connector_list.strip(),
        ids.REASON: raw.reason.strip(),
    }


def _fill(block: InputBlock, draft: Draft, texts: dict[str, str]) -> None:
    element: Any = block.element
    if block.block_id == ids.PASSWORD:
        if draft.raw.password:
            block.hint = PlainTextObject(text=_AGAIN_HINT)
    elif isinstance(element, StaticSelectElement):
        chosen = [o for o in element.options or [] if _value(o) == draft.raw.pay_mode]
        element.initial_option = chosen[0] if chosen else None
    elif isinstance(element, CheckboxesElement):
        ticked = [o for o in element.options or [] if _value(o) in draft.raw.options]
        element.initial_options = ticked or None
    elif texts.get(str(block.block_id)):
        element.initial_value = texts[str(block.block_id)]


def _value(option: Option | dict[str, Any]) -> str:
    return str(option.get("value") if isinstance(option, dict) else option.value)


# -- when the step cannot be used ------------------------------------------------------------------


def start_again_text(problem: PreviewError | str, *, command: str) -> str:
    if isinstance(problem, UserFacingError):
        why = user_facing_text(problem)
    elif isinstance(problem, PreviewError):
        why = "This confirmation could not be read (the bot may have been reconfigured)."
    else:
        why = f"The request no longer passes the form's checks ({problem})."
    return f"{why} Nothing was saved: run `{command}` to start again."


def start_again_view(problem: PreviewError, *, command: str) -> View:
    return notice_view(title="Start again", text=start_again_text(problem, command=command))

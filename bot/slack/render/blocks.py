"""Pure Block Kit builders for the approval message, its decided states and the outcome.

User-typed text is escaped for mrkdwn so nobody can smuggle a mention or a link into a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.db.models import RequestStatus, SubaccountRequest
from bot.slack import ids


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: the three control characters, nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int) -> str:
    """Escaped text of at most `limit` characters, cut between characters, never in an entity."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    pieces, used = [], 0
    for character in text:
        piece = escape(character)
        if used + len(piece) > limit - 1:
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces) + "…"


def mention(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "someone"


def slack_date(moment: datetime | None) -> str:
    if moment is None:
        return ""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


@dataclass(frozen=True)
class ApprovalSettings:
    required_approvals: int
    approve_reaction: str
    reject_reaction: str


@dataclass(frozen=True)
class Rendered:
    text: str  # the notification fallback
    blocks: list[dict[str, Any]]


def request_message(
    row: SubaccountRequest,
    *,
    approvers: list[str],
    settings: ApprovalSettings,
    outcome: str | None = None,
) -> Rendered:
    """The approval message in whatever state the request is in."""
    blocks: list[Block] = [
        HeaderBlock(text=f"Zoom sub account request #{row.id}"),
        SectionBlock(text=f"{mention(row.requester_id)} asks for a Zoom sub account."),
        SectionBlock(fields=_detail_fields(row)),
    ]
    if row.reason:
        blocks.append(SectionBlock(text=f"*Reason*\n{_quote(row.reason)}"))
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text=_status_line(row, approvers, settings))])
    )
    if outcome:
        blocks.append(SectionBlock(text=outcome[:2900]))
    if row.status == RequestStatus.PENDING_APPROVAL:
        blocks.append(_decision_buttons(row.id))
    text = f"Zoom sub account request #{row.id} from {mention(row.requester_id)}: {_headline(row)}"
    return Rendered(text=text, blocks=[block.to_dict() for block in blocks])


def _detail_fields(row: SubaccountRequest) -> list[MarkdownTextObject]:
    pairs = [
        ("Name", f"{row.first_name or ''} {row.last_name or ''}".strip()),
        ("Owner email", row.email or ""),
        ("Account name", row.account_name or "(first + last name)"),
        ("Options", describe_options(row.options)),
    ]
    if row.sub_reseller_id:
        pairs.append(("Sub-reseller ID", row.sub_reseller_id))
    return [MarkdownTextObject(text=f"*{label}*\n{fit(value, 1900)}") for label, value in pairs]


def describe_options(options: dict[str, Any] | None) -> str:
    if not options:
        return "Zoom defaults"
    parts = []
    for flag, label in (
        ("share_mc", "share Meeting Connectors"),
        ("share_rc", "share Room Connectors"),
        ("billing_auto_renew", "billing auto-renew"),
    ):
        if options.get(flag):
            parts.append(label)
    if options.get("pay_mode"):
        parts.append(f"{options['pay_mode']} account pays")
    for key, label in (
        ("meeting_connector_list", "Meeting Connectors"),
        ("room_connector_list", "Room Connectors"),
    ):
        if options.get(key):
            parts.append(f"{label}: {', '.join(options[key])}")
    return "; ".join(parts)


REASON_SHOWN_MAX = 2800  # of a section's 3,000 characters, after escaping and quoting


def reason_fits(text: str) -> bool:
    """Whether the whole reason shows in its section (else a cut one, and the thread has it)."""
    return len(escape(text)) + text.count("\n") + 1 <= REASON_SHOWN_MAX


def _quote(text: str) -> str:
    # Each line gains a ">": leave room for them, or a reason of many short lines (each `&` an
    # `&amp;`) would break Slack's section limit and the message would never be posted.
    room = REASON_SHOWN_MAX - text.count("\n") - 1
    return "\n".join(f">{line}" for line in fit(text, max(room, 100)).split("\n"))


def _status_line(row: SubaccountRequest, approvers: list[str], settings: ApprovalSettings) -> str:
    if row.status != RequestStatus.PENDING_APPROVAL:
        return _headline(row)
    return waiting_line(approvers, settings)


def waiting_line(approvers: list[str], settings: ApprovalSettings, *, covers: str = "") -> str:
    """A pending request's status line: its approvals so far and how to decide. `covers`: what
    one decision covers, said before how (a bulk request's accounts)."""
    progress = f"{len(approvers)} of {settings.required_approvals} approvals"
    if approvers:
        progress += ": " + ", ".join(mention(user) for user in approvers)
    how = (
        f"react with :{settings.approve_reaction}: to approve or "
        f":{settings.reject_reaction}: to reject, or use the buttons."
    )
    if covers:
        return f"Waiting for approval ({progress}). {covers}: {how}"
    return f"Waiting for approval ({progress}). {how[0].upper()}{how[1:]}"


_HEADLINES = {
    RequestStatus.PENDING_APPROVAL: ":hourglass: Waiting for approval",
    RequestStatus.PROVISIONING: ":gear: Approved by {who} {when}; creating the account in Zoom…",
    RequestStatus.CREATED: ":white_check_mark: Approved by {who} {when}; account created",
    RequestStatus.FAILED: ":warning: Approved by {who} {when}; Zoom did not create the account",
    RequestStatus.UNKNOWN: ":grey_question: Approved by {who} {when}; outcome unknown, check Zoom",
    RequestStatus.REJECTED: ":no_entry: Rejected by {who} {when}",
    RequestStatus.EXPIRED: ":clock3: Expired without a decision",
    RequestStatus.DENIED: ":no_entry: Refused",
}


def _headline(row: SubaccountRequest) -> str:
    template = _HEADLINES[RequestStatus(row.status)]
    who = mention(row.approver_id) if row.approver_id else "policy (no approval required)"
    when = slack_date(row.decided_at)
    return template.format(who=who, when=when).replace("  ", " ").replace(" ;", ";")


def _decision_buttons(request_id: int) -> ActionsBlock:
    return decision_buttons(
        block_id="decision",
        approve_text="Approve",
        approve_action_id=ids.APPROVE_ACTION,
        reject_action_id=ids.REJECT_ACTION,
        value=str(request_id),
        confirm_title="Reject this request?",
        confirm_text="The requester is told; this cannot be undone.",
    )


def decision_buttons(
    *,
    block_id: str,
    approve_text: str,
    approve_action_id: str,
    reject_action_id: str,
    value: str,
    confirm_title: str,
    confirm_text: str,
) -> ActionsBlock:
    """Approve and Reject buttons carrying `value`; Reject asks to confirm first."""
    return ActionsBlock(
        block_id=block_id,
        elements=[
            ButtonElement(
                text=approve_text,
                action_id=approve_action_id,
                value=value,
                style="primary",
            ),
            ButtonElement(
                text="Reject",
                action_id=reject_action_id,
                value=value,
                style="danger",
                confirm=ConfirmObject(
                    title=confirm_title,
                    text=confirm_text,
                    confirm="Reject",
                    deny="Cancel",
                ),
            ),
        ],
    )


def request_again_message(row: SubaccountRequest, text: str) -> Rendered:
    """`text` with a button that reopens the form filled with this request's values."""
    blocks: list[Block] = [
        SectionBlock(text=text),
        ActionsBlock(
            block_id="request_again",
            elements=[
                ButtonElement(
                    text="Request again",
                    action_id=ids.REQUEST_AGAIN_ACTION,
                    value=str(row.id),
                    style="primary",
                )
            ],
        ),
    ]
    return Rendered(text=text, blocks=[block.to_dict() for block in blocks])


def mention_entry(entry: str) -> str:
    """An allowlist entry as Slack shows it: a user or user-group mention, or the email."""
    if "@" in entry:
        return escape(entry)
    if entry.startswith("S"):
        return f"<!subteam^{entry}>"
    return f"<@{entry}>"

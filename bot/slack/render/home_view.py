"""The App Home view: "Waiting for my approval" with Approve / Reject, then "My requests".

Built from slack_sdk's models, which check Slack's limits (100 blocks, text lengths) on to_dict().
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.db.models import RequestStatus, SubaccountRequest
from bot.slack import ids
from bot.slack.render.blocks import escape, fit, mention, slack_date
from bot.slack.render.request_list import age, message_link, outcome_summary

REASON_SHOWN = 300  # characters of a reason on the Home; the message has it in full


@dataclass(frozen=True)
class Waiting:
    """A pending request the viewer may decide, with who approved it so far."""

    request: SubaccountRequest
    approvers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HomeContent:
    mine: list[SubaccountRequest]  # newest first, at most a page
    mine_total: int
    waiting: list[Waiting]  # oldest first, at most a page
    waiting_total: int
    decides: bool  # an approver (or escalation approver): show the waiting section even empty


_STATUS_EMOJI = {
    RequestStatus.PENDING_APPROVAL: ":hourglass:",
    RequestStatus.PROVISIONING: ":gear:",
    RequestStatus.CREATED: ":white_check_mark:",
    RequestStatus.FAILED: ":warning:",
    RequestStatus.UNKNOWN: ":grey_question:",
    RequestStatus.REJECTED: ":no_entry:",
    RequestStatus.EXPIRED: ":clock3:",
    RequestStatus.DENIED: ":no_entry_sign:",
}


def home_view(
    content: HomeContent | None,
    *,
    now: datetime,
    team_domain: str,
    command: str,
    required_approvals: int,
    viewer_id: str,
    notice: str | None = None,
) -> View:
    blocks: list[Block] = [HeaderBlock(text="Zoom sub accounts")]
    if notice:
        blocks.append(SectionBlock(block_id="home_notice", text=notice[:2900]))
    blocks.append(_context(f"`{escape(command)}` opens the request form. Shown {slack_date(now)}."))
    if content is None:  # the database did not answer: the notice says so
        return View(type="home", callback_id=ids.HOME_VIEW_CALLBACK, blocks=blocks)
    if content.decides:
        blocks += _waiting_section(
            content,
            now=now,
            team_domain=team_domain,
            required_approvals=required_approvals,
            viewer_id=viewer_id,
        )
    blocks += _mine_section(content, now=now, team_domain=team_domain, command=command)
    return View(type="home", callback_id=ids.HOME_VIEW_CALLBACK, blocks=blocks)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


# -- waiting for my approval --------------------------------------------------------------------


def _waiting_section(
    content: HomeContent,
    *,
    now: datetime,
    team_domain: str,
    required_approvals: int,
    viewer_id: str,
) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text="Waiting for my approval")]
    if not content.waiting:
        blocks.append(_context("Nothing is waiting for your decision."))
    for item in content.waiting:
        row = item.request
        text = _waiting_text(
            item, now=now, team_domain=team_domain, required_approvals=required_approvals
        )
        blocks.append(SectionBlock(block_id=f"home_request_{row.id}", text=text))
        blocks.append(_buttons(row.id, approved_by_viewer=viewer_id in item.approvers))
    hidden = content.waiting_total - len(content.waiting)
    if hidden > 0:
        blocks.append(
            _context(f"…and {hidden} more waiting: the oldest are shown; decide those first.")
        )
    blocks.append(DividerBlock())
    return blocks


def _waiting_text(
    item: Waiting, *, now: datetime, team_domain: str, required_approvals: int
) -> str:
    row = item.request
    lines = [
        f"*#{row.id}* {mention(row.requester_id)} asks for {_who(row)}",
        f"Asked {slack_date(row.created_at)} ({age(row.created_at, now)}) — "
        + _progress(item, required_approvals)
        + (" — :rotating_light: escalated" if row.escalated_at is not None else "")
        + _link(row, team_domain),
    ]
    if row.reason:
        lines.append(f">{fit(row.reason, REASON_SHOWN)}".replace("\n", " "))
    return "\n".join(lines)


def _progress(item: Waiting, required_approvals: int) -> str:
    progress = f"{len(item.approvers)} of {required_approvals} approvals"
    if item.approvers:
        progress += ": " + ", ".join(mention(user) for user in item.approvers)
    return progress


def _buttons(request_id: int, *, approved_by_viewer: bool) -> ActionsBlock:
    """The channel's buttons under Home action ids; no Approve once the viewer approved."""
    approve = ButtonElement(
        text="Approve",
        action_id=ids.HOME_APPROVE_ACTION,
        value=str(request_id),
        style="primary",
    )
    reject = ButtonElement(
        text="Reject",
        action_id=ids.HOME_REJECT_ACTION,
        value=str(request_id),
        style="danger",
        confirm=ConfirmObject(
            title="Reject this request?",
            text="The requester is told; this cannot be undone.",
            confirm="Reject",
            deny="Cancel",
        ),
    )
    elements = [reject] if approved_by_viewer else [approve, reject]
    return ActionsBlock(block_id=f"home_decision_{request_id}", elements=elements)


# -- my requests --------------------------------------------------------------------------------


def _mine_section(
    content: HomeContent, *, now: datetime, team_domain: str, command: str
) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text="My requests")]
    if not content.mine:
        blocks.append(_context(f"You have no requests yet. `{escape(command)}` opens the form."))
    blocks.extend(
        SectionBlock(block_id=f"home_mine_{row.id}", text=_mine_text(row, now, team_domain))
        for row in content.mine
    )
    older = content.mine_total - len(content.mine)
    if older > 0:
        blocks.append(
            _context(f"…and {older} older; `{escape(command)} status ID` shows any of them.")
        )
    return blocks


def _mine_text(row: SubaccountRequest, now: datetime, team_domain: str) -> str:
    status = RequestStatus(row.status)
    parts = [
        f"{_STATUS_EMOJI[status]} *#{row.id}* {status.replace('_', ' ')}",
        _who(row) if row.email else "(no details: refused)",
        f"asked {slack_date(row.created_at)} ({age(row.created_at, now)})",
    ]
    outcome = outcome_summary(row, rejected="rejected by")
    if outcome:
        parts.append(outcome)
    return " — ".join(parts) + _link(row, team_domain)


def _who(row: SubaccountRequest) -> str:
    name = fit(f"{row.first_name or ''} {row.last_name or ''}".strip(), 200)
    return f"{name} <{escape(row.email or '')}>" if row.email else name


def _link(row: SubaccountRequest, team_domain: str) -> str:
    link = message_link(row, team_domain)
    return f" — <{link}|message>" if link else ""

"""Block Kit and words for a bulk request: its approval message (with progress), the thread
replies and DMs. Pure builders; every email and reason is escaped (see blocks.py)."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.db.models import BatchStatus, RequestBatch
from bot.requests.batch_tracking import BatchCounts, BatchSummary
from bot.slack import ids
from bot.slack.render.blocks import (
    ApprovalSettings,
    Rendered,
    decision_buttons,
    escape,
    fit,
    mention,
    slack_date,
    waiting_line,
)

SHOWN_EMAILS = 5


def batch_message(
    batch: RequestBatch, summary: BatchSummary, *, settings: ApprovalSettings
) -> Rendered:
    """The batch's approval message in whatever state it is in."""
    total = summary.counts.total
    blocks: list[Block] = [
        HeaderBlock(text=f"Zoom sub accounts: bulk request #{batch.id}"),
        SectionBlock(
            text=f"{mention(batch.requester_id)} asks for *{total}* Zoom sub accounts at once."
        ),
        SectionBlock(fields=_fields(summary)),
        ContextBlock(elements=[MarkdownTextObject(text=_status_line(batch, summary, settings))]),
    ]
    if batch.status == BatchStatus.PENDING_APPROVAL:
        blocks.append(_decision_buttons(batch.id, total))
    headline = _headline(batch, summary.counts)
    text = f"Bulk request #{batch.id} from {mention(batch.requester_id)}: {headline}"
    return Rendered(text=text, blocks=[block.to_dict() for block in blocks])


def _fields(summary: BatchSummary) -> list[MarkdownTextObject]:
    emails = ", ".join(escape(email) for email in summary.emails[:SHOWN_EMAILS])
    more = summary.counts.total - min(len(summary.emails), SHOWN_EMAILS)
    if more > 0:
        emails += f" and {more} more"
    reasons = "\n".join(f">{fit(reason, 300)}" for reason in summary.reasons) or "(none given)"
    return [
        MarkdownTextObject(text=f"*Owner emails*\n{emails}"),
        MarkdownTextObject(text=f"*Reason*\n{reasons}"),
    ]


def progress_text(counts: BatchCounts) -> str:
    """ "37 of 120 created, 2 failed" (and the unknown ones, which need a look in Zoom)."""
    text = f"{counts.created} of {counts.total} created"
    if counts.failed:
        text += f", {counts.failed} failed"
    if counts.unknown:
        text += f", {counts.unknown} unknown (check Zoom)"
    return text


def _status_line(batch: RequestBatch, summary: BatchSummary, settings: ApprovalSettings) -> str:
    if batch.status != BatchStatus.PENDING_APPROVAL:
        return _headline(batch, summary.counts)
    covers = f"One decision covers all {summary.counts.total} accounts"
    return waiting_line(summary.approvers, settings, covers=covers)


def _headline(batch: RequestBatch, counts: BatchCounts) -> str:
    who = mention(batch.approver_id) if batch.approver_id else "policy (no approval required)"
    when = slack_date(batch.decided_at)
    approved = f"Approved by {who} {when}".replace("  ", " ").strip()
    if batch.status == BatchStatus.PENDING_APPROVAL:
        return ":hourglass: Waiting for approval"
    if batch.status == BatchStatus.PROVISIONING:
        return f":gear: {approved}; creating them in Zoom: {progress_text(counts)}"
    if batch.status == BatchStatus.FINISHED:
        icon = ":white_check_mark:" if counts.created == counts.total else ":warning:"
        return f"{icon} {approved}; done: {progress_text(counts)}. Per-row outcome in the thread."
    if batch.status == BatchStatus.REJECTED:
        return f":no_entry: Rejected by {who} {when}".strip()
    return ":clock3: Expired without a decision"


def _decision_buttons(batch_id: int, total: int) -> ActionsBlock:
    return decision_buttons(
        block_id="batch_decision",
        approve_text=f"Approve all {total}",
        approve_action_id=ids.APPROVE_BATCH_ACTION,
        reject_action_id=ids.REJECT_BATCH_ACTION,
        value=str(batch_id),
        confirm_title="Reject the whole batch?",
        confirm_text="No account of it is created; the requester is told.",
    )


# -- words ----------------------------------------------------------------------------------------


def submitted_dm(batch: RequestBatch, *, channel_id: str | None, posted: bool) -> str:
    what = f"Your bulk request #{batch.id} ({batch.row_count} accounts)"
    if not posted:
        return (
            f":warning: {what} is saved, but the bot could not post it for approval (is the "
            "bot in the approval channel?). Ask an admin."
        )
    if batch.status == BatchStatus.PROVISIONING:
        return f"{what} needs no approval; creating the accounts in Zoom now."
    return f"{what} was sent for approval in <#{channel_id}>."


def decision_reply(batch: RequestBatch, *, user_id: str) -> str:
    if batch.status == BatchStatus.REJECTED:
        return f":no_entry: Rejected by <@{user_id}>; no account of this batch is created."
    return (
        f":white_check_mark: Approved by <@{user_id}>. Creating the {batch.row_count} accounts "
        "in Zoom; this message shows the progress."
    )


def decision_dm(batch: RequestBatch) -> str:
    what = f"Your bulk request #{batch.id} ({batch.row_count} accounts)"
    if batch.status == BatchStatus.REJECTED:
        return f":no_entry: {what} was rejected by {mention(batch.approver_id)}."
    if batch.status == BatchStatus.EXPIRED:
        return f":clock3: {what} expired without a decision. Send the file again to retry."
    return f":thumbsup: {what} was approved by {mention(batch.approver_id)}; creating them now."


def final_reply(batch: RequestBatch, counts: BatchCounts, *, attached: bool) -> str:
    where = "The outcome of every row is in the attached CSV." if attached else ""
    return f"Bulk request #{batch.id} is done: {progress_text(counts)}. {where}".strip()


def final_dm(batch: RequestBatch, counts: BatchCounts, *, passwords: int) -> str:
    text = f"Your bulk request #{batch.id} is done: {progress_text(counts)}."
    if passwords:
        text += (
            f" The {passwords} generated passwords are in the file sent to you here, to you only."
        )
    return text

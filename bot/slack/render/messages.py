"""The words the bot says to people: help, refusals, decisions, outcomes, status."""

from __future__ import annotations

from bot.db.models import RequestStatus, SubaccountRequest
from bot.provisioning.results import ProvisionResult
from bot.slack.render.blocks import describe_options, escape, mention, slack_date


def help_text(command: str) -> str:
    return (
        f"*{command}* opens a form to request a new Zoom sub account. Approvers decide in the "
        "approval channel; you get a message when it is approved, rejected and created.\n"
        f"• `{command}` — open the request form\n"
        f"• `{command} status ID` — where request ID stands\n"
        f"• `{command} list` — your recent requests\n"
        f"• `{command} bulk` — many accounts at once from a CSV, approved once\n"
        f"• `{command} help` — this message"
    )


def denied_request_text() -> str:
    return (
        "Sorry, you are not on the list of people who may request Zoom sub accounts. "
        "Ask an admin of this bot to add you. (This attempt was logged.)"
    )


def unavailable_text() -> str:
    return (
        "The bot's database is temporarily unavailable, so nothing was recorded and nothing was "
        "created. Please try again in a few minutes."
    )


def outcome_text(result: ProvisionResult) -> str:
    row = result.request
    if result.account is not None:
        account = result.account
        return (
            f":white_check_mark: *Created* Zoom sub account `{escape(account.id)}` for "
            f"{escape(account.owner_email)} (owner ID `{escape(account.owner_id)}`, "
            f"created {escape(account.created_at)})."
        )
    error = result.error
    if error is None:
        return f"Request #{row.id} ended as {row.status}."
    # A refusal is certain; an unknown outcome must not read as one (the account may exist).
    if error.outcome_known:
        heading = ":warning: *Zoom did not create the account.*"
    else:
        heading = ":grey_question: *Zoom did not confirm the account.*"
    return f"{heading} {escape(error.plain_words())}{_code(row)}"


def _code(row: SubaccountRequest) -> str:
    parts = []
    if row.zoom_http_status is not None:
        parts.append(f"HTTP {row.zoom_http_status}")
    if row.zoom_error_code is not None:
        parts.append(f"Zoom code {row.zoom_error_code}")
    detail = ", ".join(parts)
    if row.zoom_error_message:
        detail += (": " if detail else "") + f"“{escape(row.zoom_error_message[:500])}”"
    return f" ({detail})" if detail else ""


def decision_dm(row: SubaccountRequest) -> str:
    what = f"Your Zoom sub account request #{row.id} for {escape(row.email or '')}"
    if row.status == RequestStatus.REJECTED:
        return f":no_entry: {what} was rejected by {mention(row.approver_id)}."
    if row.status == RequestStatus.EXPIRED:
        return f":clock3: {what} expired without a decision. You can request it again."
    return f":thumbsup: {what} was approved by {mention(row.approver_id)}; creating it in Zoom now."


def outcome_dm(result: ProvisionResult) -> str:
    return f"Your Zoom sub account request #{result.request.id}: {outcome_text(result)}"


def password_dm(row: SubaccountRequest, password: str) -> str:
    return (
        f"The generated password for the new Zoom account {escape(row.email or '')} is "
        f"`{password}`\nOnly you were sent this. Sign in and change it; this message is its only "
        "copy (the bot has erased it)."
    )


def status_text(row: SubaccountRequest, approvers: list[str]) -> str:
    name = f"{row.first_name or ''} {row.last_name or ''}".strip()
    lines = [
        f"*Request #{row.id}* — {row.status.replace('_', ' ')}",
        f"For {escape(name)} "
        f"<{escape(row.email or '')}>, asked by {mention(row.requester_id)} "
        f"{slack_date(row.created_at)}",
        f"Options: {escape(describe_options(row.options))}",
    ]
    if approvers:
        lines.append("Approved by " + ", ".join(mention(user) for user in approvers))
    if row.zoom_account_id:
        lines.append(f"Zoom account `{escape(row.zoom_account_id)}`")
    if row.status in (RequestStatus.FAILED, RequestStatus.UNKNOWN):
        lines.append("Zoom said" + _code(row))
    return "\n".join(lines)

"""Driving a bulk request through the real bot as Slack would: the form's submission (pasted
rows or an attached file), the preview's Submit, and decisions on the batch's message; and
`Pending`, a request of one or of many decided the same way, for tests covering both."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.db.models import RequestApproval, RequestBatch, RequestEvent, SubaccountRequest
from bot.requests.subjects import Scope
from bot.slack import ids
from sandbox.slack_signing import plain_text_value, view_closed_body
from tests.flow.support import dms, json_body
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


# -- a request of one or of many, decided the same way ---------------------------------------------

SCOPES = [Scope.ONE, Scope.MANY]
PENDING_ROWS = 3  # the accounts of a bulk request made by submit_pending()


@dataclass(frozen=True)
class Pending:
    """A request of one account or a bulk request, posted for approval: reactions on its message
    and clicks on its buttons as Slack sends them (without waiting), and what became of it."""

    scope: Scope
    id: int
    channel_id: str
    ts: str

    @property
    def noun(self) -> str:
        """How the bot names it to the person deciding ("Request #12", "Bulk request #3")."""
        return "Request" if self.scope == Scope.ONE else "Bulk request"

    @property
    def done(self) -> str:
        """The status of the request once its accounts were all created."""
        return "created" if self.scope == Scope.ONE else "finished"

    def react(
        self, bot: BotHarness, user_id: str, reaction: str = "white_check_mark", **kwargs: Any
    ) -> Any:
        return bot.sender.react(
            user_id=user_id,
            reaction=reaction,
            channel_id=self.channel_id,
            message_ts=self.ts,
            **kwargs,
        )

    def click(self, bot: BotHarness, user_id: str, choice: str = "approve") -> Any:
        one = self.scope == Scope.ONE
        action_id = {
            ("approve", True): ids.APPROVE_ACTION,
            ("reject", True): ids.REJECT_ACTION,
            ("approve", False): ids.APPROVE_BATCH_ACTION,
            ("reject", False): ids.REJECT_BATCH_ACTION,
        }[(choice, one)]
        return bot.sender.click(
            user_id=user_id,
            action_id=action_id,
            value=str(self.id),
            channel_id=self.channel_id,
            message_ts=self.ts,
            block_id="decision" if one else "batch_decision",
        )

    def status(self, bot: BotHarness) -> str:
        """The status of the row holding the decision (the request, or the bulk request)."""
        if self.scope == Scope.ONE:
            return str(bot.request(self.id).status)
        return str(batch(bot, self.id).status)

    def deciders(self, bot: BotHarness) -> list[str | None]:
        """Who decided, as the request's row and then each of its accounts record it."""
        if self.scope == Scope.ONE:
            head = bot.request(self.id).approver_id
        else:
            head = batch(bot, self.id).approver_id
        return [head, *(row.approver_id for row in self.rows(bot))]

    def rows(self, bot: BotHarness) -> list[SubaccountRequest]:
        """Its accounts (of one: its own row)."""
        if self.scope == Scope.ONE:
            return [bot.request(self.id)]
        return rows_of(bot, self.id)

    def account_statuses(self, bot: BotHarness) -> list[str]:
        return [str(row.status) for row in self.rows(bot)]

    def kind_counts(self, bot: BotHarness, kind: str) -> list[int]:
        """How many `kind` events each account has, in account order."""
        return [bot.event_kinds(row.id).count(kind) for row in self.rows(bot)]

    def approvers(self, bot: BotHarness) -> list[list[str]]:
        """The approvals recorded on each account (sorted approver ids), in account order."""
        with bot.sessions() as session:
            return [
                sorted(
                    session.scalars(
                        select(RequestApproval.approver_id).where(
                            RequestApproval.request_id == row.id
                        )
                    )
                )
                for row in self.rows(bot)
            ]

    def zoom_posts_per_account(self, bot: BotHarness) -> Counter[str]:
        """How many times Zoom was asked to create each of its accounts (by email)."""
        emails = {row.email for row in self.rows(bot)}
        posts = Counter(str(post.body["email"]) for post in bot.zoom.account_posts)
        return Counter({email: posts[email] for email in emails})

    def thread(self, bot: BotHarness) -> list[str]:
        """What the bot said in the message's thread: replies and files' comments."""
        return [
            str(call.params.get("text") or call.params.get("initial_comment") or "")
            for call in bot.slack.calls
            if call.method in ("chat.postMessage", "files.completeUploadExternal")
            and call.params.get("thread_ts") == self.ts
        ]

    @property
    def outcome_mark(self) -> str:
        """What the bot's reports of the outcome (in the thread and DM) say."""
        return "*Created*" if self.scope == Scope.ONE else f"Bulk request #{self.id} is done:"

    def outcome_replies(self, bot: BotHarness) -> list[str]:
        return [text for text in self.thread(bot) if self.outcome_mark in text]

    def outcome_dms(self, bot: BotHarness) -> list[str]:
        mark = self.outcome_mark if self.scope == Scope.ONE else f"request #{self.id} is done:"
        return [text for text in dms(bot, REQUESTER) if mark in text]


def submit_pending(bot: BotHarness, scope: Scope) -> Pending:
    """Submit a request of `scope` (of many: PENDING_ROWS accounts) and wait until it is posted."""
    if scope == Scope.ONE:
        request: SubaccountRequest | RequestBatch = bot.submit_ok()
    else:
        request = submit_batch(bot, csv_rows(PENDING_ROWS))
    assert request.approval_channel_id, "it was never posted for approval"
    assert request.approval_ts, "it was never posted for approval"
    return Pending(scope, request.id, request.approval_channel_id, request.approval_ts)

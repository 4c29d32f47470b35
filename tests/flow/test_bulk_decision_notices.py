"""A bulk request's decision and its notices commit together (issue 11, exactly once toward
Slack): the message updated in place, the line in its thread and the requester's DM are in the
outbox the moment the decision is, so a process that dies right after the decision commits
still leaves them owed, and the worker delivers each once."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from bot.db.models import RequestBatch, SlackOutbox
from bot.durations import describe
from bot.requests import decisions
from tests.flow.bulk_support import batch, csv_rows, react_on, submit_batch
from tests.flow.support import dms, message_text
from tests.harness import APPROVAL_CHANNEL, APPROVER, REQUESTER, BotHarness, running_bot

Owed = tuple[str, str | None]  # (kind, text) of an outbox row
APPROVE, REJECT = "white_check_mark", "x"
# The outcomes that change a batch, and so owe notices; the others leave it as it was.
CHANGED = {"approved", "waiting_for_more", "rejected", "expired"}


def last_owed_id(bot: BotHarness) -> int:
    with bot.sessions() as session:
        return session.scalar(select(SlackOutbox.id).order_by(SlackOutbox.id.desc())) or 0


def in_database(bot: BotHarness, batch_id: int, since: int) -> tuple[str, list[Owed]]:
    """The batch's status and the outbox rows written after `since`, as committed now."""
    with bot.sessions() as session:
        status = session.get_one(RequestBatch, batch_id).status
        rows = session.scalars(
            select(SlackOutbox).where(SlackOutbox.id > since).order_by(SlackOutbox.id)
        )
        return str(status), [(row.kind, (row.payload or {}).get("text")) for row in rows]


def die_right_after(
    monkeypatch: pytest.MonkeyPatch, bot: BotHarness, name: str, batch_id: int
) -> list[tuple[str, list[Owed]]]:
    """decisions.<name> as if the process died the moment it returned: whatever its
    caller meant to do next fails (the database is gone), and what had been committed by then
    is noted in the list returned, once per decision that changed the batch."""
    real: Callable[..., Any] = getattr(decisions, name)
    since = last_owed_id(bot)
    seen: list[tuple[str, list[Owed]]] = []

    def dying(*args: Any, **kwargs: Any) -> Any:
        decided = real(*args, **kwargs)
        if decided is True or getattr(decided, "outcome", None) in CHANGED:
            seen.append(in_database(bot, batch_id, since))
        raise OperationalError("the process died right after the decision", None, Exception())

    monkeypatch.setattr(decisions, name, dying)
    return seen


def backdate_submission(bot: BotHarness, found: RequestBatch, *, hours: float) -> None:
    """Submitted `hours` ago: past the default TTL of 24 hours, it expires."""
    with bot.sessions.begin() as session:
        session.execute(
            update(RequestBatch)
            .where(RequestBatch.id == found.id)
            .values(submitted_at=datetime.now(UTC) - timedelta(hours=hours))
        )


def thread_texts(bot: BotHarness, found: RequestBatch) -> list[str]:
    return [
        str(call.params.get("text"))
        for call in bot.slack.calls_to("chat.postMessage")
        if call.params.get("thread_ts") == found.approval_ts
    ]


def shown(bot: BotHarness, found: RequestBatch) -> str:
    assert found.approval_ts
    return message_text(bot.slack.message(APPROVAL_CHANNEL, found.approval_ts))


def approved_reply(rows: int) -> str:
    return (
        f":white_check_mark: Approved by <@{APPROVER}>. Creating the {rows} accounts in Zoom; "
        "this message shows the progress."
    )


def test_an_approval_and_its_notices_are_committed_together(bot, monkeypatch):
    found = submit_batch(bot, csv_rows(3))
    seen = die_right_after(monkeypatch, bot, "approve", found.id)

    react_on(bot, APPROVER, found, APPROVE)

    dm = f":thumbsup: Your bulk request #{found.id} (3 accounts) was approved by <@{APPROVER}>; "
    dm += "creating them now."
    ((status, owed),) = seen
    assert status == "provisioning"
    assert {("batch_update", None), ("batch_reply", approved_reply(3)), ("dm", dm)} <= set(owed)
    bot.wait(30)
    assert thread_texts(bot, found).count(approved_reply(3)) == 1
    assert dms(bot, REQUESTER).count(dm) == 1
    assert "actions" not in shown(bot, found)  # no buttons left on the message


def test_an_approval_waiting_for_more_and_its_reply_are_committed_together(
    database_url, tmp_path, monkeypatch
):
    with running_bot(database_url, tmp_path, required_approvals=2) as bot:
        found = submit_batch(bot, csv_rows(3))
        seen = die_right_after(monkeypatch, bot, "approve", found.id)

        react_on(bot, APPROVER, found, APPROVE)

        reply = f"<@{APPROVER}> approved (1 of 2 approvals)."
        assert seen == [("pending_approval", [("batch_update", None), ("batch_reply", reply)])]
        bot.wait(30)
        assert thread_texts(bot, found) == [reply]


def test_a_rejection_and_its_notices_are_committed_together(bot, monkeypatch):
    found = submit_batch(bot, csv_rows(3))
    seen = die_right_after(monkeypatch, bot, "reject", found.id)

    react_on(bot, APPROVER, found, REJECT)

    reply = f":no_entry: Rejected by <@{APPROVER}>; no account of this batch is created."
    dm = f":no_entry: Your bulk request #{found.id} (3 accounts) was rejected by <@{APPROVER}>."
    assert seen == [("rejected", [("batch_update", None), ("batch_reply", reply), ("dm", dm)])]
    bot.wait(30)
    assert thread_texts(bot, found) == [reply]
    assert dms(bot, REQUESTER).count(dm) == 1
    assert "actions" not in shown(bot, found)


def expired_dm(batch_id: int) -> str:
    return (
        f":clock3: Your bulk request #{batch_id} (3 accounts) expired without a decision. "
        "Send the file again to retry."
    )


def test_an_expiry_by_the_sweep_and_its_notices_are_committed_together(bot, monkeypatch):
    found = submit_batch(bot, csv_rows(3))
    seen = die_right_after(monkeypatch, bot, "expire", found.id)
    backdate_submission(bot, found, hours=25)
    progress = bot.runtime.bulk.progress

    # Raised here, unless the job loop's own sweep (every 10 s) expired it first and died.
    with contextlib.suppress(OperationalError):
        progress.sweep_now()

    ttl = progress.settings.approval_ttl
    reply = f":clock3: Expired: nobody decided within {describe(ttl)}."
    owed = [("batch_update", None), ("batch_reply", reply), ("dm", expired_dm(found.id))]
    assert seen == [("expired", owed)]
    bot.wait(30)
    assert thread_texts(bot, found) == [reply]
    assert dms(bot, REQUESTER).count(expired_dm(found.id)) == 1
    assert "actions" not in shown(bot, found)


def test_an_expiry_found_by_a_late_decision_and_its_notices_are_committed_together(
    bot, monkeypatch
):
    found = submit_batch(bot, csv_rows(3))
    seen = die_right_after(monkeypatch, bot, "approve", found.id)
    backdate_submission(bot, found, hours=25)

    react_on(bot, APPROVER, found, APPROVE)

    assert seen == [("expired", [("batch_update", None), ("dm", expired_dm(found.id))])]
    bot.wait(30)
    assert batch(bot, found.id).status == "expired"
    assert dms(bot, REQUESTER).count(expired_dm(found.id)) == 1
    assert "actions" not in shown(bot, found)

"""A bulk request's own messages through the Slack outbox: its approval message posted exactly
once whatever Slack answers (429, an answer lost after Slack acted), its progress updates after
a 429, and a reaction that arrives before the bot has recorded the message's ts."""

import time

from sqlalchemy import select

from bot.db.models import RequestEvent, SlackOutbox
from bot.delivery.posting import METADATA_TYPE
from bot.requests import workflow
from tests.flow.bulk_support import (
    batch,
    batch_event_kinds,
    confirm,
    csv_rows,
    latest_batch,
    preview,
    react_on,
    rows_of,
    submit_batch,
)
from tests.flow.support import dms, message_text, posts
from tests.harness import APPROVAL_CHANNEL, APPROVER, REQUESTER, running_bot

APPROVE = "white_check_mark"


def eventually(predicate, *, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not hold within {timeout}s")


def batch_messages(bot, channel=APPROVAL_CHANNEL):
    """The top-level messages the outbox posted for a batch in `channel`."""
    with bot.sessions() as session:
        ids = set(
            session.scalars(select(SlackOutbox.id).where(SlackOutbox.kind == "batch_post")).all()
        )
    return [
        message
        for message in bot.slack.channel_messages(channel)
        if (message.get("metadata") or {}).get("event_type") == METADATA_TYPE
        and message["metadata"]["event_payload"]["outbox_id"] in ids
    ]


def batch_delivery_results(bot):
    """(kind, result) of every delivery attempt of a batch's own rows."""
    with bot.sessions() as session:
        details = session.scalars(
            select(RequestEvent.detail).where(RequestEvent.kind == "slack_delivery")
        ).all()
    return [
        (detail["kind"], detail["result"])
        for detail in details
        if detail["kind"].startswith("batch_")
    ]


def assert_posted_once(bot, found):
    (message,) = batch_messages(bot)
    assert found.approval_ts == message["ts"]
    assert f"bulk request #{found.id}" in message_text(message)
    assert sorted(reaction["name"] for reaction in message["reactions"]) == [APPROVE, "x"]
    assert len(bot.slack.calls_to("reactions.add")) == 2
    where = f"was sent for approval in <#{APPROVAL_CHANNEL}>."
    assert dms(bot, REQUESTER) == [f"Your bulk request #{found.id} (3 accounts) {where}"]
    assert batch_event_kinds(bot, found.id) == ["submitted", "posted"]


def test_a_rate_limited_batch_message_is_posted_once_after_retry_after(bot):
    bot.slack.rate_limit_next("chat.postMessage", retry_after=1, channel=APPROVAL_CHANNEL)

    found = submit_batch(bot, csv_rows(3))

    assert [call.answered for call in posts(bot, APPROVAL_CHANNEL)] == ["429", "ok"]
    assert_posted_once(bot, found)
    assert ("batch_post", "rate_limited") in batch_delivery_results(bot)
    assert ("batch_post", "delivered") in batch_delivery_results(bot)


def test_a_batch_message_whose_answer_was_lost_is_looked_up_not_posted_again(bot):
    # The submission owes only the batch's message: it is the first chat.postMessage.
    bot.slack.lose_answer_next("chat.postMessage")

    found = submit_batch(bot, csv_rows(3))

    assert [call.answered for call in posts(bot, APPROVAL_CHANNEL)] == ["lost"]
    history = bot.slack.calls_to("conversations.history")
    assert any(call.params.get("channel") == APPROVAL_CHANNEL for call in history)
    assert_posted_once(bot, found)
    assert ("batch_post", "ambiguous") in batch_delivery_results(bot)


def test_progress_reaches_the_batch_message_after_a_rate_limited_update(database_url, tmp_path):
    with running_bot(database_url, tmp_path, zoom_rate_limit_per_second=2) as bot:
        found = submit_batch(bot, csv_rows(4))
        bot.slack.rate_limit_next("chat.update", retry_after=1, times=1)

        react_on(bot, APPROVER, found, APPROVE)
        bot.wait(30)

        assert bot.slack.rate_limited_count("chat.update") == 1
        assert ("batch_update", "rate_limited") in batch_delivery_results(bot)
        assert {row.status for row in rows_of(bot, found.id)} == {"created"}
        final = message_text(bot.slack.message(APPROVAL_CHANNEL, found.approval_ts))
        assert "done: 4 of 4 created" in final
        updates = [
            call
            for call in bot.slack.calls_to("chat.update")
            if call.params.get("ts") == found.approval_ts
        ]
        assert "done: 4 of 4 created" in str(updates[-1].params.get("text"))
        assert len(batch_messages(bot)) == 1


def test_a_reaction_before_the_batch_ts_is_recorded_is_applied_after(database_url, tmp_path):
    with running_bot(database_url, tmp_path, slack_timeout_seconds=5) as bot:
        bot.slack.stall_next("chat.postMessage", acted=True, seconds=3)

        answer = confirm(bot, preview(bot, csv_rows(3)))
        assert answer.get("response_action") == "update", answer
        eventually(lambda: batch_messages(bot), timeout=10, what="the batch message in Slack")
        (message,) = batch_messages(bot)
        assert latest_batch(bot).approval_ts is None, "the post returned before the reaction"
        reacted = bot.sender.react(
            user_id=APPROVER,
            reaction=APPROVE,
            channel_id=APPROVAL_CHANNEL,
            message_ts=message["ts"],
            item_user="UBOT",
        )
        assert reacted.status_code == 200, reacted.text
        bot.wait(30)

        found = batch(bot, latest_batch(bot).id)
        assert found.approval_ts == message["ts"]
        assert found.status == "finished"
        assert {row.status for row in rows_of(bot, found.id)} == {"created"}
        assert len(bot.zoom.account_posts) == 3
        kinds = bot.event_kinds(None)
        assert "reaction_held" in kinds
        assert {row.approver_id for row in rows_of(bot, found.id)} == {APPROVER}


def test_a_held_batch_reaction_is_applied_by_the_repairs(database_url, tmp_path):
    """A reaction held for a batch message whose ts is recorded (the worker died between the
    two) is applied by the periodic repairs."""
    with running_bot(database_url, tmp_path) as bot:
        confirm(bot, preview(bot, csv_rows(2)))
        bot.wait()
        posted = latest_batch(bot)
        assert posted.status == "pending_approval"
        # As Decisions leaves one when the reaction comes before the ts is recorded.
        workflow.hold_reaction(
            bot.sessions,
            channel_id=posted.approval_channel_id,
            ts=posted.approval_ts,
            user_id=APPROVER,
            reaction=APPROVE,
        )

        bot.runtime.repairs.apply_held_batch_reactions()
        bot.wait(30)

        assert latest_batch(bot).status == "finished"
        assert len(bot.zoom.account_posts) == 2


# -- the report's files: owed with the report, shared once, passwords erased when settled --------


def shares_in(bot, channel):
    """Every message in `channel` (thread replies included) that shares a file."""
    found = []
    for message in bot.slack.channel_messages(channel):
        found += [m for m in [message, *message.get("replies", [])] if m.get("files")]
    return found


def test_an_outcome_file_whose_share_answer_was_lost_is_shared_once(bot):
    found = submit_batch(bot, csv_rows(2))
    bot.slack.lose_answer_next("files.completeUploadExternal")

    react_on(bot, APPROVER, found, APPROVE)
    bot.wait()

    assert len(shares_in(bot, APPROVAL_CHANNEL)) == 1
    assert len(shares_in(bot, f"D{REQUESTER}")) == 1  # the generated passwords
    assert "outcome_posted" in batch_event_kinds(bot, found.id)
    assert "passwords_sent" in batch_event_kinds(bot, found.id)
    assert all(row.password_ciphertext is None for row in rows_of(bot, found.id))


def test_passwords_that_cannot_be_uploaded_are_erased_and_the_requester_told(bot):
    found = submit_batch(bot, csv_rows(2))
    bot.slack.fail_next("files.getUploadURLExternal", "missing_scope", times=2)

    react_on(bot, APPROVER, found, APPROVE)
    bot.wait()

    kinds = batch_event_kinds(bot, found.id)
    assert "passwords_not_sent" in kinds
    assert "outcome_post_failed" in kinds  # and the outcome replied as text instead
    assert all(row.password_ciphertext is None for row in rows_of(bot, found.id))
    assert any("could not be sent to you" in text for text in dms(bot, REQUESTER))
    assert bot.slack.uploaded_files() == []


def test_the_reports_files_are_owed_in_the_transaction_that_marks_it_reported(bot):
    found = submit_batch(bot, csv_rows(2))

    react_on(bot, APPROVER, found, APPROVE)
    eventually(lambda: batch(bot, found.id).reported_at is not None, what="the report")

    with bot.sessions() as session:
        files = session.scalars(select(SlackOutbox.payload).where(SlackOutbox.kind == "file")).all()
    assert sorted(payload["file"] for payload in files) == ["batch_outcome", "batch_passwords"]

"""The Slack outbox through the real HTTP endpoint: every message the bot owes reaches Slack
exactly once, whatever Slack answers (429, 5xx, lost or late answers, closed connections,
permanent errors), in order, and reactions whose events were lost or early still count.

Faults that are not per channel (lost answers, stalls, 5xx, fail_next) must hit the approval
post, not the requester's "sent for approval" DM owed beside it: `hold_back_dms` delays the
DM's conversations.open so the approval post is the first chat.postMessage of a submission.
"""

import json
import time
from collections import Counter
from contextlib import contextmanager

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bot.db.models import HeldReaction, RequestEvent, SlackOutbox
from bot.delivery.posting import METADATA_TYPE
from tests.flow.support import approve, dms, message_text, posts, thread_replies
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    ENCRYPTION_KEY,
    OUTSIDER,
    REQUESTER,
    preview_metadata,
    running_bot,
)

OPS = "COPS1"
APPROVE = "white_check_mark"


# -- helpers ------------------------------------------------------------------------------------


def eventually(predicate, *, timeout=30.0, what="the condition"):
    """Polls `predicate` until it holds (a bounded wait, not a timed assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not hold within {timeout}s")


def hold_back_dms(bot, seconds=0.5):
    """The next DM's conversations.open answers only after `seconds`, so the approval post
    owed in the same transaction is the first chat.postMessage to leave."""
    bot.slack.delay_next("conversations.open", seconds)


def post_rows(bot):
    """outbox id → request id of every approval-post row."""
    with bot.sessions() as session:
        rows = session.execute(
            select(SlackOutbox.id, SlackOutbox.request_id).where(SlackOutbox.kind == "request_post")
        ).all()
    return dict(rows)


def ours(message):
    return (message.get("metadata") or {}).get("event_type") == METADATA_TYPE


def approval_messages(bot, channel=APPROVAL_CHANNEL):
    """(request id, message) of each approval message in `channel`, in channel order."""
    rows = post_rows(bot)
    found = []
    for message in bot.slack.channel_messages(channel):
        if not ours(message):
            continue
        outbox_id = message["metadata"]["event_payload"]["outbox_id"]
        if outbox_id in rows:
            found.append((rows[outbox_id], message))
    return found


def messages_of(bot, request):
    """The approval messages of `request`, checked to show its header."""
    found = [message for request_id, message in approval_messages(bot) if request_id == request.id]
    for message in found:
        assert f"request #{request.id}" in message_text(message)
    return found


def bot_messages(bot, channel=APPROVAL_CHANNEL):
    """Top-level messages in `channel` whose metadata names an outbox row."""
    return [message for message in bot.slack.channel_messages(channel) if ours(message)]


def delivered_results(bot, request):
    return [(event["kind"], event["result"]) for event in bot.delivery_events(request.id)]


def submit_many(bot, count):
    for number in range(count):
        response = bot.submit(email=f"person{number}@example.com")
        assert response.status_code == 200, response.text
        assert json.loads(response.text)["response_action"] == "update", response.text


def count_rows(bot, model):
    with bot.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def stored_password(request):
    return Fernet(ENCRYPTION_KEY).decrypt(request.password_ciphertext).decode()


def slack_calls_carrying(bot, text):
    return [call for call in bot.slack.calls if text in json.dumps(call.params)]


def wall_clock_ts(harness):
    """Message ts as real Slack gives them (the wall clock), not the emulator's fixed sequence
    from 1700000000: the bot's look-up before a re-post reads conversations.history from a
    minute before the row was owed, which would miss every fixed-sequence message."""
    slack = harness.slack
    # SlackEmulator takes clock_ts only when built, and running_bot builds it with the default.
    with slack._changed:
        slack._state.clock_ts = True


@contextmanager
def delivery_bot(database_url, tmp_path, **overrides):
    with running_bot(database_url, tmp_path, **overrides) as harness:
        wall_clock_ts(harness)
        yield harness


@pytest.fixture
def bot(database_url, tmp_path):
    with delivery_bot(database_url, tmp_path) as harness:
        yield harness


@pytest.fixture
def ops_bot(database_url, tmp_path):
    with delivery_bot(database_url, tmp_path, ops_channel=OPS) as harness:
        yield harness


@pytest.fixture
def impatient_bot(database_url, tmp_path):
    """Slack calls time out after 1 s."""
    with delivery_bot(database_url, tmp_path, slack_timeout_seconds=1) as harness:
        yield harness


# -- 1. rate limited ------------------------------------------------------------------------


def test_rate_limited_approval_post_is_posted_once_after_retry_after(bot):
    bot.slack.rate_limit_next("chat.postMessage", retry_after=1, channel=APPROVAL_CHANNEL)

    request = bot.submit_ok()

    (message,) = messages_of(bot, request)
    assert bot.slack.rate_limited_count("chat.postMessage") == 1
    assert [call.answered for call in posts(bot, APPROVAL_CHANNEL)] == ["429", "ok"]
    assert request.approval_ts == message["ts"]
    assert ("request_post", "rate_limited") in delivered_results(bot, request)
    assert ("request_post", "delivered") in delivered_results(bot, request)


# -- 2, 3. answers lost after Slack acted -----------------------------------------------------


def test_lost_answer_after_posting_is_looked_up_not_posted_again(bot):
    hold_back_dms(bot)
    bot.slack.lose_answer_next("chat.postMessage")

    request = bot.submit_ok()

    (message,) = messages_of(bot, request)
    assert len(bot_messages(bot)) == 1
    assert request.approval_ts == message["ts"]
    assert [call.answered for call in posts(bot, APPROVAL_CHANNEL)] == ["lost"]
    history = bot.slack.calls_to("conversations.history")
    assert any(call.params.get("channel") == APPROVAL_CHANNEL for call in history)
    assert ("request_post", "ambiguous") in delivered_results(bot, request)


def test_server_error_after_posting_posts_the_request_once(bot):
    hold_back_dms(bot)
    bot.slack.server_error_next("chat.postMessage", status=503, acted=True)

    request = bot.submit_ok()

    (message,) = messages_of(bot, request)
    assert len(bot_messages(bot)) == 1
    assert request.approval_ts == message["ts"]
    assert [call.answered for call in posts(bot, APPROVAL_CHANNEL)] == ["503"]
    assert bot.slack.calls_to("conversations.history")


def test_answer_later_than_the_timeout_posts_the_request_once(impatient_bot):
    bot = impatient_bot
    hold_back_dms(bot, seconds=0.3)
    bot.slack.stall_next("chat.postMessage", acted=True, seconds=3)

    request = bot.submit_ok()

    (message,) = messages_of(bot, request)
    assert len(bot_messages(bot)) == 1
    assert request.approval_ts == message["ts"]
    assert [call.answered for call in posts(bot, APPROVAL_CHANNEL)] == ["stalled"]
    assert bot.slack.calls_to("conversations.history")


# -- 4. permanent error -----------------------------------------------------------------------


def test_permanent_post_error_warns_requester_and_ops_without_retry(ops_bot):
    bot = ops_bot
    hold_back_dms(bot)
    bot.slack.fail_next("chat.postMessage", "channel_not_found")

    request = bot.submit_ok()
    bot.wait()

    final = bot.request(request.id)
    assert final.status == "pending_approval"
    assert final.approval_ts is None
    assert "post_failed" in bot.event_kinds(request.id)
    assert [call.answered for call in posts(bot, APPROVAL_CHANNEL)] == ["error:channel_not_found"]
    assert any(
        f"request #{request.id} is saved, but the bot could not post it" in text
        for text in dms(bot, REQUESTER)
    )
    ops_texts = [str(message.get("text")) for message in bot.slack.channel_messages(OPS)]
    assert any(
        f"request #{request.id}" in text and "channel_not_found" in text for text in ops_texts
    )
    assert ("request_post", "failed") in delivered_results(bot, request)


# -- 5. a burst ------------------------------------------------------------------------------


def test_burst_of_requests_is_posted_once_each_in_request_order(database_url, tmp_path):
    with delivery_bot(database_url, tmp_path, slack_posts_per_second=2) as bot:
        bot.slack.limit_channel_posts(per_second=2, burst=2)

        submit_many(bot, 8)
        bot.wait(timeout_seconds=90)

        ids = [request.id for request in bot.requests()]
        posted = [request_id for request_id, _message in approval_messages(bot)]
        assert len(ids) == 8
        assert posted == ids
        assert len(bot_messages(bot)) == 8
        for request in bot.requests():
            (message,) = messages_of(bot, request)
            assert request.approval_ts == message["ts"]


# -- 6. updates and thread replies ------------------------------------------------------------


def test_rate_limited_update_and_reply_still_end_in_the_final_state(bot):
    request = bot.submit_ok()
    bot.slack.rate_limit_next("chat.update", times=1)
    bot.slack.rate_limit_next("chat.postMessage", times=1, channel=APPROVAL_CHANNEL)

    final = approve(bot, request)

    assert final.status == "created"
    assert bot.slack.rate_limited_count("chat.update") == 1
    (limited,) = [c for c in bot.slack.calls_to("chat.postMessage") if c.answered == "429"]
    assert limited.params.get("thread_ts") == final.approval_ts
    message = bot.slack.message(APPROVAL_CHANNEL, request.approval_ts)
    assert message is not None
    assert "account created" in message_text(message)
    assert "actions" not in [block.get("type") for block in message["blocks"]]
    (top,) = [
        m for m in bot.slack.channel_messages(APPROVAL_CHANNEL) if m["ts"] == final.approval_ts
    ]
    replies = [str(reply.get("text")) for reply in top.get("replies", [])]
    assert replies
    assert all(count == 1 for count in Counter(replies).values()), replies
    # Every reply the bot tried (the 429'd one too) is in the thread, once.
    assert set(thread_replies(bot, final)) == set(replies)


# -- 7. reactions whose events never came --------------------------------------------------


def test_reaction_without_event_is_applied_by_the_read_back(bot):
    request = bot.submit_ok()
    bot.slack.add_reaction(APPROVAL_CHANNEL, request.approval_ts, APPROVE, APPROVER)

    applied = bot.runtime.repairs.reconcile_reactions()
    bot.wait()

    assert applied == 1
    final = bot.request(request.id)
    assert final.status == "created"
    assert final.approver_id == APPROVER
    assert "approval" in bot.event_kinds(request.id)


def test_read_back_ignores_a_reaction_by_someone_not_allowed(bot):
    request = bot.submit_ok()
    bot.slack.add_reaction(APPROVAL_CHANNEL, request.approval_ts, APPROVE, OUTSIDER)
    before = bot.event_kinds(request.id)
    calls_before = len(bot.slack.calls)

    applied = bot.runtime.repairs.reconcile_reactions()
    bot.wait()

    assert applied == 0
    assert bot.request(request.id).status == "pending_approval"
    assert bot.event_kinds(request.id) == before
    later = bot.slack.calls[calls_before:]
    assert [call.method for call in later] == ["reactions.get"]


# -- 8. a reaction before the bot knew its message ----------------------------------------------


def test_reaction_arriving_before_the_ts_is_recorded_is_applied_after(database_url, tmp_path):
    with delivery_bot(database_url, tmp_path, slack_timeout_seconds=5) as bot:
        hold_back_dms(bot)
        bot.slack.stall_next("chat.postMessage", acted=True, seconds=3)

        response = bot.submit()
        assert response.status_code == 200, response.text
        eventually(lambda: bot_messages(bot), timeout=10, what="the approval message in Slack")
        (message,) = bot_messages(bot)
        (request,) = bot.requests()
        assert request.approval_ts is None, "the post returned before the reaction was sent"
        reacted = bot.sender.react(
            user_id=APPROVER,
            reaction=APPROVE,
            channel_id=APPROVAL_CHANNEL,
            message_ts=message["ts"],
            item_user="UBOT",
        )
        assert reacted.status_code == 200, reacted.text
        bot.wait(timeout_seconds=30)

        final = bot.request(request.id)
        assert final.approval_ts == message["ts"]
        assert final.status == "created"
        kinds = bot.event_kinds(None)
        assert "reaction_held" in kinds
        assert kinds.index("reaction_held") < kinds.index("approval") < kinds.index("approved")


# -- 9. reactions on other people's messages -------------------------------------------------


def test_reaction_on_someone_elses_message_writes_nothing(bot):
    request = bot.submit_ok()
    events_before = count_rows(bot, RequestEvent)
    held_before = count_rows(bot, HeldReaction)

    response = bot.sender.react(
        user_id=APPROVER,
        reaction=APPROVE,
        channel_id=APPROVAL_CHANNEL,
        message_ts="1700000000.000100",
        item_user=REQUESTER,
    )
    bot.wait()

    assert response.status_code == 200
    assert count_rows(bot, RequestEvent) == events_before
    assert count_rows(bot, HeldReaction) == held_before
    assert bot.request(request.id).status == "pending_approval"


# -- 10. the generated password ----------------------------------------------------------------


def test_generated_password_is_sent_once_then_erased(bot):
    request = bot.submit_ok(password="")
    password = stored_password(request)

    final = approve(bot, request)

    assert final.status == "created"
    assert final.password_ciphertext is None
    assert "password_erased" in bot.event_kinds(request.id)
    (call,) = slack_calls_carrying(bot, password)
    assert (call.method, call.params["channel"]) == ("chat.postMessage", f"D{REQUESTER}")
    in_dm = [m for m in bot.slack.channel_messages(f"D{REQUESTER}") if password in str(m["text"])]
    assert len(in_dm) == 1


def test_undeliverable_password_is_erased_and_the_requester_told_to_reset(bot):
    request = bot.submit_ok(password="")
    password = stored_password(request)
    # Every DM after the approval (the outcome's, then the password's) fails for good.
    bot.slack.fail_next("conversations.open", "user_not_found", times=10)

    final = approve(bot, request)

    assert final.status == "created"
    assert final.password_ciphertext is None
    kinds = bot.event_kinds(request.id)
    assert "password_undeliverable" in kinds
    assert "password_erased" not in kinds
    assert any("Reset it in Zoom" in text for text in thread_replies(bot, final))
    assert slack_calls_carrying(bot, password) == []
    assert password not in bot.slack.raw_log()


# -- 11. closed connections -------------------------------------------------------------------


def test_closed_connections_post_each_request_once(bot):
    bot.slack.close_connection_every(3)

    submit_many(bot, 5)
    bot.wait(timeout_seconds=60)

    requests = bot.requests()
    assert len(requests) == 5
    assert len(bot_messages(bot)) == 5
    for request in requests:
        (message,) = messages_of(bot, request)
        assert request.approval_ts == message["ts"]


# -- 12. the confirmation step twice ----------------------------------------------------------


def test_confirmation_submitted_twice_stores_one_request(bot):
    sealed = preview_metadata(bot.submit_form())
    assert sealed is not None

    first = bot.confirm(REQUESTER, sealed)
    second = bot.confirm(REQUESTER, sealed)
    bot.wait()

    for response in (first, second):
        assert response.status_code == 200, response.text
        assert json.loads(response.text)["response_action"] == "update", response.text
    (request,) = bot.requests()
    assert len(messages_of(bot, request)) == 1
    assert len(bot_messages(bot)) == 1


# -- 13. health ---------------------------------------------------------------------------------


def test_healthz_reports_the_in_process_worker(bot):
    url = bot.url.removesuffix("/slack/events") + "/healthz"
    answers = []

    def healthy():
        answers.append(httpx.get(url, timeout=5))
        return answers[-1].status_code == 200

    eventually(healthy, timeout=15, what="GET /healthz answering 200")

    body = answers[-1].json()
    assert body["status"] == "ok"
    assert body["worker"] == "ok"

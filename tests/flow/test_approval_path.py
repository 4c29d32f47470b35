"""The path from an approval to the Zoom call: Zoom is called before the approval is told in
Slack, and the messages still end in the right order when Slack is slower than Zoom."""

import threading

from sqlalchemy import event

from tests.flow.support import approve, message_text, thread_replies, updates_of
from tests.harness import APPROVER, OUTSIDER

SLOW_SLACK_SECONDS = 0.5


def creating(call):
    return "creating the account in Zoom" in call.params.get("text", "")


def test_zoom_is_called_while_the_approval_update_is_still_on_its_way(bot):
    request = bot.submit_ok()
    bot.slack.delay_next("chat.update", SLOW_SLACK_SECONDS)

    approve(bot, request)

    (post,) = bot.zoom.account_posts
    (approval_update,) = [call for call in updates_of(bot, request) if creating(call)]
    assert post.at < approval_update.at  # `at`: when the slow update took effect


def test_outcome_is_the_final_message_when_the_approval_update_lands_after_it(bot):
    request = bot.submit_ok()
    bot.slack.delay_next("chat.update", SLOW_SLACK_SECONDS)

    final = approve(bot, request)

    updates = updates_of(bot, request)
    # The job's update took effect first, the slow approval's next, the re-rendered outcome last.
    assert [creating(call) for call in updates] == [False, True, False]
    assert updates[0].params["blocks"] == updates[-1].params["blocks"]
    message = bot.slack.message(request.approval_channel_id, request.approval_ts)
    assert "account created" in message["text"]
    assert final.zoom_account_id in message_text(message)


def test_failed_outcome_is_rendered_again_exactly_as_the_job_rendered_it(bot):
    bot.zoom.blocked_domains.add("example.com")
    request = bot.submit_ok()
    bot.slack.delay_next("chat.update", SLOW_SLACK_SECONDS)

    final = approve(bot, request)

    assert final.status == "failed"
    first, _approval, last = updates_of(bot, request)
    assert first.params["blocks"] == last.params["blocks"]
    assert "Zoom did not create the account" in message_text(last.params)


def test_outcome_replies_wait_for_the_approval_replies(bot):
    request = bot.submit_ok()
    bot.slack.delay_next("chat.postMessage", SLOW_SLACK_SECONDS)  # the approval's reply

    approve(bot, request)

    replies = thread_replies(bot, request)
    assert len(replies) == 2
    assert f"Approved by <@{APPROVER}>" in replies[0]
    assert "*Created*" in replies[1]


def test_refused_reaction_reads_the_request_once_and_writes_its_audit_row(bot):
    request = bot.submit_ok()
    statements = []

    def record(_conn, _cursor, statement, *_args):
        if threading.current_thread().name.startswith("zoombot"):  # the background task
            statements.append(statement.split()[0].upper())

    event.listen(bot.runtime.engine, "before_cursor_execute", record)
    try:
        bot.react(OUTSIDER, request)
        bot.wait()
    finally:
        event.remove(bot.runtime.engine, "before_cursor_execute", record)

    assert statements == ["SELECT", "INSERT"]
    assert bot.event_kinds(request.id)[-1] == "approve_refused"

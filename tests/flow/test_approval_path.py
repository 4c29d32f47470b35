"""The path from an approval to the Zoom call: Zoom is called before the approval is told in
Slack, and the messages still end in the right order when Slack is slower than Zoom."""

from tests.flow.support import approve, thread_replies
from tests.harness import APPROVER

SLOW_SLACK_SECONDS = 0.5


def creating(call):
    return "creating the account in Zoom" in call.params.get("text", "")


def test_outcome_replies_wait_for_the_approval_replies(bot):
    request = bot.submit_ok()
    bot.slack.delay_next("chat.postMessage", SLOW_SLACK_SECONDS)  # the approval's reply

    approve(bot, request)

    replies = thread_replies(bot, request)
    assert len(replies) == 2
    assert f"Approved by <@{APPROVER}>" in replies[0]
    assert "*Created*" in replies[1]

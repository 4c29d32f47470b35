"""`/zoom-subaccount list`: the caller's recent requests, answered privately in the ack."""

from tests.flow.support import approve, calls_after_startup
from tests.harness import APPROVER, OUTSIDER, REQUESTER


def listing(bot, user_id):
    response = bot.slash(user_id, text="list")
    assert response.status_code == 200, response.text
    # A plain-text answer to a slash command is shown to the caller only (ephemeral).
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_list_shows_the_requester_s_requests_newest_first_with_status_and_link(bot):
    created = approve(bot, bot.submit_ok(email="first@example.com"))
    pending = bot.submit_ok(email="second@example.com")

    text = listing(bot, REQUESTER)

    lines = text.splitlines()
    assert lines[0] == "*Your 2 most recent Zoom sub account requests* (newest first):"
    assert lines[1].startswith(f"• *#{pending.id}* pending approval — Jill Chill <second@")
    assert lines[2].startswith(f"• *#{created.id}* created — Jill Chill <first@")
    assert f"Zoom account `{created.zoom_account_id}`" in lines[2]
    assert "(just now)" in lines[1]
    ts = pending.approval_ts.replace(".", "")
    assert f"<https://fake.slack.com/archives/{pending.approval_channel_id}/p{ts}|message>" in text


def test_list_shows_nobody_else_s_requests(bot):
    bot.submit_ok()

    text = listing(bot, APPROVER)

    assert text == "You have no Zoom sub account requests yet. `/zoom-subaccount` opens the form."


def test_list_shows_a_refused_attempt_to_the_person_refused(bot):
    bot.submit(OUTSIDER)
    bot.wait()

    text = listing(bot, OUTSIDER)

    assert "denied — (no details: refused)" in text


def test_list_shows_who_rejected(bot):
    request = bot.submit_ok()
    bot.click(APPROVER, request, action_id="reject_request")
    bot.wait()

    assert "rejected — Jill Chill <jill@example.com> — asked " in listing(bot, REQUESTER)
    assert f"by <@{APPROVER}>" in listing(bot, REQUESTER)


def test_list_makes_no_slack_call(bot):
    bot.submit_ok()
    bot.slack.reset_calls()

    listing(bot, REQUESTER)
    bot.wait()

    assert calls_after_startup(bot) == []


def test_help_mentions_list(bot):
    assert "/zoom-subaccount list" in bot.slash(REQUESTER, text="help").text

"""Authorization at every step (issue 4, point 6): each attempt that is not allowed is refused,
leaves an audit record of the specific kind, and Zoom hears nothing at all."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.db.models import SubaccountRequest
from tests.flow.support import dms, ephemerals, updates_of
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    ORIGIN_CHANNEL,
    OUTSIDER,
    REQUESTER,
    SECOND_APPROVER,
    modal_values,
    running_bot,
)

pytestmark = pytest.mark.reliability

APPROVE_EMOJI, REJECT_EMOJI = "white_check_mark", "x"


def assert_zoom_untouched(bot):
    assert bot.zoom.raw_log() == ""
    assert bot.zoom.token_requests == []
    assert bot.zoom.account_posts == []
    assert bot.zoom.account_lists == []


def last_event(bot, request_id):
    return bot.events(request_id)[-1]


def backdate(bot, request, hours):
    with bot.sessions.begin() as session:
        session.execute(
            update(SubaccountRequest)
            .where(SubaccountRequest.id == request.id)
            .values(created_at=datetime.now(UTC) - timedelta(hours=hours))
        )


def decide(bot, user_id, request, *, how, choice="approve"):
    """Approve or reject `request` as `user_id` by reaction or by button, and wait."""
    if how == "reaction":
        emoji = APPROVE_EMOJI if choice == "approve" else REJECT_EMOJI
        response = bot.react(user_id, request, reaction=emoji)
    else:
        response = bot.click(user_id, request, f"{choice}_request")
    assert response.status_code == 200, response.text
    bot.wait()


def notice_title(response):
    assert response.status_code == 200, response.text
    body = json.loads(response.text)
    assert body["response_action"] == "update"
    return body["view"]["title"]["text"]


def assert_denied_submission(bot, response, user_id):
    assert notice_title(response) == "Not allowed"
    (row,) = bot.requests()
    assert (row.status, row.requester_id) == ("denied", user_id)
    # Nothing the refused person typed is kept beyond who tried and where.
    assert (row.first_name, row.email, row.password_ciphertext) == (None, None, None)
    (event,) = bot.events(row.id)
    assert (event.kind, event.actor_id) == ("denied", user_id)
    assert event.detail["attempted"] == "modal_submission"
    assert bot.slack.calls_to("chat.postMessage") == []
    assert_zoom_untouched(bot)


# -- the modal, after the requester lost access -------------------------------------------------


def test_submission_after_removal_from_the_allowlist_is_refused(database_url, tmp_path):
    # Two instances on one database: the form was opened on the old configuration, and the
    # submission reaches an instance restarted with the requester removed from the list.
    with running_bot(database_url, tmp_path) as before:
        before.slash(REQUESTER)
        before.wait()
        (opened,) = before.slack.calls_to("views.open")
        metadata = opened.params["view"]["private_metadata"]
        with running_bot(database_url, tmp_path, requester_allowlist=SECOND_APPROVER) as after:
            response = after.sender.submit_view(
                user_id=REQUESTER,
                values=modal_values(),
                private_metadata=metadata,
            )
            after.wait()

            assert_denied_submission(after, response, REQUESTER)
            assert after.requests()[0].channel_id == ORIGIN_CHANNEL
        assert_zoom_untouched(before)


def test_submission_after_removal_from_an_allowlisted_group_is_refused(database_url, tmp_path):
    with running_bot(
        database_url, tmp_path, requester_allowlist="SREQUESTERS", directory_cache_seconds=0
    ) as bot:
        bot.slack.add_usergroup("SREQUESTERS", [REQUESTER])
        bot.slash(REQUESTER)
        bot.wait()
        assert len(bot.slack.calls_to("views.open")) == 1
        bot.slack.add_usergroup("SREQUESTERS", [SECOND_APPROVER])

        response = bot.submit(REQUESTER)
        bot.wait()

        assert_denied_submission(bot, response, REQUESTER)


# -- forged or misdirected button clicks --------------------------------------------------------


def test_approve_click_from_a_non_approver_is_refused_and_logged(bot):
    request = bot.submit_ok()

    decide(bot, OUTSIDER, request, how="button")

    event = last_event(bot, request.id)
    assert (event.kind, event.actor_id) == ("approve_refused", OUTSIDER)
    assert event.detail == {"reason": "you are not on the list of approvers"}
    assert bot.request(request.id).status == "pending_approval"
    assert "not on the list of approvers" in ephemerals(bot, OUTSIDER)[0]
    assert updates_of(bot, request) == []
    assert_zoom_untouched(bot)


def test_non_approver_click_naming_another_request_is_refused_and_logged(bot):
    shown = bot.submit_ok(email="shown@example.com")
    named = bot.submit_ok(email="named@example.com")

    response = bot.sender.click(
        user_id=OUTSIDER,
        action_id="approve_request",
        value=str(named.id),
        channel_id=APPROVAL_CHANNEL,
        message_ts=shown.approval_ts,
    )
    bot.wait()

    assert response.status_code == 200
    event = last_event(bot, named.id)
    assert (event.kind, event.actor_id) == ("approve_refused", OUTSIDER)
    assert bot.event_kinds(shown.id) == ["submitted", "posted"]
    assert [bot.request(r.id).status for r in (shown, named)] == ["pending_approval"] * 2
    assert_zoom_untouched(bot)


def test_approver_click_naming_another_request_than_its_message_is_refused(bot):
    # Slack only sends the value the bot put on that message's button; a value naming another
    # request means a forged or corrupted payload, so it must not decide anything.
    shown = bot.submit_ok(email="shown@example.com")
    named = bot.submit_ok(email="named@example.com")

    bot.sender.click(
        user_id=APPROVER,
        action_id="approve_request",
        value=str(named.id),
        channel_id=APPROVAL_CHANNEL,
        message_ts=shown.approval_ts,
    )
    bot.wait()

    event = last_event(bot, named.id)
    assert (event.kind, event.actor_id) == ("approve_refused", APPROVER)
    assert event.detail == {"reason": "that button is not on this request's message"}
    assert bot.event_kinds(shown.id) == ["submitted", "posted"]
    assert [bot.request(r.id).status for r in (shown, named)] == ["pending_approval"] * 2
    assert len(ephemerals(bot, APPROVER)) == 1
    assert_zoom_untouched(bot)


@pytest.mark.parametrize("target", ["unknown", "denied"])
def test_click_naming_no_decidable_request_is_refused_and_logged(bot, target):
    if target == "denied":
        bot.submit(OUTSIDER)
        bot.wait()
        request_id = bot.latest_request().id
    else:
        request_id = 424242

    bot.sender.click(
        user_id=APPROVER,
        action_id="approve_request",
        value=str(request_id),
        channel_id=APPROVAL_CHANNEL,
        message_ts="1600000000.000300",
    )
    bot.wait()

    refused = [event for event in bot.events(None) if event.kind == "approve_refused"]
    assert [(event.actor_id, event.detail["request_id"]) for event in refused] == [
        (APPROVER, request_id)
    ]
    assert ephemerals(bot, APPROVER) == ["That is not a request this bot can decide."]
    assert "pending_approval" not in {row.status for row in bot.requests()}
    assert_zoom_untouched(bot)


# -- reactions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["unknown_ts", "request_ts_in_another_channel"])
def test_reaction_on_a_message_that_is_not_a_request_is_refused_and_logged(bot, message):
    request = bot.submit_ok()
    # A ts is only unique within its channel: the request's ts elsewhere is another message.
    channel_id, ts = {
        "unknown_ts": (APPROVAL_CHANNEL, "1600000000.000200"),
        "request_ts_in_another_channel": (ORIGIN_CHANNEL, request.approval_ts),
    }[message]
    calls_before = len(bot.slack.calls)

    bot.sender.react(user_id=APPROVER, reaction=APPROVE_EMOJI, channel_id=channel_id, message_ts=ts)
    bot.wait()

    (ignored,) = [event for event in bot.events(None) if event.request_id is None]
    # Held, not counted: the bot's message may be a request whose ts is not recorded yet.
    assert (ignored.kind, ignored.actor_id) == ("reaction_held", APPROVER)
    assert (ignored.detail["channel"], ignored.detail["ts"]) == (channel_id, ts)
    assert bot.request(request.id).status == "pending_approval"
    assert bot.event_kinds(request.id) == ["submitted", "posted"]
    assert len(bot.slack.calls) == calls_before
    assert_zoom_untouched(bot)


# -- self-approval --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["reaction", "button"])
def test_self_approval_is_refused_and_logged(database_url, tmp_path, how):
    # The requester is an approver too: only the self-approval rule stands in the way.
    with running_bot(database_url, tmp_path, approver_allowlist=f"{REQUESTER},{APPROVER}") as bot:
        request = bot.submit_ok()

        decide(bot, REQUESTER, request, how=how)

        event = last_event(bot, request.id)
        assert (event.kind, event.actor_id) == ("approve_refused", REQUESTER)
        assert event.detail == {"reason": "you cannot approve your own request"}
        assert bot.request(request.id).status == "pending_approval"
        assert bot.request(request.id).approver_id is None
        assert "cannot approve your own request" in ephemerals(bot, REQUESTER)[0]
        assert_zoom_untouched(bot)


# -- closed requests ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["reaction", "button"])
def test_approving_a_rejected_request_is_refused_and_logged(bot, how):
    request = bot.submit_ok()
    decide(bot, APPROVER, request, how="button", choice="reject")
    assert bot.request(request.id).status == "rejected"

    decide(bot, SECOND_APPROVER, request, how=how)

    event = last_event(bot, request.id)
    assert (event.kind, event.actor_id) == ("approve_refused", SECOND_APPROVER)
    assert "rejected" in event.detail["reason"]
    final = bot.request(request.id)
    assert (final.status, final.approver_id) == ("rejected", APPROVER)
    assert ephemerals(bot, SECOND_APPROVER) == [
        f"Request #{request.id} is already rejected; nothing changed."
    ]
    assert_zoom_untouched(bot)


@pytest.mark.parametrize(
    ("how", "ttl_hours", "age_hours"),
    [("reaction", None, 25), ("button", None, 25), ("button", 1, 2)],
    ids=["reaction-default-ttl", "button-default-ttl", "button-ttl-1h"],
)
def test_approving_an_expired_request_is_refused_and_logged(
    database_url, tmp_path, how, ttl_hours, age_hours
):
    settings = {} if ttl_hours is None else {"approval_ttl_hours": ttl_hours}
    with running_bot(database_url, tmp_path, **settings) as bot:
        request = bot.submit_ok()
        backdate(bot, request, hours=age_hours)

        decide(bot, APPROVER, request, how=how)

        event = last_event(bot, request.id)
        assert (event.kind, event.actor_id) == ("expired", APPROVER)
        final = bot.request(request.id)
        assert (final.status, final.approver_id, final.password_ciphertext) == (
            "expired",
            None,
            None,
        )
        assert ephemerals(bot, APPROVER) == [
            f"Request #{request.id} expired before it was decided."
        ]
        assert "expired without a decision" in dms(bot, REQUESTER)[-1]
        assert_zoom_untouched(bot)


def test_second_attempt_on_an_expired_request_is_refused_and_logged(bot):
    request = bot.submit_ok()
    backdate(bot, request, hours=25)
    decide(bot, APPROVER, request, how="reaction")

    decide(bot, SECOND_APPROVER, request, how="button")

    event = last_event(bot, request.id)
    assert (event.kind, event.actor_id) == ("approve_refused", SECOND_APPROVER)
    assert "expired" in event.detail["reason"]
    assert bot.request(request.id).status == "expired"
    assert_zoom_untouched(bot)

"""Pending requests do not rot: reminder, escalation and expiry through the running bot, with
time moved on the sweep's clock (never slept), and "Request again" on the expiry DM."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.db.models import SubaccountRequest
from tests.flow.support import (
    approve,
    block_types,
    dms,
    ephemerals,
    posts,
    thread_replies,
    updates_of,
)
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    OUTSIDER,
    REQUESTER,
    SECOND_APPROVER,
    running_bot,
)

BOSS = "UBOSS1"
TTL = timedelta(hours=24)


class MovableClock:
    """The time the bot's sweep sees; starts now and moves only when a test says so."""

    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self):
        return self.now


def sweep_after(bot, clock, elapsed):
    """Move the clock, let the worker loop sweep once, and wait for what it sends."""
    done = bot.runtime.sweeper.sweeps
    clock.now += elapsed
    bot.runtime.worker.wake()
    assert bot.runtime.sweeper.wait_for_sweep(done), "the worker loop did not sweep"
    bot.wait()


@pytest.fixture
def clock():
    return MovableClock()


@pytest.fixture
def bot(database_url, tmp_path, clock):
    with running_bot(
        database_url,
        tmp_path,
        clock=clock,
        escalation_approvers=BOSS,
        escalate_after="8h",
    ) as harness:
        harness.slack.add_user(BOSS, email="boss@example.com")
        yield harness


def dm_calls(bot, user_id):
    return [
        call
        for call in bot.slack.calls_to("chat.postMessage")
        if call.params.get("channel") == f"D{user_id}"
    ]


def button_ids(blocks):
    return [
        element["action_id"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


# -- reminder -----------------------------------------------------------------------------------


def test_a_request_waiting_past_remind_after_is_reminded_once_in_its_thread(bot, clock):
    request = bot.submit_ok()

    sweep_after(bot, clock, timedelta(hours=4, minutes=1))
    sweep_after(bot, clock, timedelta(hours=1))

    (reminder,) = thread_replies(bot, request)
    assert reminder.startswith(f":alarm_clock: Request #{request.id} has waited more than 4h")
    assert f"<@{APPROVER}> <@{SECOND_APPROVER}>: please approve or reject it." in reminder
    assert bot.event_kinds(request.id) == ["submitted", "posted", "reminded"]
    assert bot.request(request.id).reminded_at is not None


def test_no_reminder_before_remind_after(bot, clock):
    request = bot.submit_ok()

    sweep_after(bot, clock, timedelta(hours=3, minutes=59))

    assert thread_replies(bot, request) == []
    assert bot.event_kinds(request.id) == ["submitted", "posted"]


def test_remind_after_follows_the_setting_and_can_be_off(database_url, tmp_path, clock):
    with running_bot(database_url, tmp_path, clock=clock, remind_after="off") as bot:
        request = bot.submit_ok()

        sweep_after(bot, clock, timedelta(hours=23))

        assert thread_replies(bot, request) == []


def test_a_decided_request_is_not_reminded(bot, clock):
    request = approve(bot, bot.submit_ok())

    sweep_after(bot, clock, timedelta(hours=5))

    assert "reminded" not in bot.event_kinds(request.id)


def test_a_restarted_bot_does_not_remind_again(database_url, tmp_path, clock):
    with running_bot(database_url, tmp_path, clock=clock) as bot:
        request = bot.submit_ok()
        sweep_after(bot, clock, timedelta(hours=5))

    with running_bot(database_url, tmp_path, clock=clock) as restarted:
        sweep_after(restarted, clock, timedelta(hours=1))

        assert restarted.event_kinds(request.id).count("reminded") == 1
        assert restarted.slack.calls_to("chat.postMessage") == []


def test_two_instances_remind_once(database_url, tmp_path, clock):
    with (
        running_bot(database_url, tmp_path / "a", clock=clock) as first,
        running_bot(database_url, tmp_path / "b", clock=clock) as second,
    ):
        request = first.submit_ok()
        done = (first.runtime.sweeper.sweeps, second.runtime.sweeper.sweeps)
        clock.now += timedelta(hours=5)
        first.runtime.worker.wake()
        second.runtime.worker.wake()
        assert first.runtime.sweeper.wait_for_sweep(done[0])
        assert second.runtime.sweeper.wait_for_sweep(done[1])
        first.wait()
        second.wait()

        replies = [
            call
            for bot in (first, second)
            for call in bot.slack.calls_to("chat.postMessage")
            if call.params.get("thread_ts") == request.approval_ts
        ]
        assert len(replies) == 1
        assert first.event_kinds(request.id).count("reminded") == 1


# -- escalation ---------------------------------------------------------------------------------


def test_escalation_mentions_and_dms_the_escalation_approvers(bot, clock):
    request = bot.submit_ok()

    sweep_after(bot, clock, timedelta(hours=8, minutes=1))

    escalation = [text for text in thread_replies(bot, request) if "escalated" in text]
    assert escalation == [
        f":rotating_light: Request #{request.id} has had no decision for more than 8h: "
        f"escalated to <@{BOSS}>, who may now approve or reject it here."
    ]
    (dm,) = dms(bot, BOSS)
    assert f"request #{request.id} from <@{REQUESTER}>" in dm
    assert f"<#{APPROVAL_CHANNEL}>" in dm
    assert bot.event_kinds(request.id)[-2:] == ["escalated", "reminded"]


def test_an_escalation_approver_can_decide_only_after_the_escalation(bot, clock):
    request = bot.submit_ok()
    bot.click(BOSS, request)
    bot.wait()
    assert bot.request(request.id).status == "pending_approval"
    assert "you are not on the list of approvers" in ephemerals(bot, BOSS)[-1]

    sweep_after(bot, clock, timedelta(hours=9))
    bot.click(BOSS, request)
    bot.wait()

    final = bot.request(request.id)
    assert (final.status, final.approver_id) == ("created", BOSS)


def test_escalation_is_off_by_default(database_url, tmp_path, clock):
    with running_bot(database_url, tmp_path, clock=clock) as bot:
        request = bot.submit_ok()

        sweep_after(bot, clock, timedelta(hours=20))

        assert "escalated" not in bot.event_kinds(request.id)


# -- expiry ------------------------------------------------------------------------------------


def test_expiry_updates_the_message_without_buttons_and_tells_the_requester(bot, clock):
    request = bot.submit_ok()

    sweep_after(bot, clock, TTL + timedelta(minutes=1))

    final = bot.request(request.id)
    assert (final.status, final.password_ciphertext) == ("expired", None)
    message = bot.slack.message(request.approval_channel_id, request.approval_ts)
    assert "actions" not in block_types(message)
    assert "Expired without a decision" in message["text"]
    assert len(updates_of(bot, request)) == 1
    assert thread_replies(bot, request)[-1] == (
        f":clock3: Request #{request.id} expired: no decision within 1d."
    )
    (dm,) = dm_calls(bot, REQUESTER)[-1:]
    assert "expired without a decision" in dm.params["text"]
    assert button_ids(dm.params["blocks"]) == ["request_again"]
    expired = bot.events(request.id)[-1]
    assert (expired.kind, expired.actor_id) == ("expired", None)


def test_expiry_happens_once_and_a_later_approval_changes_nothing(bot, clock):
    request = bot.submit_ok()
    sweep_after(bot, clock, TTL + timedelta(hours=1))
    sweep_after(bot, clock, timedelta(hours=1))

    final = approve(bot, request)

    assert final.status == "expired"
    assert bot.event_kinds(request.id).count("expired") == 1
    assert bot.zoom.account_posts == []
    assert ephemerals(bot, APPROVER) == [
        f"Request #{request.id} is already expired; nothing changed."
    ]


def test_lazy_expiry_on_a_late_decision_still_works_and_offers_request_again(bot):
    request = bot.submit_ok()
    with bot.sessions.begin() as session:
        session.execute(
            update(SubaccountRequest)
            .where(SubaccountRequest.id == request.id)
            .values(created_at=datetime.now(UTC) - TTL - timedelta(hours=1))
        )

    final = approve(bot, request)

    assert final.status == "expired"
    assert bot.events(request.id)[-1].actor_id == APPROVER
    assert button_ids(dm_calls(bot, REQUESTER)[-1].params["blocks"]) == ["request_again"]


# -- request again ------------------------------------------------------------------------------


def click_request_again(bot, user_id, request):
    response = bot.sender.click(
        user_id=user_id,
        action_id="request_again",
        value=str(request.id),
        channel_id=f"D{REQUESTER}",  # the button is on the bot's DM with the requester
        message_ts="1.0",
        block_id="request_again",
    )
    assert response.status_code == 200
    bot.wait()


def initial_values(view):
    found = {}
    for block in view["blocks"]:
        element = block.get("element", {})
        for key in ("initial_value", "initial_option", "initial_options"):
            if key in element:
                found[block["block_id"]] = element[key]
    return found


def test_request_again_reopens_the_form_filled_in_without_the_password(bot, clock):
    request = bot.submit_ok(
        account_name="Partner Co",
        pay_mode="sub",
        options=["share_mc"],
        meeting_connector_list="10.0.0.1, 10.0.0.2",
    )
    sweep_after(bot, clock, TTL + timedelta(minutes=1))
    bot.slack.reset_calls()

    click_request_again(bot, REQUESTER, request)

    (opened,) = bot.slack.calls_to("views.open")
    values = initial_values(opened.params["view"])
    assert "password" not in values
    assert {name: values[name] for name in ("first_name", "email", "account_name", "reason")} == {
        "first_name": "Jill",
        "email": "jill@example.com",
        "account_name": "Partner Co",
        "reason": "Onboarding a new partner",
    }
    assert values["meeting_connector_list"] == "10.0.0.1, 10.0.0.2"
    assert values["pay_mode"]["value"] == "sub"
    assert [option["value"] for option in values["options"]] == ["share_mc"]
    assert bot.event_kinds(request.id)[-1] == "request_again"


def test_the_refilled_form_submits_a_new_request(bot, clock):
    request = bot.submit_ok()
    sweep_after(bot, clock, TTL + timedelta(minutes=1))
    click_request_again(bot, REQUESTER, request)

    again = bot.submit_ok()

    assert again.id != request.id
    assert again.status == "pending_approval"
    assert len(posts(bot, APPROVAL_CHANNEL)) == 2


def test_request_again_by_someone_else_opens_nothing_and_is_logged(bot, clock):
    request = bot.submit_ok()
    sweep_after(bot, clock, TTL + timedelta(minutes=1))
    bot.slack.reset_calls()

    click_request_again(bot, OUTSIDER, request)

    assert bot.slack.calls_to("views.open") == []
    refused = bot.events(request.id)[-1]
    assert (refused.kind, refused.actor_id) == ("request_again_refused", OUTSIDER)

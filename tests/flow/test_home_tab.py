"""The App Home tab through the real HTTP endpoint: opening it publishes "My requests" and
"Waiting for my approval"; its buttons decide under the channel's rules and code path."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.db.models import RequestBatch, SubaccountRequest
from sandbox.workspace import Outcome, Workspace
from tests.flow.support import approve, block_types, ephemerals, thread_replies
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    OUTSIDER,
    REQUESTER,
    SECOND_APPROVER,
    SIGNING_SECRET,
    running_bot,
)

DELIVERED = Outcome(ok=True, result="delivered")
BOSS = "UBOSS1"


@pytest.fixture
def workspace(bot):
    return Workspace(bot.slack, bot_url=bot.url, signing_secret=SIGNING_SECRET)


def publishes(bot, user_id):
    return [
        call for call in bot.slack.calls_to("views.publish") if call.params["user_id"] == user_id
    ]


def open_home(bot, workspace, user_id):
    """Open the Home tab as `user_id`; return the view the bot published for it."""
    before = len(publishes(bot, user_id))
    assert workspace.open_home(user_id) == DELIVERED
    bot.wait()
    assert len(publishes(bot, user_id)) == before + 1, "the bot did not publish the Home"
    home = bot.slack.home_view(user_id)
    assert home is not None
    return home["view"]


def click_home(bot, workspace, user_id, request, action_id="home_approve_request"):
    """Click a button on `user_id`'s Home; return the Home re-published after it."""
    home = bot.slack.home_view(user_id)
    assert home is not None, f"{user_id} never opened the Home"
    before = len(publishes(bot, user_id))
    outcome = workspace.click_in_view(
        user_id=user_id,
        view_id=home["id"],
        action_id=action_id,
        block_id=f"home_decision_{request.id}",
    )
    assert outcome == DELIVERED, outcome
    bot.wait()
    assert len(publishes(bot, user_id)) > before, "the Home was not re-published"
    return bot.slack.home_view(user_id)["view"]


def forge_home_click(bot, user_id, request_id, action_id="home_approve_request"):
    """A Home click Slack never showed that person: a made-up Home view, a chosen value."""
    response = bot.sender.click_in_view(
        user_id=user_id,
        action_id=action_id,
        value=str(request_id),
        opened={"id": "VFORGED", "view": {"type": "home", "blocks": []}, "hash": "h"},
        block_id=f"home_decision_{request_id}",
    )
    assert response.status_code == 200, response.text
    bot.wait()


def block(view, block_id):
    return next((item for item in view["blocks"] if item.get("block_id") == block_id), None)


def text_of(view, block_id):
    found = block(view, block_id)
    assert found is not None, f"no block {block_id} in {json.dumps(view['blocks'])[:2000]}"
    return found["text"]["text"]


def waiting_ids(view):
    return [
        int(item["block_id"].removeprefix("home_decision_"))
        for item in view["blocks"]
        if item.get("block_id", "").startswith("home_decision_")
    ]


def headers(view):
    return [item["text"]["text"] for item in view["blocks"] if item["type"] == "header"]


def notice(view):
    return text_of(view, "home_notice")


def reject(bot, request, user_id=APPROVER):
    response = bot.react(user_id, request, reaction="x")
    assert response.status_code == 200, response.text
    bot.wait()
    return bot.request(request.id)


# -- my requests ------------------------------------------------------------------------------


def test_home_lists_my_requests_with_status_outcome_and_link(bot, workspace):
    created = approve(bot, bot.submit_ok())
    rejected = reject(bot, bot.submit_ok(email="kim@example.com"))
    pending = bot.submit_ok(email="lee@example.com")

    view = open_home(bot, workspace, REQUESTER)

    assert view["type"] == "home"
    created_text = text_of(view, f"home_mine_{created.id}")
    assert created_text.startswith(f":white_check_mark: *#{created.id}* created")
    assert f"Zoom account `{created.zoom_account_id}`" in created_text
    message_id = created.approval_ts.replace(".", "")
    link = f"https://fake.slack.com/archives/{APPROVAL_CHANNEL}/p{message_id}"
    assert f"<{link}|message>" in created_text
    rejected_text = text_of(view, f"home_mine_{rejected.id}")
    assert rejected_text.startswith(f":no_entry: *#{rejected.id}* rejected — Jill Chill")
    assert f"rejected by <@{APPROVER}>" in rejected_text
    assert text_of(view, f"home_mine_{pending.id}").startswith(
        f":hourglass: *#{pending.id}* pending approval"
    )


def test_my_requests_are_newest_first_and_capped_with_the_count_of_older_ones(bot, workspace):
    for number in range(12):
        assert bot.submit(email=f"user{number}@example.com").status_code == 200
    bot.wait()

    view = open_home(bot, workspace, REQUESTER)

    shown = [
        item["block_id"] for item in view["blocks"] if "home_mine_" in item.get("block_id", "")
    ]
    assert shown == [f"home_mine_{number}" for number in range(12, 2, -1)]
    assert "…and 2 older" in json.dumps(view["blocks"], ensure_ascii=False)


def test_a_person_without_requests_is_pointed_to_the_command(bot, workspace):
    view = open_home(bot, workspace, OUTSIDER)

    assert headers(view) == ["Zoom sub accounts", "My requests"]
    assert "You have no requests yet. `/zoom-subaccount` opens the form." in json.dumps(
        view["blocks"]
    )


def test_the_messages_tab_publishes_nothing(bot):
    response = bot.sender.home_opened(user_id=REQUESTER, tab="messages")

    assert response.status_code == 200
    bot.wait()
    assert publishes(bot, REQUESTER) == []


def test_the_requesters_open_home_follows_their_request(bot, workspace):
    request = bot.submit_ok()
    open_home(bot, workspace, REQUESTER)

    approve(bot, request)

    home = bot.slack.home_view(REQUESTER)["view"]
    assert text_of(home, f"home_mine_{request.id}").startswith(
        f":white_check_mark: *#{request.id}* created"
    )


# -- waiting for my approval ------------------------------------------------------------------


def test_an_approver_sees_what_waits_for_them_but_not_their_own_request(database_url, tmp_path):
    with running_bot(database_url, tmp_path, requester_allowlist=f"{REQUESTER},{APPROVER}") as bot:
        workspace = Workspace(bot.slack, bot_url=bot.url, signing_secret=SIGNING_SECRET)
        theirs = bot.submit_ok(REQUESTER)
        own = bot.submit_ok(APPROVER, email="me@example.com")

        view = open_home(bot, workspace, APPROVER)

        assert headers(view) == ["Zoom sub accounts", "Waiting for my approval", "My requests"]
        assert waiting_ids(view) == [theirs.id]
        assert text_of(view, f"home_request_{theirs.id}").startswith(
            f"*#{theirs.id}* <@{REQUESTER}> asks for Jill Chill"
        )
        assert block(view, f"home_mine_{own.id}") is not None
        assert waiting_ids(open_home(bot, workspace, SECOND_APPROVER)) == [theirs.id, own.id]


def test_a_non_approver_sees_no_waiting_section(bot, workspace):
    bot.submit_ok()

    view = open_home(bot, workspace, OUTSIDER)

    assert "Waiting for my approval" not in headers(view)
    assert waiting_ids(view) == []


def test_decided_requests_leave_the_waiting_list(bot, workspace):
    decided = approve(bot, bot.submit_ok())
    waiting = bot.submit_ok(email="kim@example.com")

    view = open_home(bot, workspace, APPROVER)

    assert waiting_ids(view) == [waiting.id]
    assert decided.id not in waiting_ids(view)


def test_rows_of_a_bulk_request_are_not_offered_one_by_one(bot, workspace):
    single = bot.submit_ok()
    with bot.sessions.begin() as session:
        batch = RequestBatch(
            status="pending_approval", requester_id=REQUESTER, channel_id=None, row_count=1
        )
        session.add(batch)
        session.flush()
        session.add(
            SubaccountRequest(
                status="pending_approval",
                requester_id=REQUESTER,
                email="row@example.com",
                batch_id=batch.id,
                batch_row=2,
            )
        )

    view = open_home(bot, workspace, APPROVER)

    assert waiting_ids(view) == [single.id]


def test_many_waiting_requests_are_capped_oldest_first_with_and_n_more(bot, workspace):
    for number in range(23):
        assert bot.submit(email=f"user{number}@example.com").status_code == 200
    bot.wait()

    view = open_home(bot, workspace, APPROVER)

    assert waiting_ids(view) == list(range(1, 21))
    assert "…and 3 more waiting" in json.dumps(view["blocks"], ensure_ascii=False)
    assert len(view["blocks"]) <= 100


# -- deciding from the Home -------------------------------------------------------------------


def test_approve_on_the_home_creates_the_account_once_and_updates_the_message(bot, workspace):
    request = bot.submit_ok()
    open_home(bot, workspace, APPROVER)

    home = click_home(bot, workspace, APPROVER, request)

    stored = bot.request(request.id)
    assert stored.status == "created"
    assert stored.approver_id == APPROVER
    assert len(bot.zoom.account_posts) == 1
    message = bot.slack.message(request.approval_channel_id, request.approval_ts)
    assert "actions" not in block_types(message)
    assert "account created" in message["text"]
    assert f":white_check_mark: Approved by <@{APPROVER}>. Creating it in Zoom…" in (
        thread_replies(bot, request)
    )
    assert notice(home).startswith(f":ballot_box_with_check: You approved request #{request.id}")
    assert waiting_ids(home) == []


def test_reject_on_the_home_rejects_without_calling_zoom(bot, workspace):
    request = bot.submit_ok()
    open_home(bot, workspace, APPROVER)

    home = click_home(bot, workspace, APPROVER, request, action_id="home_reject_request")

    stored = bot.request(request.id)
    assert (stored.status, stored.approver_id) == ("rejected", APPROVER)
    assert bot.zoom.account_posts == []
    assert f":no_entry: Rejected by <@{APPROVER}>." in thread_replies(bot, request)
    assert "actions" not in block_types(
        bot.slack.message(request.approval_channel_id, request.approval_ts)
    )
    assert notice(home) == (
        f":ballot_box_with_check: You rejected request #{request.id}; it is now rejected."
    )


def test_a_non_approvers_forged_home_click_is_refused_and_logged(bot):
    request = bot.submit_ok()

    forge_home_click(bot, OUTSIDER, request.id)

    assert bot.request(request.id).status == "pending_approval"
    assert bot.zoom.account_posts == []
    refused = bot.events(request.id)[-1]
    assert (refused.kind, refused.actor_id) == ("approve_refused", OUTSIDER)
    assert refused.detail == {"reason": "you are not on the list of approvers"}
    home = bot.slack.home_view(OUTSIDER)["view"]
    assert notice(home) == (
        f"You can't decide request #{request.id}: you are not on the list of approvers. "
        "(This was logged.)"
    )


def test_a_requester_cannot_approve_their_own_request_from_the_home(database_url, tmp_path):
    with running_bot(database_url, tmp_path, requester_allowlist=f"{REQUESTER},{APPROVER}") as bot:
        request = bot.submit_ok(APPROVER)

        forge_home_click(bot, APPROVER, request.id)

        assert bot.request(request.id).status == "pending_approval"
        assert bot.event_kinds(request.id)[-1] == "approve_refused"
        assert "you cannot approve your own request" in notice(
            bot.slack.home_view(APPROVER)["view"]
        )


def test_a_home_click_decides_only_the_request_its_value_names(bot, workspace):
    first = bot.submit_ok()
    second = bot.submit_ok(email="kim@example.com")
    open_home(bot, workspace, APPROVER)

    click_home(bot, workspace, APPROVER, second)

    assert bot.request(first.id).status == "pending_approval"
    assert bot.request(second.id).status == "created"


def test_a_home_click_on_a_decided_request_says_so_and_calls_zoom_once(bot, workspace):
    request = bot.submit_ok()
    open_home(bot, workspace, APPROVER)
    approve(bot, request, approver=SECOND_APPROVER)

    home = click_home(bot, workspace, APPROVER, request)

    assert len(bot.zoom.account_posts) == 1
    assert bot.request(request.id).approver_id == SECOND_APPROVER
    assert notice(home) == f"Request #{request.id} is already created; nothing changed."
    assert bot.event_kinds(request.id)[-1] == "approve_refused"


def test_home_action_ids_from_a_message_decide_nothing(bot):
    request = bot.submit_ok()

    response = bot.click(APPROVER, request, action_id="home_approve_request")

    assert response.status_code == 200
    bot.wait()
    assert bot.request(request.id).status == "pending_approval"
    assert bot.event_kinds(request.id) == ["submitted", "posted"]
    assert publishes(bot, APPROVER) == []


def test_two_required_approvals_progress_through_home_and_channel(database_url, tmp_path):
    with running_bot(database_url, tmp_path, required_approvals=2) as bot:
        workspace = Workspace(bot.slack, bot_url=bot.url, signing_secret=SIGNING_SECRET)
        request = bot.submit_ok()
        open_home(bot, workspace, APPROVER)

        home = click_home(bot, workspace, APPROVER, request)

        assert bot.zoom.account_posts == []
        assert notice(home) == (
            f":ballot_box_with_check: You approved request #{request.id} (1 of 2 approvals); "
            "it waits for another approver."
        )
        assert f"<@{APPROVER}> approved (1 of 2 approvals)." in thread_replies(bot, request)
        buttons = block(home, f"home_decision_{request.id}")["elements"]
        assert [button["action_id"] for button in buttons] == ["home_reject_request"]
        assert "1 of 2 approvals: <@UAPP1>" in text_of(home, f"home_request_{request.id}")

        response = bot.click(SECOND_APPROVER, request)
        assert response.status_code == 200
        bot.wait()

        assert bot.request(request.id).status == "created"
        assert len(bot.zoom.account_posts) == 1


def test_a_second_home_approval_by_the_same_person_counts_once(database_url, tmp_path):
    with running_bot(database_url, tmp_path, required_approvals=2) as bot:
        request = bot.submit_ok()
        forge_home_click(bot, APPROVER, request.id)

        forge_home_click(bot, APPROVER, request.id)

        assert bot.request(request.id).status == "pending_approval"
        assert notice(bot.slack.home_view(APPROVER)["view"]) == (
            f"You already approved request #{request.id}; it is waiting for another approver."
        )
        assert ephemerals(bot, APPROVER) == []


# -- escalation -------------------------------------------------------------------------------


class MovableClock:
    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self):
        return self.now


def test_escalation_approvers_see_and_decide_a_request_once_it_is_escalated(database_url, tmp_path):
    clock = MovableClock()
    with running_bot(
        database_url, tmp_path, clock=clock, escalation_approvers=BOSS, escalate_after="8h"
    ) as bot:
        bot.slack.add_user(BOSS, email="boss@example.com")
        workspace = Workspace(bot.slack, bot_url=bot.url, signing_secret=SIGNING_SECRET)
        request = bot.submit_ok()
        assert waiting_ids(open_home(bot, workspace, BOSS)) == []

        done = bot.runtime.sweeper.sweeps
        clock.now += timedelta(hours=8, minutes=1)
        bot.runtime.worker.wake()
        assert bot.runtime.sweeper.wait_for_sweep(done), "the worker loop did not sweep"
        bot.wait()
        view = open_home(bot, workspace, BOSS)
        assert waiting_ids(view) == [request.id]
        assert ":rotating_light: escalated" in text_of(view, f"home_request_{request.id}")

        click_home(bot, workspace, BOSS, request)

        assert bot.request(request.id).status == "created"
        assert len(bot.zoom.account_posts) == 1

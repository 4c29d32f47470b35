"""Approval in the approval channel: reactions and buttons, who may decide, thresholds, expiry."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.db.models import SubaccountRequest
from tests.flow.support import (
    approve,
    block_types,
    calls_after_startup,
    dms,
    ephemerals,
    message_text,
    post_texts,
    posts,
    thread_replies,
    updates_of,
)
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    GOOD_PASSWORD,
    ORIGIN_CHANNEL,
    OUTSIDER,
    REQUESTER,
    SECOND_APPROVER,
    running_bot,
)


def approval_message(bot, request):
    message = bot.slack.message(request.approval_channel_id, request.approval_ts)
    assert message is not None
    return message


def action_ids(message):
    return [
        element["action_id"]
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def backdate(bot, request, hours):
    with bot.sessions.begin() as session:
        session.execute(
            update(SubaccountRequest)
            .where(SubaccountRequest.id == request.id)
            .values(created_at=datetime.now(UTC) - timedelta(hours=hours))
        )


# -- the approval request ---------------------------------------------------------------------


def test_request_is_posted_to_the_approval_channel_with_buttons(bot):
    request = bot.submit_ok(account_name="Partner Co", reason="A new reseller")

    assert len(posts(bot, APPROVAL_CHANNEL)) == 1
    assert request.approval_channel_id == APPROVAL_CHANNEL
    message = approval_message(bot, request)
    assert action_ids(message) == ["approve_request", "reject_request"]
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {button["value"] for button in buttons} == {str(request.id)}
    text = message_text(message)
    for shown in (f"<@{REQUESTER}>", "Jill Chill", "jill@example.com", "Partner Co", "reseller"):
        assert shown in text


def test_approval_message_never_shows_the_password(bot):
    request = bot.submit_ok()

    assert GOOD_PASSWORD not in message_text(approval_message(bot, request))
    assert GOOD_PASSWORD not in bot.slack.raw_log()


def test_approval_message_gets_the_two_reactions_to_use(bot):
    request = bot.submit_ok()

    added = [
        (call.params["name"], call.params["timestamp"])
        for call in bot.slack.calls_to("reactions.add")
    ]
    assert added == [("white_check_mark", request.approval_ts), ("x", request.approval_ts)]


def test_requester_is_told_where_the_request_waits(bot):
    request = bot.submit_ok()

    assert dms(bot, REQUESTER) == [
        f"Your request #{request.id} was sent for approval in <#{APPROVAL_CHANNEL}>."
    ]


def test_request_that_cannot_be_posted_is_logged_and_the_requester_warned(bot):
    bot.slack.fail_next("chat.postMessage", "not_in_channel")

    request = bot.submit_ok()

    assert request.approval_ts is None
    assert bot.event_kinds(request.id) == ["submitted", "post_failed"]
    assert "could not post it for approval" in dms(bot, REQUESTER)[0]


# -- approving ---------------------------------------------------------------------------------


def test_approver_reaction_creates_the_account_once(bot):
    request = bot.submit_ok()

    final = approve(bot, request)

    (post,) = bot.zoom.account_posts
    account = bot.zoom.created_accounts["jill@example.com"]
    assert post.body["email"] == "jill@example.com"
    assert final.status == "created"
    assert (final.approver_id, final.zoom_http_status) == (APPROVER, 201)
    assert (final.zoom_account_id, final.zoom_owner_id) == (account["id"], account["owner_id"])
    assert final.password_ciphertext is None
    assert bot.event_kinds(request.id) == [
        "submitted",
        "posted",
        "approval",
        "approved",
        "zoom_called",
        "zoom_result",
        "notified",
    ]


def test_approval_updates_the_message_in_place_without_buttons(bot):
    request = bot.submit_ok()

    approve(bot, request)

    assert len(updates_of(bot, request)) >= 1
    message = approval_message(bot, request)
    assert "actions" not in block_types(message)
    assert f"Approved by <@{APPROVER}>" in message["text"]
    assert "account created" in message["text"]
    assert bot.zoom.created_accounts["jill@example.com"]["id"] in message_text(message)


def test_approval_and_outcome_are_replied_in_the_thread(bot):
    request = bot.submit_ok()

    approve(bot, request)

    replies = thread_replies(bot, request)
    assert len(replies) == 2
    assert f"Approved by <@{APPROVER}>" in replies[0]
    assert "*Created*" in replies[1]


def test_outcome_is_posted_to_the_channel_the_command_ran_in(bot):
    request = bot.submit_ok()

    approve(bot, request)

    account_id = bot.zoom.created_accounts["jill@example.com"]["id"]
    (text,) = post_texts(bot, ORIGIN_CHANNEL)
    assert text.startswith(f"Request #{request.id}: ")
    assert "*Created*" in text
    assert account_id in text


def test_requester_is_messaged_at_approval_and_at_creation(bot):
    request = bot.submit_ok()

    approve(bot, request)

    _submitted, approved, created = dms(bot, REQUESTER)
    assert f"request #{request.id}" in approved
    assert f"was approved by <@{APPROVER}>" in approved
    assert "*Created*" in created


def test_failed_dm_does_not_stop_the_outcome_reports(bot):
    request = bot.submit_ok()
    bot.slack.fail_next("conversations.open", "ratelimited", times=5)

    final = approve(bot, request)

    assert final.status == "created"
    assert "*Created*" in thread_replies(bot, request)[-1]
    assert "*Created*" in post_texts(bot, ORIGIN_CHANNEL)[-1]
    assert bot.event_kinds(request.id)[-1] == "notified"


def test_skin_tone_variant_of_the_approve_reaction_approves(bot):
    request = bot.submit_ok()

    bot.react(APPROVER, request, reaction="white_check_mark::skin-tone-3")
    bot.wait()

    assert bot.request(request.id).status == "created"


def test_approve_button_creates_the_account_and_updates_the_message(bot):
    request = bot.submit_ok()

    response = bot.click(APPROVER, request, "approve_request")
    bot.wait()

    assert response.status_code == 200
    final = bot.request(request.id)
    assert (final.status, final.approver_id) == ("created", APPROVER)
    assert len(bot.zoom.account_posts) == 1
    assert "actions" not in block_types(approval_message(bot, request))
    assert "*Created*" in thread_replies(bot, request)[-1]


def test_approver_allowlisted_by_user_group_may_approve(database_url, tmp_path):
    with running_bot(database_url, tmp_path, approver_allowlist="SAPPROVERS") as bot:
        bot.slack.add_usergroup("SAPPROVERS", [SECOND_APPROVER])
        request = bot.submit_ok()

        final = approve(bot, request, SECOND_APPROVER)

        assert (final.status, final.approver_id) == ("created", SECOND_APPROVER)


def test_approver_allowlisted_by_email_may_approve(database_url, tmp_path):
    with running_bot(database_url, tmp_path, approver_allowlist="uapp2@example.com") as bot:
        request = bot.submit_ok()

        refused = approve(bot, request, APPROVER)
        final = approve(bot, request, SECOND_APPROVER)

        assert refused.status == "pending_approval"
        assert (final.status, final.approver_id) == ("created", SECOND_APPROVER)


# -- rejecting ---------------------------------------------------------------------------------


def test_reject_reaction_rejects_without_calling_zoom(bot):
    request = bot.submit_ok()

    bot.react(APPROVER, request, reaction="x")
    bot.wait()

    final = bot.request(request.id)
    assert (final.status, final.approver_id) == ("rejected", APPROVER)
    assert final.password_ciphertext is None
    assert bot.zoom.account_posts == []
    assert bot.zoom.token_requests == []
    assert bot.event_kinds(request.id)[-1] == "rejected"


def test_rejection_updates_the_message_and_tells_the_requester(bot):
    request = bot.submit_ok()

    bot.react(APPROVER, request, reaction="x")
    bot.wait()

    message = approval_message(bot, request)
    assert "actions" not in block_types(message)
    assert f"Rejected by <@{APPROVER}>" in message["text"]
    assert thread_replies(bot, request) == [f":no_entry: Rejected by <@{APPROVER}>."]
    assert f"was rejected by <@{APPROVER}>" in dms(bot, REQUESTER)[-1]


def test_reject_button_rejects_without_calling_zoom(bot):
    request = bot.submit_ok()

    bot.click(APPROVER, request, "reject_request")
    bot.wait()

    assert bot.request(request.id).status == "rejected"
    assert bot.zoom.account_posts == []
    assert f"was rejected by <@{APPROVER}>" in dms(bot, REQUESTER)[-1]


def test_requester_may_withdraw_their_own_request(bot):
    request = bot.submit_ok()

    bot.click(REQUESTER, request, "reject_request")
    bot.wait()

    final = bot.request(request.id)
    assert (final.status, final.approver_id) == ("rejected", REQUESTER)
    assert bot.zoom.account_posts == []


# -- refusals ----------------------------------------------------------------------------------


def test_non_approver_reaction_is_refused_privately_and_logged(bot):
    request = bot.submit_ok()

    bot.react(OUTSIDER, request)
    bot.wait()

    assert ephemerals(bot, OUTSIDER) == [
        f"You can't decide request #{request.id}: you are not on the list of approvers. "
        "(This was logged.)"
    ]
    (call,) = bot.slack.calls_to("chat.postEphemeral")
    assert call.params["channel"] == APPROVAL_CHANNEL
    refused = bot.events(request.id)[-1]
    assert (refused.kind, refused.actor_id) == ("approve_refused", OUTSIDER)


def test_non_approver_reaction_changes_nothing(bot):
    request = bot.submit_ok()

    bot.react(OUTSIDER, request)
    bot.wait()

    assert bot.request(request.id).status == "pending_approval"
    assert bot.zoom.account_posts == []
    assert updates_of(bot, request) == []
    assert "approve_request" in action_ids(approval_message(bot, request))


def test_non_approver_click_is_refused_privately_and_logged(bot):
    request = bot.submit_ok()

    bot.click(OUTSIDER, request, "approve_request")
    bot.wait()

    assert "not on the list of approvers" in ephemerals(bot, OUTSIDER)[0]
    assert bot.event_kinds(request.id)[-1] == "approve_refused"
    assert bot.request(request.id).status == "pending_approval"
    assert bot.zoom.account_posts == []


def test_non_approver_reject_is_refused(bot):
    request = bot.submit_ok()

    bot.react(OUTSIDER, request, reaction="x")
    bot.wait()

    assert "not on the list of approvers" in ephemerals(bot, OUTSIDER)[0]
    assert bot.event_kinds(request.id)[-1] == "reject_refused"
    assert bot.request(request.id).status == "pending_approval"


def test_requester_cannot_approve_their_own_request(database_url, tmp_path):
    with running_bot(database_url, tmp_path, approver_allowlist=f"{REQUESTER},{APPROVER}") as bot:
        request = bot.submit_ok()

        bot.react(REQUESTER, request)
        bot.wait()

        assert "you cannot approve your own request" in ephemerals(bot, REQUESTER)[0]
        refused = bot.events(request.id)[-1]
        assert (refused.kind, refused.actor_id) == ("approve_refused", REQUESTER)
        assert bot.request(request.id).status == "pending_approval"
        assert bot.zoom.account_posts == []


def test_reaction_on_a_message_that_is_not_a_request_is_only_logged(bot):
    bot.submit_ok()
    before = len(calls_after_startup(bot))

    bot.sender.react(
        user_id=APPROVER,
        reaction="white_check_mark",
        channel_id=APPROVAL_CHANNEL,
        message_ts="1600000000.000200",
    )
    bot.wait()

    (ignored,) = [event for event in bot.events(None) if event.request_id is None]
    # Held: a reaction can come before the bot has recorded its message's ts.
    assert (ignored.kind, ignored.actor_id) == ("reaction_held", APPROVER)
    assert ignored.detail["ts"] == "1600000000.000200"
    assert len(calls_after_startup(bot)) == before
    assert bot.zoom.account_posts == []


def test_other_reactions_are_ignored_entirely(bot):
    request = bot.submit_ok()
    before = len(calls_after_startup(bot))

    bot.react(APPROVER, request, reaction="tada")
    bot.wait()

    assert bot.event_kinds(request.id) == ["submitted", "posted"]
    assert bot.event_kinds(None) == ["submitted", "posted"]
    assert len(calls_after_startup(bot)) == before


def test_the_bots_own_reactions_are_ignored(bot):
    request = bot.submit_ok()

    bot.react("UBOT", request)
    bot.wait()

    assert bot.event_kinds(None) == ["submitted", "posted"]
    assert bot.request(request.id).status == "pending_approval"


def test_deciding_an_already_decided_request_answers_already(bot):
    request = bot.submit_ok()
    approve(bot, request)

    bot.react(SECOND_APPROVER, request, reaction="x")
    bot.wait()

    assert ephemerals(bot, SECOND_APPROVER) == [
        f"Request #{request.id} is already created; nothing changed."
    ]
    assert bot.request(request.id).status == "created"
    assert len(bot.zoom.account_posts) == 1


def test_approving_a_rejected_request_answers_already(bot):
    request = bot.submit_ok()
    bot.click(APPROVER, request, "reject_request")
    bot.wait()

    bot.click(SECOND_APPROVER, request, "approve_request")
    bot.wait()

    assert "already rejected" in ephemerals(bot, SECOND_APPROVER)[0]
    assert bot.request(request.id).status == "rejected"
    assert bot.zoom.account_posts == []


def test_click_naming_an_unknown_request_is_answered_privately(bot):
    bot.sender.click(
        user_id=APPROVER,
        action_id="approve_request",
        value="4242",
        channel_id=APPROVAL_CHANNEL,
        message_ts="1600000000.000300",
    )
    bot.wait()

    assert ephemerals(bot, APPROVER) == ["That is not a request this bot can decide."]
    assert bot.zoom.account_posts == []


# -- more than one approval --------------------------------------------------------------------


def test_first_of_two_approvals_shows_progress_without_calling_zoom(database_url, tmp_path):
    with running_bot(database_url, tmp_path, required_approvals=2) as bot:
        request = bot.submit_ok()

        approve(bot, request, APPROVER)

        assert bot.request(request.id).status == "pending_approval"
        assert bot.zoom.account_posts == []
        assert len(updates_of(bot, request)) == 1
        message = approval_message(bot, request)
        assert f"1 of 2 approvals: <@{APPROVER}>" in message_text(message)
        assert "approve_request" in action_ids(message)
        assert thread_replies(bot, request) == [f"<@{APPROVER}> approved (1 of 2 approvals)."]


def test_second_distinct_approver_triggers_one_zoom_call(database_url, tmp_path):
    with running_bot(database_url, tmp_path, required_approvals=2) as bot:
        request = bot.submit_ok()
        approve(bot, request, APPROVER)

        final = approve(bot, request, SECOND_APPROVER)

        assert (final.status, final.approver_id) == ("created", SECOND_APPROVER)
        assert len(bot.zoom.account_posts) == 1
        assert bot.event_kinds(request.id).count("approval") == 2


def test_same_approver_twice_counts_once(database_url, tmp_path):
    with running_bot(database_url, tmp_path, required_approvals=2) as bot:
        request = bot.submit_ok()
        approve(bot, request, APPROVER)

        bot.click(APPROVER, request, "approve_request")
        bot.wait()

        assert bot.request(request.id).status == "pending_approval"
        assert bot.zoom.account_posts == []
        assert bot.event_kinds(request.id).count("approval") == 1
        assert ephemerals(bot, APPROVER) == [
            f"You already approved request #{request.id}; it is waiting for another approver."
        ]


def test_no_approval_required_provisions_right_after_submission(database_url, tmp_path):
    with running_bot(database_url, tmp_path, required_approvals=0) as bot:
        request = bot.submit_ok()

        final = bot.request(request.id)
        assert final.status == "created"
        assert final.approver_id is None
        assert len(bot.zoom.account_posts) == 1
        assert bot.events(request.id)[1].detail == {"automatic": True}
        assert "needs no approval" in dms(bot, REQUESTER)[0]
        assert "*Created*" in thread_replies(bot, final)[-1]


# -- expiry ------------------------------------------------------------------------------------


def test_approval_after_the_ttl_expires_the_request_without_calling_zoom(bot):
    request = bot.submit_ok()
    backdate(bot, request, hours=25)

    final = approve(bot, request)

    assert final.status == "expired"
    assert final.password_ciphertext is None
    assert bot.zoom.account_posts == []
    assert bot.event_kinds(request.id)[-1] == "expired"
    assert ephemerals(bot, APPROVER) == [f"Request #{request.id} expired before it was decided."]
    assert "expired without a decision" in dms(bot, REQUESTER)[-1]
    assert "actions" not in block_types(approval_message(bot, request))


def test_approval_just_inside_the_ttl_still_works(bot):
    request = bot.submit_ok()
    backdate(bot, request, hours=23)

    final = approve(bot, request)

    assert final.status == "created"


def test_ttl_follows_the_setting(database_url, tmp_path):
    with running_bot(database_url, tmp_path, approval_ttl_hours=1) as bot:
        request = bot.submit_ok()
        backdate(bot, request, hours=2)

        final = approve(bot, request)

        assert final.status == "expired"
        assert bot.zoom.account_posts == []

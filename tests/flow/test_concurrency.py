"""Slack's retried deliveries and simultaneous approvers: Zoom is still called exactly once."""

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.flow.support import approve, dms, ephemerals, post_texts, thread_replies
from tests.harness import APPROVER, ORIGIN_CHANNEL, REQUESTER, SECOND_APPROVER, running_bot


def all_at_once(actions):
    """Run every action on its own thread, released together; return their HTTP responses."""
    barrier = threading.Barrier(len(actions))

    def run(action):
        barrier.wait()
        return action()

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(run, actions))


def created_replies(bot, request):
    return [text for text in thread_replies(bot, request) if "*Created*" in text]


def test_retried_reaction_delivery_calls_zoom_once(bot):
    request = bot.submit_ok()

    responses = [
        bot.react(APPROVER, request, event_id="EvSAME0001", retry_num=retry)
        for retry in (None, 1, 2, 3)
    ]
    bot.wait()

    assert [response.status_code for response in responses] == [200] * 4
    assert bot.request(request.id).status == "created"
    assert len(bot.zoom.account_posts) == 1
    assert bot.event_kinds(request.id).count("approval") == 1


def test_retried_reaction_delivery_reports_one_outcome(bot):
    request = bot.submit_ok()

    for retry in (None, 1, 2, 3):
        bot.react(APPROVER, request, event_id="EvSAME0002", retry_num=retry)
    bot.wait()

    assert len(created_replies(bot, request)) == 1
    assert len([text for text in post_texts(bot, ORIGIN_CHANNEL) if "*Created*" in text]) == 1
    assert len([text for text in dms(bot, REQUESTER) if "*Created*" in text]) == 1


def test_retried_reaction_delivery_sends_the_approver_no_already_decided_reply(bot):
    request = bot.submit_ok()

    for retry in (None, 1, 2, 3):
        bot.react(APPROVER, request, event_id="EvSAME0003", retry_num=retry)
    bot.wait()

    assert ephemerals(bot, APPROVER) == []


def test_distinct_reaction_events_are_each_handled(bot):
    request = bot.submit_ok()
    approve(bot, request)

    bot.react(SECOND_APPROVER, request, event_id="EvOTHER0001")
    bot.wait()

    assert ephemerals(bot, SECOND_APPROVER) == [
        f"Request #{request.id} is already created; nothing changed."
    ]


def test_simultaneous_reactions_and_clicks_from_two_approvers_call_zoom_once(bot):
    request = bot.submit_ok()
    actions = []
    for approver in (APPROVER, SECOND_APPROVER) * 2:
        actions.append(lambda approver=approver: bot.react(approver, request))
        actions.append(lambda approver=approver: bot.click(approver, request, "approve_request"))

    responses = all_at_once(actions)
    bot.wait()

    assert len(responses) == 8
    assert all(response.status_code == 200 for response in responses)
    assert bot.request(request.id).status == "created"
    assert len(bot.zoom.account_posts) == 1
    assert len(created_replies(bot, request)) == 1
    assert bot.event_kinds(request.id).count("approved") == 1


def test_two_approvers_reaching_the_threshold_together_call_zoom_once(database_url, tmp_path):
    with running_bot(database_url, tmp_path, required_approvals=2) as bot:
        request = bot.submit_ok()

        all_at_once(
            [
                lambda: bot.react(APPROVER, request),
                lambda: bot.react(SECOND_APPROVER, request),
            ]
        )
        bot.wait()

        assert bot.request(request.id).status == "created"
        assert len(bot.zoom.account_posts) == 1
        assert bot.event_kinds(request.id).count("approval") == 2


def test_simultaneous_approve_and_reject_decide_once(bot):
    request = bot.submit_ok()

    all_at_once(
        [
            lambda: bot.click(APPROVER, request, "approve_request"),
            lambda: bot.click(SECOND_APPROVER, request, "reject_request"),
        ]
    )
    bot.wait()

    final = bot.request(request.id)
    posts_expected = {"created": 1, "rejected": 0}
    assert final.status in posts_expected
    assert len(bot.zoom.account_posts) == posts_expected[final.status]
    decided = [kind for kind in bot.event_kinds(request.id) if kind in ("approved", "rejected")]
    assert len(decided) == 1

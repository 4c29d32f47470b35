"""Slack's retried deliveries and simultaneous approvers, on a request of one account and on a
bulk request: Zoom is still called exactly once per account."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.requests.subjects import Scope
from tests.flow.bulk_support import PENDING_ROWS, SCOPES, submit_pending
from tests.flow.support import ephemerals, post_texts
from tests.harness import APPROVER, ORIGIN_CHANNEL, SECOND_APPROVER, running_bot

scopes = pytest.mark.parametrize("scope", SCOPES)


def all_at_once(actions):
    """Run every action on its own thread, released together; return their HTTP responses."""
    barrier = threading.Barrier(len(actions))

    def run(action):
        barrier.wait()
        return action()

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(run, actions))


def accounts(scope):
    return 1 if scope == Scope.ONE else PENDING_ROWS


def assert_decided_by_one(bot, pending, *candidates):
    """One of `candidates` decided, and the request and every account name the same one."""
    deciders = set(pending.deciders(bot))
    assert len(deciders) == 1, pending.deciders(bot)
    assert deciders <= set(candidates)


def assert_created_once_each(bot, pending, *, approvals=1, approvers=(APPROVER,)):
    """Every account created, Zoom asked once for each, the decision recorded once on each."""
    every = accounts(pending.scope)
    assert pending.status(bot) == pending.done
    assert_decided_by_one(bot, pending, *approvers)
    assert pending.account_statuses(bot) == ["created"] * every
    assert len(bot.zoom.account_posts) == every
    assert set(pending.zoom_posts_per_account(bot).values()) == {1}
    if approvals is not None:
        assert pending.kind_counts(bot, "approval") == [approvals] * every
    assert pending.kind_counts(bot, "approved") == [1] * every


@scopes
def test_retried_reaction_delivery_calls_zoom_once(bot, scope):
    pending = submit_pending(bot, scope)

    responses = [
        pending.react(bot, APPROVER, event_id="EvSAME0001", retry_num=retry)
        for retry in (None, 1, 2, 3)
    ]
    bot.wait(30)

    assert [response.status_code for response in responses] == [200] * 4
    assert_created_once_each(bot, pending)
    assert pending.approvers(bot) == [[APPROVER]] * accounts(scope)


@scopes
def test_retried_reaction_delivery_reports_one_outcome(bot, scope):
    pending = submit_pending(bot, scope)

    for retry in (None, 1, 2, 3):
        pending.react(bot, APPROVER, event_id="EvSAME0002", retry_num=retry)
    bot.wait(30)

    assert len(pending.outcome_replies(bot)) == 1
    assert len([text for text in pending.thread(bot) if "Approved by" in text]) == 1
    assert len(pending.outcome_dms(bot)) == 1
    # A request of one also tells its channel; a bulk request tells its thread and DM only.
    origin = [text for text in post_texts(bot, ORIGIN_CHANNEL) if pending.outcome_mark in text]
    assert len(origin) == (1 if scope == Scope.ONE else 0)


@scopes
def test_retried_reaction_delivery_sends_the_approver_no_already_decided_reply(bot, scope):
    pending = submit_pending(bot, scope)

    for retry in (None, 1, 2, 3):
        pending.react(bot, APPROVER, event_id="EvSAME0003", retry_num=retry)
    bot.wait(30)

    assert ephemerals(bot, APPROVER) == []


@scopes
def test_distinct_reaction_events_are_each_handled(bot, scope):
    pending = submit_pending(bot, scope)
    assert pending.react(bot, APPROVER).status_code == 200
    bot.wait(30)

    pending.react(bot, SECOND_APPROVER, event_id="EvOTHER0001")
    bot.wait(30)

    assert ephemerals(bot, SECOND_APPROVER) == [
        f"{pending.noun} #{pending.id} is already {pending.done}; nothing changed."
    ]
    assert pending.approvers(bot) == [[APPROVER]] * accounts(scope)


@scopes
def test_simultaneous_reactions_and_clicks_from_two_approvers_call_zoom_once(bot, scope):
    pending = submit_pending(bot, scope)
    actions = []
    for approver in (APPROVER, SECOND_APPROVER) * 2:
        actions.append(lambda approver=approver: pending.react(bot, approver))
        actions.append(lambda approver=approver: pending.click(bot, approver, "approve"))

    responses = all_at_once(actions)
    bot.wait(30)

    assert len(responses) == 8
    assert all(response.status_code == 200 for response in responses)
    assert_created_once_each(bot, pending, approvals=None, approvers=(APPROVER, SECOND_APPROVER))
    assert len(pending.outcome_replies(bot)) == 1
    # Each approver's approval is recorded once on each account, however many times it came.
    for approvers, count in zip(
        pending.approvers(bot), pending.kind_counts(bot, "approval"), strict=True
    ):
        assert len(approvers) == len(set(approvers)) == count
        assert set(approvers) <= {APPROVER, SECOND_APPROVER}
    assert len({tuple(approvers) for approvers in pending.approvers(bot)}) == 1


@scopes
def test_two_approvers_reaching_the_threshold_together_call_zoom_once(
    database_url, tmp_path, scope
):
    with running_bot(database_url, tmp_path, required_approvals=2) as bot:
        pending = submit_pending(bot, scope)

        all_at_once(
            [
                lambda: pending.react(bot, APPROVER),
                lambda: pending.react(bot, SECOND_APPROVER),
            ]
        )
        bot.wait(30)

        assert_created_once_each(bot, pending, approvals=2, approvers=(APPROVER, SECOND_APPROVER))
        assert pending.approvers(bot) == [sorted([APPROVER, SECOND_APPROVER])] * accounts(scope)


@scopes
def test_simultaneous_approve_and_reject_decide_once(bot, scope):
    pending = submit_pending(bot, scope)

    all_at_once(
        [
            lambda: pending.click(bot, APPROVER, "approve"),
            lambda: pending.click(bot, SECOND_APPROVER, "reject"),
        ]
    )
    bot.wait(30)

    final = pending.status(bot)
    every = accounts(scope)
    posts_expected = {pending.done: every, "rejected": 0}
    assert final in posts_expected
    approved = final == pending.done
    assert len(bot.zoom.account_posts) == posts_expected[final]
    assert set(pending.zoom_posts_per_account(bot).values()) == {1 if approved else 0}
    assert pending.account_statuses(bot) == ["created" if approved else "rejected"] * every
    assert_decided_by_one(bot, pending, APPROVER if approved else SECOND_APPROVER)
    decisions = zip(
        pending.kind_counts(bot, "approved"), pending.kind_counts(bot, "rejected"), strict=True
    )
    assert [approvals + rejections for approvals, rejections in decisions] == [1] * every

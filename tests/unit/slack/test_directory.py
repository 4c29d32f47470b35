"""Tests of bot.slack.directory.SlackDirectory through the real slack_sdk against SlackEmulator."""

import logging
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.requests.policy import AccessPolicy, Allowlist
from bot.slack.directory import SlackDirectory
from sandbox.slack_emulator import SlackEmulator

CACHE_SECONDS = 300.0


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as fake:
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def directory(slack: SlackEmulator, clock: FakeClock) -> SlackDirectory:
    client = WebClient(token=slack.bot_token, base_url=slack.base_url)
    return SlackDirectory(client, cache_seconds=CACHE_SECONDS, clock=clock)


# -- emails --------------------------------------------------------------------------------


def test_email_resolves_to_the_user_id(slack, directory):
    slack.add_user("U7", email="jill@example.com")

    assert directory.user_id_for_email("jill@example.com") == "U7"


def test_email_lookup_sends_the_email_to_users_lookup_by_email(slack, directory):
    slack.add_user("U7", email="jill@example.com")

    directory.user_id_for_email("jill@example.com")

    assert [call.params["email"] for call in slack.calls_to("users.lookupByEmail")] == [
        "jill@example.com"
    ]


def test_unknown_email_resolves_to_none(directory):
    assert directory.user_id_for_email("nobody@example.com") is None


def test_unknown_email_answer_is_cached(slack, directory):
    directory.user_id_for_email("nobody@example.com")

    directory.user_id_for_email("nobody@example.com")

    assert len(slack.calls_to("users.lookupByEmail")) == 1


def test_email_lookup_within_the_ttl_uses_the_cache(slack, clock, directory):
    slack.add_user("U7", email="jill@example.com")
    directory.user_id_for_email("jill@example.com")
    clock.advance(CACHE_SECONDS - 1)

    assert directory.user_id_for_email("jill@example.com") == "U7"
    assert len(slack.calls_to("users.lookupByEmail")) == 1


def test_email_lookup_after_the_ttl_asks_slack_again(slack, clock, directory):
    slack.add_user("U7", email="jill@example.com")
    directory.user_id_for_email("jill@example.com")
    clock.advance(CACHE_SECONDS)

    directory.user_id_for_email("jill@example.com")

    assert len(slack.calls_to("users.lookupByEmail")) == 2


def test_email_added_after_a_cached_miss_is_found_once_the_ttl_passed(slack, clock, directory):
    directory.user_id_for_email("jill@example.com")
    slack.add_user("U7", email="jill@example.com")
    clock.advance(CACHE_SECONDS + 1)

    assert directory.user_id_for_email("jill@example.com") == "U7"


def test_different_emails_are_cached_separately(slack, directory):
    slack.add_user("U7", email="jill@example.com")
    slack.add_user("U8", email="chris@example.com")

    found = (
        directory.user_id_for_email("jill@example.com"),
        directory.user_id_for_email("chris@example.com"),
    )

    assert found == ("U7", "U8")


# -- user groups ---------------------------------------------------------------------------


def test_group_resolves_to_its_members(slack, directory):
    slack.add_usergroup("S1", ["U1", "U2"])

    assert directory.usergroup_members("S1") == frozenset({"U1", "U2"})


def test_unknown_group_has_no_members(directory):
    assert directory.usergroup_members("S404") == frozenset()


def test_unknown_group_answer_is_cached(slack, directory):
    directory.usergroup_members("S404")

    directory.usergroup_members("S404")

    assert len(slack.calls_to("usergroups.users.list")) == 1


def test_group_lookup_within_the_ttl_uses_the_cache(slack, clock, directory):
    slack.add_usergroup("S1", ["U1"])
    directory.usergroup_members("S1")
    slack.add_usergroup("S1", ["U1", "U2"])
    clock.advance(CACHE_SECONDS / 2)

    assert directory.usergroup_members("S1") == frozenset({"U1"})
    assert len(slack.calls_to("usergroups.users.list")) == 1


def test_group_lookup_after_the_ttl_sees_new_members(slack, clock, directory):
    slack.add_usergroup("S1", ["U1"])
    directory.usergroup_members("S1")
    slack.add_usergroup("S1", ["U1", "U2"])
    clock.advance(CACHE_SECONDS)

    assert directory.usergroup_members("S1") == frozenset({"U1", "U2"})


def test_email_and_group_with_the_same_key_do_not_share_a_cache_entry(slack, directory):
    slack.add_usergroup("S1", ["U1"])
    directory.user_id_for_email("S1")

    assert directory.usergroup_members("S1") == frozenset({"U1"})


def test_zero_cache_seconds_asks_slack_every_time(slack, clock):
    slack.add_usergroup("S1", ["U1"])
    client = WebClient(token=slack.bot_token, base_url=slack.base_url)
    directory = SlackDirectory(client, cache_seconds=0, clock=clock)

    directory.usergroup_members("S1")
    directory.usergroup_members("S1")

    assert len(slack.calls_to("usergroups.users.list")) == 2


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("error", ["ratelimited", "missing_scope", "invalid_auth", "fatal_error"])
def test_failed_email_lookup_resolves_to_none(slack, directory, error):
    slack.add_user("U7", email="jill@example.com")
    slack.fail_next("users.lookupByEmail", error)

    assert directory.user_id_for_email("jill@example.com") is None


@pytest.mark.parametrize("error", ["ratelimited", "missing_scope", "invalid_auth", "fatal_error"])
def test_failed_group_lookup_resolves_to_no_members(slack, directory, error):
    slack.add_usergroup("S1", ["U1"])
    slack.fail_next("usergroups.users.list", error)

    assert directory.usergroup_members("S1") == frozenset()


def test_failed_lookup_is_not_cached(slack, directory):
    slack.add_user("U7", email="jill@example.com")
    slack.fail_next("users.lookupByEmail", "ratelimited")
    directory.user_id_for_email("jill@example.com")

    assert directory.user_id_for_email("jill@example.com") == "U7"


def test_failed_refresh_after_the_ttl_denies_rather_than_using_the_stale_answer(
    slack, clock, directory
):
    slack.add_usergroup("S1", ["U1"])
    directory.usergroup_members("S1")
    clock.advance(CACHE_SECONDS)
    slack.fail_next("usergroups.users.list", "ratelimited")

    assert directory.usergroup_members("S1") == frozenset()


def test_failed_lookup_is_logged_with_slacks_error(slack, directory, caplog):
    slack.fail_next("usergroups.users.list", "missing_scope")
    caplog.set_level(logging.WARNING, logger="bot.slack.directory")

    directory.usergroup_members("S1")

    assert "Slack directory lookup group failed: missing_scope" in caplog.text


# -- with the policy -----------------------------------------------------------------------


def test_policy_lets_a_member_of_a_listed_group_request(slack, directory):
    slack.add_usergroup("SREQ", ["U5"])
    policy = AccessPolicy(
        requesters=Allowlist.parse(["SREQ"]),
        approvers=Allowlist.parse(["UAPP"]),
        directory=directory,
    )

    assert policy.may_request("U5").allowed is True


def test_policy_lets_a_user_with_a_listed_email_approve(slack, directory):
    slack.add_user("UBOSS", email="boss@example.com")
    policy = AccessPolicy(
        requesters=Allowlist.parse(["UREQ"]),
        approvers=Allowlist.parse(["Boss@Example.com"]),
        directory=directory,
    )

    assert policy.may_approve("UBOSS", requester_id="UREQ").allowed is True


def test_policy_denies_when_the_group_lookup_fails(slack, directory):
    slack.add_usergroup("SREQ", ["U5"])
    slack.fail_next("usergroups.users.list", "ratelimited")
    policy = AccessPolicy(
        requesters=Allowlist.parse(["SREQ"]),
        approvers=Allowlist.parse(["UAPP"]),
        directory=directory,
    )

    assert policy.may_request("U5").allowed is False

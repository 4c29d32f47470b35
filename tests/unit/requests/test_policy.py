"""Tests of bot.requests.policy:
allowlists of user IDs, user groups and emails, and who may decide."""

from dataclasses import dataclass, field

import pytest

from bot.requests.policy import AccessPolicy, Allowlist, Verdict


@dataclass
class FakeDirectory:
    """A workspace in memory; records every lookup. Unknown emails/groups resolve to nothing,
    which is also what SlackDirectory answers when a lookup fails."""

    emails: dict[str, str] = field(default_factory=dict)
    groups: dict[str, frozenset[str]] = field(default_factory=dict)
    lookups: list[tuple[str, str]] = field(default_factory=list)

    def user_id_for_email(self, email: str) -> str | None:
        self.lookups.append(("email", email))
        return self.emails.get(email)

    def usergroup_members(self, group_id: str) -> frozenset[str]:
        self.lookups.append(("group", group_id))
        return self.groups.get(group_id, frozenset())


def make_policy(
    *,
    requesters: list[str] | None = None,
    approvers: list[str] | None = None,
    directory: FakeDirectory | None = None,
) -> AccessPolicy:
    return AccessPolicy(
        requesters=Allowlist.parse(requesters or ["UREQ"]),
        approvers=Allowlist.parse(approvers or ["UAPP"]),
        directory=directory or FakeDirectory(),
    )


# -- Allowlist.parse -----------------------------------------------------------------------


def test_parse_sorts_entries_into_user_ids_groups_and_emails():
    allowlist = Allowlist.parse(["U0123", "W0456", "S0789", "jill@example.com"])

    assert allowlist == Allowlist(
        user_ids=frozenset({"U0123", "W0456"}),
        group_ids=frozenset({"S0789"}),
        emails=frozenset({"jill@example.com"}),
    )


def test_parse_lower_cases_emails():
    allowlist = Allowlist.parse(["Jill.Valentine@Example.COM"])

    assert allowlist.emails == frozenset({"jill.valentine@example.com"})


@pytest.mark.parametrize("email", ["ursula@example.com", "Sam@example.com", "Wes@example.com"])
def test_parse_treats_an_email_starting_like_an_id_as_an_email(email):
    allowlist = Allowlist.parse([email])

    assert (allowlist.user_ids, allowlist.group_ids) == (frozenset(), frozenset())
    assert allowlist.emails == frozenset({email.lower()})


def test_parse_accepts_any_iterable_once():
    allowlist = Allowlist.parse(entry for entry in ["U1", "S1", "a@example.com"])

    assert (allowlist.user_ids, allowlist.group_ids, allowlist.emails) == (
        frozenset({"U1"}),
        frozenset({"S1"}),
        frozenset({"a@example.com"}),
    )


# -- Allowlist.contains --------------------------------------------------------------------


@pytest.mark.parametrize("user_id", ["U0123", "W0456"])
def test_listed_user_id_is_contained_without_any_lookup(user_id):
    directory = FakeDirectory()

    allowed = Allowlist.parse(["U0123", "W0456", "S1", "x@example.com"]).contains(
        user_id, directory
    )

    assert allowed is True
    assert directory.lookups == []


def test_unlisted_user_id_is_not_contained():
    assert Allowlist.parse(["U0123"]).contains("U9999", FakeDirectory()) is False


def test_user_id_match_is_exact_and_case_sensitive():
    assert Allowlist.parse(["U0123"]).contains("u0123", FakeDirectory()) is False


def test_member_of_a_listed_group_is_contained():
    directory = FakeDirectory(groups={"S0789": frozenset({"U1", "U2"})})

    assert Allowlist.parse(["S0789"]).contains("U2", directory) is True


def test_non_member_of_a_listed_group_is_not_contained():
    directory = FakeDirectory(groups={"S0789": frozenset({"U1"})})

    assert Allowlist.parse(["S0789"]).contains("U2", directory) is False


def test_user_whose_email_is_listed_is_contained():
    directory = FakeDirectory(emails={"jill@example.com": "U7"})

    assert Allowlist.parse(["Jill@Example.com"]).contains("U7", directory) is True


def test_email_is_looked_up_in_lower_case():
    directory = FakeDirectory(emails={"jill@example.com": "U7"})

    Allowlist.parse(["JILL@EXAMPLE.COM"]).contains("U9", directory)

    assert directory.lookups == [("email", "jill@example.com")]


def test_user_with_another_email_is_not_contained():
    directory = FakeDirectory(emails={"jill@example.com": "U7"})

    assert Allowlist.parse(["jill@example.com"]).contains("U8", directory) is False


def test_failed_group_lookup_denies():
    directory = FakeDirectory()  # the group resolves to no members, as on a failed lookup

    assert Allowlist.parse(["S0789"]).contains("U1", directory) is False


def test_failed_email_lookup_denies():
    directory = FakeDirectory()  # the email resolves to None, as on a failed lookup

    assert Allowlist.parse(["jill@example.com"]).contains("U1", directory) is False


def test_empty_allowlist_contains_nobody():
    assert Allowlist.parse([]).contains("U1", FakeDirectory()) is False


# -- AccessPolicy --------------------------------------------------------------------------


def test_listed_requester_may_request():
    policy = make_policy(requesters=["UREQ"])

    assert policy.may_request("UREQ") == Verdict(allowed=True)


def test_unlisted_user_may_not_request_and_is_told_why():
    policy = make_policy(requesters=["UREQ"])

    assert policy.may_request("UOTHER") == Verdict(
        allowed=False,
        reason="you are not on the list of people who may request Zoom sub accounts",
    )


def test_approver_alone_may_not_request():
    policy = make_policy(requesters=["UREQ"], approvers=["UAPP"])

    assert policy.may_request("UAPP").allowed is False


def test_requester_found_through_a_group_may_request():
    directory = FakeDirectory(groups={"SREQ": frozenset({"U5"})})
    policy = make_policy(requesters=["SREQ"], directory=directory)

    assert policy.may_request("U5").allowed is True


def test_listed_approver_is_an_approver():
    assert make_policy(approvers=["UAPP"]).is_approver("UAPP") is True


def test_requester_is_not_an_approver():
    assert make_policy(requesters=["UREQ"], approvers=["UAPP"]).is_approver("UREQ") is False


def test_approver_may_approve_someone_elses_request():
    policy = make_policy(approvers=["UAPP"])

    assert policy.may_approve("UAPP", requester_id="UREQ") == Verdict(allowed=True)


def test_approver_found_by_email_may_approve():
    directory = FakeDirectory(emails={"boss@example.com": "UBOSS"})
    policy = make_policy(approvers=["boss@example.com"], directory=directory)

    assert policy.may_approve("UBOSS", requester_id="UREQ").allowed is True


def test_approver_may_not_approve_their_own_request():
    policy = make_policy(requesters=["UAPP"], approvers=["UAPP"])

    assert policy.may_approve("UAPP", requester_id="UAPP") == Verdict(
        allowed=False, reason="you cannot approve your own request"
    )


def test_self_approval_is_refused_before_asking_the_directory():
    directory = FakeDirectory(groups={"SAPP": frozenset({"UREQ"})})
    policy = make_policy(approvers=["SAPP"], directory=directory)

    verdict = policy.may_approve("UREQ", requester_id="UREQ")

    assert verdict.allowed is False
    assert directory.lookups == []


def test_non_approver_may_not_approve():
    policy = make_policy(approvers=["UAPP"])

    assert policy.may_approve("UOTHER", requester_id="UREQ") == Verdict(
        allowed=False, reason="you are not on the list of approvers"
    )


def test_failed_lookup_of_the_approver_group_refuses_approval():
    policy = make_policy(approvers=["SAPP"], directory=FakeDirectory())

    assert policy.may_approve("U5", requester_id="UREQ").allowed is False


def test_approver_may_reject_someone_elses_request():
    policy = make_policy(approvers=["UAPP"])

    assert policy.may_reject("UAPP", requester_id="UREQ") == Verdict(allowed=True)


def test_requester_may_withdraw_their_own_request_by_rejecting_it():
    policy = make_policy(requesters=["UREQ"], approvers=["UAPP"])

    assert policy.may_reject("UREQ", requester_id="UREQ") == Verdict(allowed=True)


def test_bystander_may_not_reject():
    policy = make_policy(requesters=["UREQ"], approvers=["UAPP"])

    assert policy.may_reject("UOTHER", requester_id="UREQ") == Verdict(
        allowed=False, reason="you are not on the list of approvers"
    )


def test_another_requester_may_not_reject_someone_elses_request():
    policy = make_policy(requesters=["UREQ", "UREQ2"], approvers=["UAPP"])

    assert policy.may_reject("UREQ2", requester_id="UREQ").allowed is False

"""Who may request and who may approve: allowlists matched on immutable Slack IDs.

Emails and user groups in an allowlist are resolved to user IDs through a Directory; a failed
lookup denies (fail closed) rather than letting anyone through.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)


class Directory(Protocol):
    def user_id_for_email(self, email: str) -> str | None: ...

    def usergroup_members(self, group_id: str) -> frozenset[str]: ...


@dataclass(frozen=True)
class Allowlist:
    user_ids: frozenset[str]
    group_ids: frozenset[str]
    emails: frozenset[str]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        entries = list(entries)
        return cls(
            user_ids=frozenset(e for e in entries if e[0] in "UW" and "@" not in e),
            group_ids=frozenset(e for e in entries if e[0] == "S" and "@" not in e),
            emails=frozenset(e.lower() for e in entries if "@" in e),
        )

    def contains(self, user_id: str, directory: Directory) -> bool:
        if user_id in self.user_ids:
            return True
        if any(user_id in directory.usergroup_members(group) for group in sorted(self.group_ids)):
            return True
        return any(directory.user_id_for_email(email) == user_id for email in sorted(self.emails))

    def members(self, directory: Directory) -> frozenset[str]:
        """Every user ID the list names: groups expanded, emails looked up (a failed lookup
        names nobody, as it lets nobody in)."""
        found = set(self.user_ids)
        for group in sorted(self.group_ids):
            found |= directory.usergroup_members(group)
        for email in sorted(self.emails):
            user_id = directory.user_id_for_email(email)
            if user_id:
                found.add(user_id)
        return frozenset(found)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


class AccessPolicy:
    def __init__(
        self, *, requesters: Allowlist, approvers: Allowlist, directory: Directory
    ) -> None:
        self._requesters = requesters
        self._approvers = approvers
        self._directory = directory

    def may_request(self, user_id: str) -> Verdict:
        if self._requesters.contains(user_id, self._directory):
            return Verdict(allowed=True)
        return Verdict(
            allowed=False,
            reason="you are not on the list of people who may request Zoom sub accounts",
        )

    def is_approver(self, user_id: str) -> bool:
        return self._approvers.contains(user_id, self._directory)

    def approver_ids(self) -> frozenset[str]:
        """Who is on the approver list, as user IDs (shown before a request is submitted)."""
        return self._approvers.members(self._directory)

    def may_approve(self, user_id: str, *, requester_id: str) -> Verdict:
        if user_id == requester_id:
            return Verdict(allowed=False, reason="you cannot approve your own request")
        if self._approvers.contains(user_id, self._directory):
            return Verdict(allowed=True)
        return Verdict(allowed=False, reason="you are not on the list of approvers")

    def may_reject(self, user_id: str, *, requester_id: str) -> Verdict:
        """Approvers may reject; a requester may also withdraw their own request."""
        if user_id == requester_id or self._approvers.contains(user_id, self._directory):
            return Verdict(allowed=True)
        return Verdict(allowed=False, reason="you are not on the list of approvers")

"""The Slack checks: the token works and has the manifest's scopes, the bot is in its channels,
and every allowlist entry names someone (users.info, usergroups.users.list, users.lookupByEmail).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.check.manifest import BOT_SCOPES
from bot.check.report import CheckResult, failed, passed
from bot.check.slack_api import SlackAnswer, SlackProbe, SlackUnreachable
from bot.config import Settings

NOT_CHECKED = "the channels and allowlist entries are checked once the token works"
# auth.test's errors that mean the token itself is wrong, not Slack.
_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


def check_slack(settings: Settings, *, probe: SlackProbe) -> list[CheckResult]:
    """The token first: when it does not work, nothing else on Slack can be checked."""
    where = f"SLACK_API_URL ({settings.slack_api_url})"
    try:
        identity = probe.call("auth.test")
    except SlackUnreachable as exc:
        return [
            failed(
                "Slack token",
                f"cannot reach Slack at {where}: {exc}",
                "check SLACK_API_URL (default https://slack.com/api/) and this machine's "
                "network or proxy",
                NOT_CHECKED,
            )
        ]
    if not identity.ok:
        refused = _token_refused(identity)
        return [dataclasses.replace(refused, fix=(*refused.fix, NOT_CHECKED))]
    bot_name = str(identity.payload.get("user") or "zoombot")
    lookups = _Lookups(probe, where=where, bot_name=bot_name)
    return [
        _token_ok(identity),
        _scopes(identity.scopes),
        *lookups.channels(settings),
        *lookups.allowlists(settings),
    ]


def _token_refused(identity: SlackAnswer) -> CheckResult:
    if identity.error in _TOKEN_ERRORS:
        return failed(
            "Slack token",
            f"Slack refused SLACK_BOT_TOKEN ({identity.error})",
            "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page; "
            "reinstall the app if the token was revoked",
        )
    return failed(
        "Slack token",
        f"auth.test failed ({identity.error})",
        "check SLACK_BOT_TOKEN and SLACK_API_URL",
    )


def _token_ok(identity: SlackAnswer) -> CheckResult:
    payload = identity.payload
    team, user = payload.get("team") or payload.get("team_id"), payload.get("user")
    bot = f"@{user} ({payload.get('user_id')})"
    return passed("Slack token", f"valid for {bot} in workspace {team}")


def _scopes(granted: frozenset[str] | None) -> CheckResult:
    if granted is None:
        return failed(
            "Slack scopes",
            "Slack's answer did not list the token's scopes (no x-oauth-scopes header)",
            "check that SLACK_API_URL points at Slack's Web API",
        )
    missing = [scope for scope in BOT_SCOPES if scope not in granted]
    if missing:
        return failed(
            "Slack scopes",
            f"the token lacks {', '.join(missing)}",
            "add them under OAuth & Permissions → Bot Token Scopes and reinstall the app "
            "(manifest.json lists every scope the bot needs)",
        )
    return passed("Slack scopes", f"all {len(BOT_SCOPES)} scopes of manifest.json are granted")


class _Lookups:
    """The checks after auth.test, each of which fails alone when Slack stops answering."""

    def __init__(self, probe: SlackProbe, *, where: str, bot_name: str) -> None:
        self._probe = probe
        self._where = where
        self._bot_name = bot_name
        self._down: str | None = None  # why Slack stopped answering, once it has

    def channels(self, settings: Settings) -> list[CheckResult]:
        results = []
        if settings.approval_channel is None:
            results.append(
                passed(
                    "APPROVAL_CHANNEL",
                    "not set: requests are posted for approval in the channel the command ran "
                    "in (invite the bot there)",
                )
            )
        else:
            results.append(self._channel("APPROVAL_CHANNEL", settings.approval_channel))
        if settings.ops_channel is not None:
            results.append(self._channel("OPS_CHANNEL", settings.ops_channel))
        return results

    def allowlists(self, settings: Settings) -> list[CheckResult]:
        lists = (
            ("REQUESTER_ALLOWLIST", settings.requester_allowlist),
            ("APPROVER_ALLOWLIST", settings.approver_allowlist),
            ("ESCALATION_APPROVERS", settings.escalation_approvers),
        )
        return [self._entry(variable, entry) for variable, entries in lists for entry in entries]

    def _channel(self, variable: str, channel_id: str) -> CheckResult:
        name = f"{variable} {channel_id}"
        answer = self._call(name, "conversations.info", channel=channel_id)
        if isinstance(answer, CheckResult):
            return answer
        if not answer.ok:
            return self._channel_error(name, variable, answer)
        channel: dict[str, Any] = answer.payload.get("channel") or {}
        label = f"#{channel.get('name') or channel_id}"
        if channel.get("is_archived"):
            return failed(name, f"{label} is archived", f"unarchive it or change {variable}")
        if not channel.get("is_member"):
            return failed(
                name,
                f"the bot is not a member of {label}",
                f"/invite @{self._bot_name} in {label}",
            )
        return passed(name, f"the bot is a member of {label}")

    def _channel_error(self, name: str, variable: str, answer: SlackAnswer) -> CheckResult:
        if answer.error == "channel_not_found":
            return failed(
                name,
                "Slack knows no such channel for the bot",
                f"check {variable}: the ID is wrong, or the channel is private and the bot was "
                f"never invited (/invite @{self._bot_name} in it)",
            )
        return self._refused(name, answer)

    def _entry(self, variable: str, entry: str) -> CheckResult:
        name = f"{variable} {entry}"
        if "@" in entry:
            return self._user(name, variable, "users.lookupByEmail", email=entry)
        if entry.startswith("S"):
            return self._group(name, variable, entry)
        return self._user(name, variable, "users.info", user=entry)

    def _user(self, name: str, variable: str, method: str, **params: str) -> CheckResult:
        answer = self._call(name, method, **params)
        if isinstance(answer, CheckResult):
            return answer
        if answer.error in ("user_not_found", "users_not_found"):
            if "email" in params:
                return failed(
                    name,
                    "no Slack user has this email",
                    f"check the spelling in {variable}, or list the person by member ID "
                    "(U…; in Slack: their profile → ⋮ → Copy member ID)",
                )
            return failed(
                name,
                "no such user in the workspace",
                f"check the ID in {variable} (in Slack: the person's profile → ⋮ → Copy member ID)",
            )
        if not answer.ok:
            return self._refused(name, answer)
        user: dict[str, Any] = answer.payload.get("user") or {}
        who = f"{_display_name(user)} ({user.get('id')})"
        if user.get("deleted"):
            return failed(
                name,
                f"{who} is deactivated",
                f"remove the entry from {variable}, or reactivate the account in Slack",
            )
        return passed(name, who)

    def _group(self, name: str, variable: str, group_id: str) -> CheckResult:
        answer = self._call(name, "usergroups.users.list", usergroup=group_id)
        if isinstance(answer, CheckResult):
            return answer
        if answer.error == "no_such_subteam":
            return failed(
                name,
                "no such user group",
                f"check the entry in {variable} (a user group's ID starts with S)",
            )
        if not answer.ok:
            return self._refused(name, answer)
        members = answer.payload.get("users") or []
        if not members:
            return failed(
                name,
                "the user group has no members",
                f"add people to the group in Slack, or remove it from {variable}",
            )
        return passed(name, f"user group with {_count(len(members), 'member')}")

    def _call(self, name: str, method: str, **params: str) -> SlackAnswer | CheckResult:
        # Once Slack has stopped answering, the other lookups fail at once rather than each
        # waiting out its own timeout.
        if self._down is None:
            try:
                return self._probe.call(method, **params)
            except SlackUnreachable as exc:
                self._down = str(exc)
        return failed(
            name,
            f"cannot reach Slack at {self._where}: {self._down}",
            "run the check again; if it persists, check the network to Slack",
        )

    def _refused(self, name: str, answer: SlackAnswer) -> CheckResult:
        if answer.error == "missing_scope":
            return failed(
                name,
                f"cannot look it up: the token lacks {answer.needed_scope}",
                f"add {answer.needed_scope} under OAuth & Permissions → Bot Token Scopes and "
                "reinstall the app",
            )
        return failed(name, f"Slack answered {answer.error}", _retry_fix(answer.error))


def _retry_fix(error: str) -> str:
    if error == "ratelimited":
        return "Slack is rate-limiting the bot; run the check again in a minute"
    return "run the check again; Slack's error code is above"


def _display_name(user: dict[str, Any]) -> str:
    profile: dict[str, Any] = user.get("profile") or {}
    return str(user.get("real_name") or profile.get("real_name") or user.get("name") or "someone")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")

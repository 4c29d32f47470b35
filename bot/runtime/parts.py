"""Settings → the parts the composition root (compose.py) assembles: the access policies, the
flow, approval and pending-request settings, the password vault and its keys, the web process's
Slack client, the rate-limited Zoom client and the health limits. Building any of them has no
effect beyond the object returned."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.flows.common import FlowSettings
from bot.provisioning.ratelimit import SharedRateLimiter
from bot.requests.passwords import PasswordVault, load_or_create_key, parse_keys
from bot.requests.policy import AccessPolicy, Allowlist, Directory
from bot.requests.reminders import PendingSchedule
from bot.runtime.web import HealthLimits
from bot.slack.render.blocks import ApprovalSettings
from bot.zoom.auth import ZoomServerToServerAuth
from bot.zoom.client import ZoomClient

# Calls leave on their rate-limit slots but reach Zoom up to this far off them (see
# bench/BULK_RESULTS.md: without it, one call in twenty drew a 429 at exactly Zoom's rate).
ARRIVAL_JITTER_SECONDS = 0.02


# -- who may do what -------------------------------------------------------------------------


def build_policy(settings: Settings, directory: Directory) -> AccessPolicy:
    return AccessPolicy(
        requesters=Allowlist.parse(settings.requester_allowlist),
        approvers=Allowlist.parse(settings.approver_allowlist),
        directory=directory,
    )


def build_escalation_policy(settings: Settings, directory: Directory) -> AccessPolicy | None:
    """ESCALATION_APPROVERS as approvers (they request nothing): used for escalated requests."""
    if not settings.escalation_approvers:
        return None
    return AccessPolicy(
        requesters=Allowlist.parse([]),
        approvers=Allowlist.parse(settings.escalation_approvers),
        directory=directory,
    )


# -- how requests are decided ----------------------------------------------------------------


def pending_schedule(settings: Settings) -> PendingSchedule:
    return PendingSchedule(
        approval_ttl=settings.approval_ttl,
        remind_after=settings.remind_after,
        escalate_after=settings.escalate_after,
    )


def flow_settings(settings: Settings) -> FlowSettings:
    return FlowSettings(
        approval_channel=settings.approval_channel,
        required_approvals=settings.required_approvals,
        approval_ttl=settings.approval_ttl,
        require_reason=settings.require_reason,
        approve_reaction=settings.approve_reaction,
        reject_reaction=settings.reject_reaction,
        slash_command=settings.slash_command,
        # A create sent by an instance that died may still be running at Zoom for this long.
        settle_seconds=settings.zoom_timeout_seconds,
        ops_channel=settings.ops_channel,
    )


def approval_settings(settings: Settings) -> ApprovalSettings:
    return ApprovalSettings(
        required_approvals=settings.required_approvals,
        approve_reaction=settings.approve_reaction,
        reject_reaction=settings.reject_reaction,
    )


# -- the password key ------------------------------------------------------------------------


def password_vault(settings: Settings) -> PasswordVault:
    """PASSWORD_ENCRYPTION_KEY's keys (the first encrypts, all decrypt), else the key file's."""
    keys = encryption_keys_from_settings(settings) or [load_or_create_key(key_file_path(settings))]
    return PasswordVault(keys[0], older_keys=keys[1:])


def encryption_keys_from_settings(settings: Settings) -> list[bytes]:
    if settings.password_encryption_key is None:
        return []
    return parse_keys(settings.password_encryption_key.get_secret_value())


def key_file_path(settings: Settings) -> Path:
    if settings.password_key_file:
        return Path(settings.password_key_file)
    database = make_url(settings.database_url).database if settings.is_sqlite else None
    if database and database != ":memory:":
        return Path(database).with_suffix(".key")
    return Path("zoombot.key")


# -- clients ---------------------------------------------------------------------------------


def web_client(settings: Settings) -> WebClient:
    """The web process's client: a 429 on views.open or an ephemeral is retried once, inside
    the trigger's 3 s (a 429 means Slack did nothing, so a retry cannot repeat anything)."""
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=int(settings.slack_timeout_seconds),
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )


def shared_rate_limiter(settings: Settings, sessions: sessionmaker[Session]) -> SharedRateLimiter:
    """Zoom's limit is per account: every request of every instance, retries included, waits
    for its slot right before it is sent."""
    return SharedRateLimiter(
        sessions,
        rate_per_second=settings.zoom_rate_limit_per_second,
        arrival_jitter_seconds=ARRIVAL_JITTER_SECONDS,
    )


def zoom_timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.zoom_timeout_seconds, connect=5.0)


def build_zoom_client(
    settings: Settings,
    token_client: httpx.Client,
    *,
    before_request: Callable[[], object] | None = None,
) -> ZoomClient:
    auth = ZoomServerToServerAuth(
        account_id=settings.zoom_account_id,
        client_id=settings.zoom_client_id,
        client_secret=settings.zoom_client_secret.get_secret_value(),
        oauth_url=settings.zoom_oauth_url,
        token_client=token_client,
    )
    return ZoomClient(
        api_url=settings.zoom_api_url,
        auth=auth,
        timeout=zoom_timeout(settings),
        before_request=before_request,
    )


# -- /healthz --------------------------------------------------------------------------------


def health_limits(settings: Settings) -> HealthLimits:
    return HealthLimits(
        worker_stale_seconds=settings.worker_stale_seconds,
        outbox_stale_seconds=settings.outbox_stale_seconds,
    )

"""Who and what the benchmark's Slack requests name; the bot's allowlists are built from these
same constants, so payloads and settings always agree."""

from __future__ import annotations

SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"  # noqa: S105 - a fake's secret
BOT_TOKEN = "xoxb-bench-token"  # noqa: S105 - a fake's token
ZOOM_ACCOUNT_ID = "acct-bench"
ZOOM_CLIENT_ID = "zoom-bench-client"
ZOOM_CLIENT_SECRET = "zoom-bench-secret"  # noqa: S105 - a fake's secret

REQUESTER = "UREQ1"  # on REQUESTER_ALLOWLIST
APPROVER = "UAPP1"  # on APPROVER_ALLOWLIST
BOT_USER = "UBOT"  # the fake Slack's bot user (auth.test): reactions name it as item_user
OUTSIDER = "UOUT1"  # on neither: its approval reactions are refused (repeatable)
USERS = (REQUESTER, APPROVER, OUTSIDER)

ORIGIN_CHANNEL = "CORIGIN1"
APPROVAL_CHANNEL = "CAPPROVE1"
COMMAND = "/zoom-subaccount"
APPROVE_REACTION = "white_check_mark"

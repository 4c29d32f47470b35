"""The bot scopes manifest.json asks for, kept in code so an installed bot (no repository at
hand) can still check its token; tests/unit/check/test_check.py keeps the two lists equal."""

from __future__ import annotations

# The same order as manifest.json's oauth_config.scopes.bot. channels:read and groups:read are
# only for this check: conversations.info needs them to tell whether the bot is in a channel.
# The *:history scopes let the outbox look a post up (conversations.history / .replies) after
# an ambiguous failure instead of posting it twice.
BOT_SCOPES: tuple[str, ...] = (
    "commands",
    "channels:history",
    "channels:read",
    "chat:write",
    "files:read",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:write",
    "reactions:read",
    "reactions:write",
    "users:read",
    "users:read.email",
    "usergroups:read",
)

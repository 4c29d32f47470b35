"""How an error a person can act on (bot.errors.UserFacingError) reaches them: its message, as
is, cut to what the Slack surface holds. Every place that shows one to a person goes through
user_facing_text(); errors keyed per modal field (InvalidRequestError, PreviewTooLargeError) keep
their `errors` mapping, which the modal shows next to each field."""

from __future__ import annotations

from bot.errors import UserFacingError

# What the bot shows under one modal field at most (Slack truncates longer error text anyway).
FIELD_ERROR_LIMIT = 1000


def user_facing_text(error: UserFacingError, *, limit: int | None = None) -> str:
    """The words for the person; `limit` bounds a field error (FIELD_ERROR_LIMIT)."""
    text = str(error)
    return text if limit is None else text[:limit]

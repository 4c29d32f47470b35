"""Zoom master-account API: Server-to-Server OAuth, the REST client and its errors."""

from bot.zoom.auth import ZoomServerToServerAuth
from bot.zoom.client import CreatedAccount, ZoomClient
from bot.zoom.errors import (
    FieldError,
    ZoomAccountTransferError,
    ZoomAuthError,
    ZoomEmailDomainBlocked,
    ZoomEmailInUse,
    ZoomError,
    ZoomOutcomeUnchecked,
    ZoomPasswordRejected,
    ZoomPermissionError,
    ZoomRateLimited,
    ZoomServerError,
    ZoomTimeout,
    ZoomUnexpectedResponse,
    ZoomUnreachable,
    ZoomValidationError,
    error_from_response,
)
from bot.zoom.retry import retry_after_seconds

__all__ = [
    "CreatedAccount",
    "FieldError",
    "ZoomAccountTransferError",
    "ZoomAuthError",
    "ZoomClient",
    "ZoomEmailDomainBlocked",
    "ZoomEmailInUse",
    "ZoomError",
    "ZoomOutcomeUnchecked",
    "ZoomPasswordRejected",
    "ZoomPermissionError",
    "ZoomRateLimited",
    "ZoomServerError",
    "ZoomServerToServerAuth",
    "ZoomTimeout",
    "ZoomUnexpectedResponse",
    "ZoomUnreachable",
    "ZoomValidationError",
    "error_from_response",
    "retry_after_seconds",
]

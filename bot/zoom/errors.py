"""Zoom failures: one root error, one class per documented meaning, one response→error factory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from bot.errors import BotError

_NOT_CREATED = "The account was not created."
_MAYBE_CREATED = (
    "The account may or may not have been created: check Zoom (or ask an admin to reconcile) "
    "before trying again."
)


@dataclass(frozen=True)
class FieldError:
    """One entry of the `errors` array Zoom adds to code-300 validation failures."""

    field: str
    message: str


class ZoomError(BotError):
    """Root of Zoom failures. Carries only Zoom's own status, code and message, never secrets."""

    MEANING: ClassVar[str] = "Zoom refused the request."
    OUTCOME_KNOWN: ClassVar[bool] = True

    def __init__(
        self,
        zoom_message: str = "",
        *,
        http_status: int | None = None,
        zoom_code: int | None = None,
        outcome_known: bool | None = None,
        field_errors: tuple[FieldError, ...] = (),
    ) -> None:
        self.zoom_message = zoom_message
        self.http_status = http_status
        self.zoom_code = zoom_code
        self.outcome_known = self.OUTCOME_KNOWN if outcome_known is None else outcome_known
        self.field_errors = field_errors
        super().__init__(self._summary())

    # Computed on each use, so a caller that redacts `zoom_message` also redacts str/repr.
    def __str__(self) -> str:
        return self._summary()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._summary()!r})"

    def _summary(self) -> str:
        parts = [f"HTTP {self.http_status}" if self.http_status is not None else "no HTTP status"]
        if self.zoom_code is not None:
            parts.append(f"Zoom code {self.zoom_code}")
        return f"{', '.join(parts)}: {self.zoom_message or self.MEANING}"

    def meaning(self) -> str:
        """What the failure means, without the outcome sentence."""
        return self.MEANING

    def plain_words(self) -> str:
        """The documented meaning for a person in Slack, plus whether the account exists."""
        outcome = _NOT_CREATED if self.outcome_known else _MAYBE_CREATED
        return f"{self.meaning()} {outcome}"


class ZoomValidationError(ZoomError):
    """400 / 300: a name contains an invalid word, or a field contains special characters."""

    MEANING = (
        "Zoom rejected the details: a name contains a word Zoom does not allow, "
        "or a field contains special characters."
    )

    def meaning(self) -> str:
        if not self.field_errors:
            return self.MEANING
        details = "; ".join(f"{error.field}: {error.message}" for error in self.field_errors)
        return f"{self.MEANING} Details: {details}."


class ZoomEmailDomainBlocked(ZoomError):
    """400 / 1107."""

    MEANING = "Zoom does not accept email addresses at this domain."


class ZoomPasswordRejected(ZoomError):
    """400 / 1111."""

    MEANING = (
        'Zoom rejected the password: it must not repeat one character (like "aaaaaa") '
        'or contain consecutive characters (like "abc" or "123").'
    )


class ZoomAccountTransferError(ZoomError):
    """400 / 11101-11112: account-transfer failures (the bot never transfers; reported as is)."""

    MEANING = "Zoom refused an account transfer (see Zoom's message)."


class ZoomEmailInUse(ZoomError):
    """409 / 1005."""

    MEANING = "That email address is already used by a Zoom account."


class ZoomAuthError(ZoomError):
    """401/124 after the one refresh, 4700/4711 scopes, or the token endpoint refusing us."""

    MEANING = "The bot's Zoom credentials are invalid or lack the account:master scope."

    def meaning(self) -> str:
        # A failing token endpoint is Zoom's trouble, not bad credentials; say so honestly.
        if self.http_status is not None and self.http_status >= 500:
            return "Zoom's sign-in service failed, so the bot could not call Zoom."
        return self.MEANING


class ZoomPermissionError(ZoomError):
    """Code 200 "No permission" on any HTTP status."""

    MEANING = (
        "Zoom says the bot has no permission: its Zoom account is not a master account "
        "or not an approved Zoom partner."
    )


class ZoomRateLimited(ZoomError):
    """429 that did not clear within the bounded retries."""

    MEANING = "Zoom is rate-limiting the bot; try again in a little while."

    rate_limit_type: str | None = None  # Zoom's X-RateLimit-Type: "QPS" or "Daily-limit"

    def meaning(self) -> str:
        if self.rate_limit_type == "Daily-limit":
            return "Zoom's daily request limit for this account is used up; try again tomorrow."
        return self.MEANING


class ZoomServerError(ZoomError):
    """5xx: Zoom may have acted before failing."""

    MEANING = "Zoom had an internal error."
    OUTCOME_KNOWN = False


class ZoomTimeout(ZoomError):
    """The request was sent but no answer came (read/write timeout, dropped connection)."""

    MEANING = "Zoom did not answer in time."
    OUTCOME_KNOWN = False


class ZoomUnreachable(ZoomError):
    """Connection refused or connect timeout: the request certainly never reached Zoom."""

    MEANING = "The bot could not reach Zoom; try again later."


class ZoomOutcomeUnchecked(ZoomError):
    """A create was interrupted (its sender died) and the lookup that would settle it failed."""

    MEANING = (
        "An earlier attempt to create the account was interrupted, and Zoom could not be asked "
        "whether it worked."
    )
    OUTCOME_KNOWN = False


class ZoomUnexpectedResponse(ZoomError):
    """Any answer the bot does not understand; a 2xx without an `id` leaves the outcome open."""

    MEANING = "Zoom gave an answer the bot does not understand."


_CODE_CLASSES: dict[int, type[ZoomError]] = {
    300: ZoomValidationError,
    1005: ZoomEmailInUse,
    1107: ZoomEmailDomainBlocked,
    1111: ZoomPasswordRejected,
    124: ZoomAuthError,
    4700: ZoomAuthError,
    4711: ZoomAuthError,
    200: ZoomPermissionError,
    **dict.fromkeys(range(11101, 11113), ZoomAccountTransferError),
}


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is empty, not JSON, or not an object."""
    try:
        payload = json.loads(response.content)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return None
    return payload if isinstance(payload, dict) else None


def error_from_response(response: httpx.Response) -> ZoomError:
    """The one place that turns a Zoom answer (already read) into the matching error."""
    payload = json_object(response) or {}
    code = payload.get("code")
    zoom_code = code if isinstance(code, int) and not isinstance(code, bool) else None
    error_class = _error_class(response.status_code, zoom_code)
    error = error_class(
        _message(payload, response),
        http_status=response.status_code,
        zoom_code=zoom_code,
        field_errors=_field_errors(payload),
        # Only a 2xx can hide a created account behind an answer we cannot read.
        outcome_known=not response.is_success if error_class is ZoomUnexpectedResponse else None,
    )
    if isinstance(error, ZoomRateLimited):
        error.rate_limit_type = response.headers.get("X-RateLimit-Type")
    return error


def _error_class(http_status: int, zoom_code: int | None) -> type[ZoomError]:
    if http_status >= 500:
        return ZoomServerError
    if zoom_code == 200:  # "No permission" has been seen on 2xx and 4xx alike
        return ZoomPermissionError
    if http_status == 429:
        return ZoomRateLimited
    if http_status == 401:
        return ZoomAuthError
    if zoom_code is not None and not 200 <= http_status < 300:
        return _CODE_CLASSES.get(zoom_code, ZoomUnexpectedResponse)
    return ZoomUnexpectedResponse


def _message(payload: dict[str, Any], response: httpx.Response) -> str:
    # Zoom's API says "message"; its token endpoint says "reason".
    for key in ("message", "reason"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return response.reason_phrase


def _field_errors(payload: dict[str, Any]) -> tuple[FieldError, ...]:
    entries = payload.get("errors")
    if not isinstance(entries, list):
        return ()
    return tuple(
        FieldError(field=str(entry.get("field", "")), message=str(entry.get("message", "")))
        for entry in entries
        if isinstance(entry, dict)
    )

"""Validation of a sub-account request as typed into the modal, before anything is stored.

Errors are keyed by the modal's block_id, which is also the Zoom field name (CONTRACT.md).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from bot.errors import UserFacingError
from bot.requests.passwords import password_problems

NAME_MAX, EMAIL_MAX, SUB_RESELLER_MAX, REASON_MAX = 64, 128, 128, 1000
PAY_MODES = ("master", "sub")
OPTION_FLAGS = ("share_mc", "share_rc", "billing_auto_renew")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


@dataclass(frozen=True)
class RequestInput:
    """The modal's values as plain strings, exactly as the person typed them."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    password: str = ""
    account_name: str = ""
    sub_reseller_id: str = ""
    pay_mode: str = ""
    options: tuple[str, ...] = ()
    meeting_connector_list: str = ""
    room_connector_list: str = ""
    reason: str = ""


@dataclass(frozen=True)
class ValidRequest:
    """A request that passed every check; `password` is None when the bot must generate one."""

    first_name: str
    last_name: str
    email: str
    password: str | None
    account_name: str | None
    sub_reseller_id: str | None
    options: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


class InvalidRequestError(UserFacingError):
    """Field errors keyed by block_id; shown next to the fields in the modal."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


def validate_request(raw: RequestInput, *, require_reason: bool) -> ValidRequest:
    """Return the cleaned request or raise InvalidRequestError with every problem at once."""
    errors: dict[str, str] = {}
    first_name = _text(raw.first_name, "first_name", errors, required=True, limit=NAME_MAX)
    last_name = _text(raw.last_name, "last_name", errors, required=True, limit=NAME_MAX)
    account_name = _text(raw.account_name, "account_name", errors, limit=NAME_MAX)
    sub_reseller_id = _text(raw.sub_reseller_id, "sub_reseller_id", errors, limit=SUB_RESELLER_MAX)
    reason = _text(
        raw.reason, "reason", errors, required=require_reason, limit=REASON_MAX, multiline=True
    )
    email = _email(raw.email, errors)
    password = _password(raw.password, errors)
    options = _options(raw, errors)
    if errors:
        raise InvalidRequestError(errors)
    return ValidRequest(
        first_name=first_name,
        last_name=last_name,
        email=email,
        password=password,
        account_name=account_name or None,
        sub_reseller_id=sub_reseller_id or None,
        options=options,
        reason=reason or None,
    )


def _text(
    value: str,
    name: str,
    errors: dict[str, str],
    *,
    required: bool = False,
    limit: int,
    multiline: bool = False,
) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        errors[name] = "Required."
    elif len(cleaned) > limit:
        errors[name] = f"At most {limit} characters (this has {len(cleaned)})."
    elif _has_control_characters(cleaned, allow_newlines=multiline):
        errors[name] = "Remove control characters (such as tabs or line breaks)."
    return cleaned


def _has_control_characters(value: str, *, allow_newlines: bool) -> bool:
    # ZWNJ and ZWJ join letters in Persian and Indic names; other format characters (such as
    # bidi overrides, which can disguise text) stay refused.
    allowed = {"\u200c", "\u200d"} | ({"\n"} if allow_newlines else set())
    return any(
        unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") and c not in allowed for c in value
    )


def _email(value: str, errors: dict[str, str]) -> str:
    cleaned = value.strip()
    if not cleaned:
        errors["email"] = "Required."
    elif len(cleaned) > EMAIL_MAX:
        errors["email"] = f"At most {EMAIL_MAX} characters (this has {len(cleaned)})."
    elif not _EMAIL.match(cleaned):
        errors["email"] = "Enter a valid email address, such as jill@example.com."
    return cleaned


def _password(value: str, errors: dict[str, str]) -> str | None:
    if value == "":
        return None
    problems = password_problems(value)
    if problems:
        errors["password"] = "Password " + "; ".join(problems) + ". Or leave it empty."
    return value


def _options(raw: RequestInput, errors: dict[str, str]) -> dict[str, Any]:
    """Only what was given goes to Zoom: ticked flags, chosen pay mode, listed connectors."""
    unknown = set(raw.options) - set(OPTION_FLAGS)
    if unknown:
        errors["options"] = "Unknown option."
    options: dict[str, Any] = {flag: True for flag in OPTION_FLAGS if flag in raw.options}
    pay_mode = raw.pay_mode.strip()
    if pay_mode and pay_mode not in PAY_MODES:
        errors["pay_mode"] = "Choose master or sub."
    elif pay_mode:
        options["pay_mode"] = pay_mode
    for list_name, flag in (
        ("meeting_connector_list", "share_mc"),
        ("room_connector_list", "share_rc"),
    ):
        addresses = _addresses(getattr(raw, list_name), list_name, errors)
        if addresses and flag not in raw.options:
            errors[list_name] = f"Tick “{_FLAG_LABELS[flag]}” in Options to share these."
        elif addresses:
            options[list_name] = addresses
    return options


_FLAG_LABELS = {"share_mc": "Share Meeting Connectors", "share_rc": "Share Room Connectors"}


def _addresses(value: str, name: str, errors: dict[str, str]) -> list[str]:
    parts = [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
    bad = []
    addresses = []
    for part in parts:
        try:
            addresses.append(str(ipaddress.ip_address(part)))
        except ValueError:
            bad.append(part)
    if bad:
        shown = ", ".join(bad[:3])[:100]
        errors[name] = f"Not an IPv4 or IPv6 address: {shown}. Separate addresses with commas."
    return list(dict.fromkeys(addresses))

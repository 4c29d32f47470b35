"""The JSON body of Zoom's POST /accounts, built from a stored request."""

from __future__ import annotations

from typing import Any


def create_account_body(
    *,
    first_name: str,
    last_name: str,
    email: str,
    password: str,
    account_name: str | None,
    sub_reseller_id: str | None,
    options: dict[str, Any] | None,
) -> dict[str, Any]:
    """Only the fields that were given; `options` as a real JSON object, never a string."""
    body: dict[str, Any] = {
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "password": password,
    }
    if account_name:
        body["account_name"] = account_name
    if sub_reseller_id:
        body["sub_reseller_id"] = sub_reseller_id
    if options:
        body["options"] = dict(options)
    return body


def masked(body: dict[str, Any]) -> dict[str, Any]:
    """The body as it may be shown or stored: the password replaced."""
    return {**body, "password": "********"} if "password" in body else dict(body)

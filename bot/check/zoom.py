"""The Zoom checks: the Server-to-Server OAuth credentials give a token, and that token may list
sub accounts (`GET /accounts?page_size=1`), which only a master account's app may do."""

from __future__ import annotations

from typing import Any

import httpx

from bot.check.report import CheckResult, failed, passed
from bot.config import Settings
from bot.errors import BotError
from bot.zoom.errors import (
    ZoomAuthError,
    ZoomError,
    ZoomPermissionError,
    ZoomRateLimited,
    ZoomServerError,
    error_from_response,
    json_object,
)

CREDENTIALS = "Zoom credentials"
MASTER = "Zoom master account"
MASTER_SCOPES = "account:read:list_sub_accounts:master and account:write:sub_account:master"
_CREDENTIALS_FIX = (
    "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET against the Server-to-Server "
    "OAuth app (Zoom Marketplace → Manage → the app → App Credentials); a wrong account ID is "
    "refused by the token endpoint too",
    "the app must be activated, and created in the master account",
)
_MASTER_FIX = (
    f"the Server-to-Server app needs the scopes {MASTER_SCOPES} (or account:master) and must "
    "belong to the master account (ZOOM_ACCOUNT_ID is the master's account ID)",
    "only Zoom's approved partners have a master account; ask Zoom's partner team to enable it",
)


class _Unreachable(BotError):
    """No answer from Zoom; the message names the setting and the error type."""


def check_zoom(settings: Settings, *, http: httpx.Client) -> list[CheckResult]:
    """Two lines: the token, then (only with a token) the master account."""
    try:
        token = _token(settings, http)
    except _Unreachable as exc:
        return [failed(CREDENTIALS, str(exc), "check ZOOM_OAUTH_URL and the network to Zoom")]
    if isinstance(token, CheckResult):
        return [token]
    return [
        passed(
            CREDENTIALS, f"the token endpoint gave a token for account {settings.zoom_account_id}"
        ),
        _master_account(settings, http, token=token),
    ]


def _token(settings: Settings, http: httpx.Client) -> str | CheckResult:
    response = _send(
        http,
        "POST",
        settings.zoom_oauth_url,
        where="ZOOM_OAUTH_URL",
        auth=httpx.BasicAuth(
            settings.zoom_client_id, settings.zoom_client_secret.get_secret_value()
        ),
        data={"grant_type": "account_credentials", "account_id": settings.zoom_account_id},
    )
    payload = json_object(response) or {}
    token = payload.get("access_token")
    if response.status_code == 200 and isinstance(token, str) and token:
        return token
    if response.status_code >= 500 or response.status_code == 429:
        return failed(
            CREDENTIALS,
            f"Zoom's token endpoint failed (HTTP {response.status_code})",
            "run the check again later",
        )
    return failed(
        CREDENTIALS,
        f"Zoom refused the credentials ({_oauth_reason(response, payload)})",
        *_CREDENTIALS_FIX,
    )


def _master_account(settings: Settings, http: httpx.Client, *, token: str) -> CheckResult:
    try:
        response = _send(
            http,
            "GET",
            f"{settings.zoom_api_url.rstrip('/')}/accounts",
            where="ZOOM_API_URL",
            params={"page_size": "1"},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
    except _Unreachable as exc:
        return failed(MASTER, str(exc), "check ZOOM_API_URL and the network to Zoom")
    payload = json_object(response)
    if response.status_code == 200 and payload is not None:
        total = payload.get("total_records")
        listed = f" ({total} so far)" if isinstance(total, int) else ""
        return passed(MASTER, f"the app may list sub accounts{listed}, so it is the master's")
    return _master_refused(error_from_response(response))


def _master_refused(error: ZoomError) -> CheckResult:
    said = f"HTTP {error.http_status}" + (
        f", code {error.zoom_code}" if error.zoom_code is not None else ""
    )
    said += f": {error.zoom_message}" if error.zoom_message else ""
    if isinstance(error, ZoomRateLimited | ZoomServerError):
        return failed(MASTER, f"Zoom could not answer now ({said})", "run the check again later")
    if isinstance(error, ZoomPermissionError) or error.http_status == 403:
        detail = f"Zoom says this is not a master account or the app lacks permission ({said})"
    elif isinstance(error, ZoomAuthError):
        detail = f"Zoom refused the token for listing sub accounts ({said})"
    else:
        detail = f"Zoom refused to list sub accounts ({said})"
    return failed(MASTER, detail, *_MASTER_FIX)


def _send(
    http: httpx.Client, method: str, url: str, *, where: str, **kwargs: Any
) -> httpx.Response:
    try:
        return http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise _Unreachable(f"cannot reach Zoom at {where} ({url}): {type(exc).__name__}") from None


def _oauth_reason(response: httpx.Response, payload: dict[str, Any]) -> str:
    """Zoom's token endpoint says `error` and `reason`: "HTTP 401: invalid_client, Invalid…"."""
    said = [str(payload[key]) for key in ("error", "reason") if payload.get(key)]
    status = f"HTTP {response.status_code}"
    return f"{status}: {', '.join(said)}" if said else status

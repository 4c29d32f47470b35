"""The Zoom REST client: create a sub account, look sub accounts up by email.

POST /accounts is not idempotent and Zoom has no idempotency key, so a request is only ever
re-sent when it certainly did not take effect: a 429, or a connection that was never made.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx

from bot.zoom.errors import (
    ZoomTimeout,
    ZoomUnexpectedResponse,
    ZoomUnreachable,
    error_from_response,
    json_object,
)
from bot.zoom.retry import backoff_seconds, retry_after_seconds

# Failures before the request left this process: safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_LIST_PAGE_SIZE = 300  # Zoom's maximum


@dataclass(frozen=True)
class CreatedAccount:
    """Zoom's 201 answer to POST /accounts."""

    id: str
    owner_id: str
    owner_email: str
    created_at: str


class ZoomClient:
    """Sync client for Zoom's master-account API; thread-safe, close it (or use `with`)."""

    def __init__(
        self,
        *,
        api_url: str,
        auth: httpx.Auth,
        timeout: httpx.Timeout,
        max_rate_limit_retries: int = 3,
        max_retry_wait_seconds: float = 30,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        before_request: Callable[[], object] | None = None,
    ) -> None:
        """`before_request` runs right before each request leaves (first tries, retries after a
        429, the replay after a token refresh): a rate limit that waits there limits exactly
        what reaches Zoom."""
        self._max_retries = max_rate_limit_retries
        self._max_retry_wait_seconds = max_retry_wait_seconds
        self._sleep = sleep
        hooks = {"request": [_hook(before_request)]} if before_request is not None else {}
        self._http = httpx.Client(
            base_url=api_url,
            auth=auth,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
            event_hooks=hooks,
        )

    def create_sub_account(self, body: dict[str, Any]) -> CreatedAccount:
        """POST /accounts once (plus safe retries); raise a ZoomError on any failure."""
        response = self._send("POST", "accounts", json=body)
        payload = json_object(response) if response.is_success else None
        if payload is None or not isinstance(payload.get("id"), str):
            raise error_from_response(response)
        return CreatedAccount(
            id=payload["id"],
            owner_id=str(payload.get("owner_id", "")),
            owner_email=str(payload.get("owner_email", "")),
            created_at=str(payload.get("created_at", "")),
        )

    def find_sub_accounts(self, email: str) -> list[dict[str, Any]]:
        """Every sub account whose owner email is `email` (case-insensitive), all pages."""
        found: list[dict[str, Any]] = []
        page_token = ""
        while True:
            page = self._list_page(email=email, page_token=page_token)
            found.extend(_accounts_owned_by(page, email))
            next_token = page.get("next_page_token")
            # A token that does not change would loop forever; treat it as the last page.
            if not isinstance(next_token, str) or not next_token or next_token == page_token:
                return found
            page_token = next_token

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _list_page(self, *, email: str, page_token: str) -> dict[str, Any]:
        params = {"email": email, "page_size": str(_LIST_PAGE_SIZE)}
        if page_token:
            params["next_page_token"] = page_token
        response = self._send("GET", "accounts", params=params)
        if not response.is_success:
            raise error_from_response(response)
        page = json_object(response)
        if page is None:
            raise ZoomUnexpectedResponse(
                "the account list was not a JSON object", http_status=response.status_code
            )
        return page

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send, retrying only what certainly had no effect; map transport failures."""
        retries = 0
        while True:
            wait = self._attempt(method, path, retries=retries, **kwargs)
            if isinstance(wait, httpx.Response):
                return wait
            self._sleep(wait)
            retries += 1

    def _attempt(
        self, method: str, path: str, *, retries: int, **kwargs: Any
    ) -> httpx.Response | float:
        """One try: the final response, or how long to wait before the next try."""
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.UnsupportedProtocol, httpx.ProxyError) as exc:
            # Never sent, and trying again cannot help: a misconfigured URL or proxy.
            raise ZoomUnreachable(f"{type(exc).__name__} to {_where(exc)}") from exc
        except _NOT_SENT as exc:
            if retries >= self._max_retries:
                raise ZoomUnreachable(f"{type(exc).__name__} to {_where(exc)}") from exc
            return backoff_seconds(retries, max_seconds=self._max_retry_wait_seconds)
        except httpx.TransportError as exc:
            # Sent (at least partly) and no answer: Zoom may have acted, never re-send.
            raise ZoomTimeout(f"{type(exc).__name__} from {_where(exc)}") from exc
        if response.status_code != 429:
            return response
        wait = self._rate_limit_wait(response, retries=retries)
        if wait is None:
            raise error_from_response(response)
        return wait

    def _rate_limit_wait(self, response: httpx.Response, *, retries: int) -> float | None:
        """Seconds to wait before retrying a 429, or None to give up."""
        if retries >= self._max_retries:
            return None
        hinted = retry_after_seconds(response.headers.get("Retry-After"), now=datetime.now(UTC))
        if hinted is None:
            return backoff_seconds(retries, max_seconds=self._max_retry_wait_seconds)
        # Asked to wait longer than we may (e.g. a daily limit): give up rather than hammer.
        return hinted if hinted <= self._max_retry_wait_seconds else None


def _hook(before_request: Callable[[], object]) -> Callable[[httpx.Request], None]:
    def hook(_request: httpx.Request) -> None:
        before_request()

    return hook


def _accounts_owned_by(page: dict[str, Any], email: str) -> list[dict[str, Any]]:
    accounts = page.get("accounts")
    if not isinstance(accounts, list):
        return []
    wanted = email.casefold()
    return [
        account
        for account in accounts
        if isinstance(account, dict) and str(account.get("owner_email", "")).casefold() == wanted
    ]


def _where(exc: httpx.TransportError) -> str:
    # Host and path only: the query string could carry an email, never worth logging.
    try:
        url = exc.request.url
    except RuntimeError:  # an exception raised without its request attached
        return "Zoom"
    return f"{url.host}{url.path}"

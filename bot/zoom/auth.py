"""Zoom Server-to-Server OAuth as an httpx.Auth: one cached token, renewed once on 401/124."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import httpx

from bot.observability.redaction import forget_secret, register_secret
from bot.zoom.errors import (
    ZoomAuthError,
    ZoomError,
    ZoomRateLimited,
    ZoomUnexpectedResponse,
    ZoomUnreachable,
    error_from_response,
    json_object,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)
    refresh_at: float  # on the injected clock


class ZoomServerToServerAuth(httpx.Auth):
    """Bearer auth for a sync httpx.Client; safe to share between threads.

    Minting a token has at times revoked the previous one, so one token is kept behind a lock
    and replaced only when it is due or Zoom has rejected exactly that token.
    """

    requires_response_body = True  # the 401 body tells an expired token from missing scopes

    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        oauth_url: str,
        token_client: httpx.Client,
        refresh_margin_seconds: float = 120,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._account_id = account_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._oauth_url = oauth_url
        self._token_client = token_client
        self._refresh_margin_seconds = refresh_margin_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._token: _Token | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(oauth_url={self._oauth_url!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._current_token()
        request.headers["Authorization"] = f"Bearer {token.value}"
        response = yield request
        if not _token_rejected(response):
            return
        token = self._renewed_token(rejected=token)
        request.headers["Authorization"] = f"Bearer {token.value}"
        yield request  # replayed once; a second 401 goes back to the caller

    def _current_token(self) -> _Token:
        # Holding the lock while fetching makes concurrent first callers wait for one token.
        with self._lock:
            if self._token is None or self._clock() >= self._token.refresh_at:
                return self._replace_token()
            return self._token

    def _renewed_token(self, *, rejected: _Token) -> _Token:
        with self._lock:
            # Another thread may have replaced the rejected token already; use its new one.
            if self._token is None or self._token is rejected:
                return self._replace_token()
            return self._token

    def _replace_token(self) -> _Token:
        old, self._token = self._token, None
        if old is not None:
            forget_secret(old.value)
        token = self._token = self._fetch_token()
        register_secret(token.value)  # so no log record can carry it
        return token

    def _fetch_token(self) -> _Token:
        started_at = self._clock()
        response = self._post_token_request()
        if response.status_code != 200:
            raise _token_error(response)
        payload = json_object(response) or {}
        access_token = payload.get("access_token")
        expires_in = payload.get("expires_in")
        if not isinstance(access_token, str) or not isinstance(expires_in, int | float):
            raise ZoomUnexpectedResponse(
                "Zoom's token endpoint answered without an access token or expiry",
                http_status=response.status_code,
            )
        logger.info("Fetched a Zoom access token valid for %s s", expires_in)
        return _Token(value=access_token, refresh_at=started_at + self._lifetime(expires_in))

    def _post_token_request(self) -> httpx.Response:
        try:
            return self._token_client.post(
                self._oauth_url,
                auth=httpx.BasicAuth(self._client_id, self._client_secret),
                # Form body, not query string: query-only requests have been reported to fail.
                data={"grant_type": "account_credentials", "account_id": self._account_id},
            )
        except httpx.TransportError as exc:
            # The API request was never sent, whatever happened to the token request.
            raise ZoomUnreachable(
                f"Zoom's token endpoint could not be reached ({type(exc).__name__})"
            ) from exc

    def _lifetime(self, expires_in: float) -> float:
        # A margin as long as the token's life would mint a token per request; keep half.
        return max(expires_in - self._refresh_margin_seconds, expires_in / 2)


def _token_rejected(response: httpx.Response) -> bool:
    """401 with code 124 (invalid or expired token) or with a body we cannot read."""
    if response.status_code != 401:
        return False
    payload = json_object(response)
    return payload is None or payload.get("code") == 124


def _token_error(response: httpx.Response) -> ZoomError:
    error = error_from_response(response)
    if isinstance(error, ZoomRateLimited):
        return error  # throttled, not refused: the credentials may well be fine
    return ZoomAuthError(
        error.zoom_message, http_status=error.http_status, zoom_code=error.zoom_code
    )

"""A minimal Slack Web API caller for the checks: one POST per method, a timeout, no retries,
and every failure to get an answer turned into SlackUnreachable naming only the error type."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

from bot.errors import BotError

SCOPES_HEADER = "x-oauth-scopes"


class SlackUnreachable(BotError):
    """No Slack answer: a network error, a timeout, or a reply that is not the Web API's."""


@dataclass(frozen=True)
class SlackAnswer:
    """A Web API answer: its JSON body, and the token's scopes when Slack named them."""

    payload: dict[str, Any]
    scopes: frozenset[str] | None

    @property
    def ok(self) -> bool:
        return self.payload.get("ok") is True

    @property
    def error(self) -> str:
        return str(self.payload.get("error") or "unknown_error")

    @property
    def needed_scope(self) -> str:
        """What a `missing_scope` answer says the method needs."""
        return str(self.payload.get("needed") or "a scope")


class SlackProbe:
    """Calls Web API methods with the bot token; use it as a context manager."""

    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        timeout_seconds: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._api_url = api_url if api_url.endswith("/") else f"{api_url}/"
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds),
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
        )

    def call(self, method: str, **params: str) -> SlackAnswer:
        """POST one method form-encoded, as Slack's SDKs do."""
        try:
            response = self._http.post(f"{self._api_url}{method}", data=params)
        except httpx.HTTPError as exc:
            raise SlackUnreachable(type(exc).__name__) from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise SlackUnreachable(f"HTTP {response.status_code}, not a Slack Web API answer")
        return SlackAnswer(payload, _scopes(response.headers.get(SCOPES_HEADER)))

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


def _scopes(header: str | None) -> frozenset[str] | None:
    if header is None:
        return None
    return frozenset(scope.strip() for scope in header.split(",") if scope.strip())

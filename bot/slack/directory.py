"""Resolves allowlisted emails and user groups to Slack user IDs, with a short cache."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

logger = logging.getLogger(__name__)


class SlackDirectory:
    """Implements policy.Directory with users.lookupByEmail and usergroups.users.list."""

    def __init__(
        self,
        client: WebClient,
        *,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}

    def user_id_for_email(self, email: str) -> str | None:
        def lookup() -> str | None:
            response = self._client.users_lookupByEmail(email=email)
            return str(response["user"]["id"])

        result: str | None = self._cached(("email", email), lookup, default=None)
        return result

    def usergroup_members(self, group_id: str) -> frozenset[str]:
        def lookup() -> frozenset[str]:
            response = self._client.usergroups_users_list(usergroup=group_id)
            return frozenset(response.get("users") or [])

        result: frozenset[str] = self._cached(("group", group_id), lookup, default=frozenset())
        return result

    def _cached(self, key: tuple[str, str], lookup: Callable[[], Any], *, default: Any) -> Any:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        try:
            value = lookup()
        except SlackApiError as exc:
            # Not found is an answer worth caching; anything else denies this once (fail closed).
            error = exc.response.get("error") if exc.response is not None else None
            logger.warning("Slack directory lookup %s failed: %s", key[0], error)
            if error not in ("users_not_found", "no_such_subteam"):
                return default
            value = default
        except (SlackClientError, OSError) as exc:
            logger.warning("Slack directory lookup %s failed: %s", key[0], type(exc).__name__)
            return default
        with self._lock:
            self._cache[key] = (now, value)
        return value

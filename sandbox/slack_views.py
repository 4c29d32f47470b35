"""Views as the emulator tracks them: trigger ids it issued (3 s, single use, as in Slack), each
person's stack of open modals and each person's App Home view. Not persisted: Slack closes modals
on a reload too, and the bot publishes a Home again when it is opened.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.slack_state import ActionRefused

TRIGGER_LIFETIME_SECONDS = 3.0
MAX_STACK_DEPTH = 3  # Slack's limit on views pushed onto one modal
# Triggers older than this are forgotten; they could only ever answer expired_trigger_id.
_TRIGGER_MEMORY_SECONDS = 600.0

View = dict[str, Any]


@dataclass
class _Trigger:
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class OpenView:
    """One view on a person's modal stack: the view JSON exactly as the bot sent it."""

    id: str
    user_id: str
    view: View
    hash: str
    root_view_id: str
    previous_view_id: str | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def external_id(self) -> str:
        return str(self.view.get("external_id") or "")

    def answer(self) -> View:
        """The `view` object of a views.* answer."""
        return view_answer(
            self.id,
            self.view,
            root_view_id=self.root_view_id,
            previous_view_id=self.previous_view_id,
            view_hash=self.hash,
        )


class ViewStacks:
    """Triggers and per-person view stacks; the emulator serializes access with its lock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._triggers: dict[str, _Trigger] = {}
        self._stacks: dict[str, list[OpenView]] = {}
        self._homes: dict[str, OpenView] = {}

    # -- triggers ---------------------------------------------------------------------------

    def issue_trigger(self, user_id: str, *, issued_at: float | None = None) -> str:
        """A trigger id for `user_id`; `issued_at` (on `clock`) lets a test age it."""
        now = self.clock()
        self._triggers = {
            key: trigger
            for key, trigger in self._triggers.items()
            if now - trigger.issued_at < _TRIGGER_MEMORY_SECONDS
        }
        trigger_id = f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"
        self._triggers[trigger_id] = _Trigger(user_id, now if issued_at is None else issued_at)
        return trigger_id

    def exchange(self, trigger_id: str) -> str | None:
        """The owner of a trigger this emulator issued, or None for one it never issued.

        Raises ActionRefused as Slack does for an expired or already used trigger."""
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            return None
        if trigger.used:
            raise ActionRefused("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > TRIGGER_LIFETIME_SECONDS:
            raise ActionRefused("expired_trigger_id")
        trigger.used = True
        return trigger.user_id

    # -- stacks -----------------------------------------------------------------------------

    def open(self, user_id: str, view: View, *, view_id: str) -> OpenView:
        """A new modal replaces whatever the person had open."""
        opened = OpenView(view_id, user_id, copy.deepcopy(view), _hash(), view_id, None)
        self._stacks[user_id] = [opened]
        return opened

    def push(self, user_id: str, view: View, *, view_id: str) -> OpenView:
        stack = self._stacks.setdefault(user_id, [])
        if len(stack) >= MAX_STACK_DEPTH:
            raise ActionRefused("push_limit_reached")
        root = stack[0].id if stack else view_id
        previous = stack[-1].id if stack else None
        pushed = OpenView(view_id, user_id, copy.deepcopy(view), _hash(), root, previous)
        stack.append(pushed)
        return pushed

    def find(self, *, view_id: str = "", external_id: str = "") -> OpenView | None:
        for stack in self._stacks.values():
            for opened in stack:
                if (view_id and opened.id == view_id) or (
                    external_id and opened.external_id == external_id
                ):
                    return opened
        return None

    def replace(self, opened: OpenView, view: View, *, view_hash: str = "") -> OpenView:
        """views.update or response_action update: new content, same id, errors cleared."""
        if view_hash and view_hash != opened.hash:
            raise ActionRefused("hash_conflict")
        opened.view, opened.hash, opened.errors = copy.deepcopy(view), _hash(), {}
        return opened

    def of_user(self, user_id: str, view_id: str) -> OpenView | None:
        return next((item for item in self._stacks.get(user_id, []) if item.id == view_id), None)

    def top(self, user_id: str) -> OpenView | None:
        stack = self._stacks.get(user_id)
        return stack[-1] if stack else None

    def close(self, user_id: str, view_id: str) -> bool:
        """Close `view_id` and anything pushed above it; the view below, if any, shows again."""
        stack = self._stacks.get(user_id, [])
        index = next((at for at, item in enumerate(stack) if item.id == view_id), None)
        if index is None:
            return False
        del stack[index:]
        return True

    def clear(self, user_id: str) -> None:
        self._stacks.pop(user_id, None)

    def snapshot(self, user_id: str) -> dict[str, Any] | None:
        stack = self._stacks.get(user_id)
        if not stack:
            return None
        shown = stack[-1]
        return {
            "id": shown.id,
            "view": copy.deepcopy(shown.view),
            "errors": dict(shown.errors),
            "depth": len(stack),
        }

    # -- App Home ---------------------------------------------------------------------------

    def publish_home(
        self, user_id: str, view: View, *, new_view_id: str, view_hash: str = ""
    ) -> OpenView:
        """views.publish: the person's Home keeps its id; a stale `view_hash` is refused."""
        home = self._homes.get(user_id)
        if home is None:
            home = OpenView(new_view_id, user_id, copy.deepcopy(view), _hash(), new_view_id, None)
            self._homes[user_id] = home
            return home
        return self.replace(home, view, view_hash=view_hash)

    def home(self, user_id: str) -> OpenView | None:
        return self._homes.get(user_id)

    def home_snapshot(self, user_id: str) -> dict[str, Any] | None:
        home = self._homes.get(user_id)
        if home is None:
            return None
        return {"id": home.id, "view": copy.deepcopy(home.view), "hash": home.hash}


def view_answer(
    view_id: str,
    view: View,
    *,
    root_view_id: str | None = None,
    previous_view_id: str | None = None,
    view_hash: str | None = None,
) -> View:
    """A view as Slack returns it: what was sent plus the fields Slack adds."""
    return {
        "id": view_id,
        "team_id": "T0001",
        "hash": view_hash or f"hash-{view_id}",
        "state": {"values": {}},
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        "root_view_id": root_view_id or view_id,
        "previous_view_id": previous_view_id,
        "clear_on_close": False,
        "notify_on_close": False,
        "app_id": "A0001",
        "bot_id": "B0001",
        **view,
    }


def _hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(6)}"

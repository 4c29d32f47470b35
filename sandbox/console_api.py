"""The console's POST actions (/sandbox/api/<name>): each checks the page's JSON body and has the
Workspace do what that person did: a command, a modal's submit or close, a click on a message or
in a view (the App Home, a modal), a reaction, opening the App Home."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from sandbox.people import Person
from sandbox.workspace import Outcome, Workspace

Body = dict[str, Any]


class BadRequest(Exception):
    """A request the page should never send; answered 400 (or `status`) with `message`."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ConsoleActions:
    """The POST API by name; every body names the acting person (`user`), who must exist."""

    def __init__(self, workspace: Workspace, people: Sequence[Person]) -> None:
        self._workspace = workspace
        self._people = {person.id: person for person in people}

    def person(self, user_id: str) -> Person:
        person = self._people.get(user_id)
        if person is None:
            raise BadRequest(f"unknown user: {user_id!r}")
        return person

    def act(self, name: str, body: Body) -> Outcome:
        action = self._actions().get(name)
        if action is None:
            raise BadRequest(f"no such action: {name}", HTTPStatus.NOT_FOUND)
        return action(body)

    def _actions(self) -> dict[str, Callable[[Body], Outcome]]:
        return {
            "command": self._command,
            "view/submit": self._submit_view,
            "view/close": self._close_view,
            "view/action": self._click_in_view,
            "action": self._click,
            "reaction": self._react,
            "home/open": self._open_home,
        }

    def _command(self, body: Body) -> Outcome:
        return self._workspace.run_command(
            user_id=self._user(body),
            channel_id=_text(body, "channel"),
            text=_optional_text(body, "text") or "",
        )

    def _submit_view(self, body: Body) -> Outcome:
        return self._workspace.submit_view(
            user_id=self._user(body), view_id=_text(body, "view_id"), inputs=_inputs(body)
        )

    def _close_view(self, body: Body) -> Outcome:
        return self._workspace.close_view(user_id=self._user(body), view_id=_text(body, "view_id"))

    def _click_in_view(self, body: Body) -> Outcome:
        """A button in the person's App Home or in a modal on their stack."""
        return self._workspace.click_in_view(
            user_id=self._user(body),
            view_id=_text(body, "view_id"),
            action_id=_text(body, "action_id"),
            block_id=_text(body, "block_id"),
            value=_optional_text(body, "value"),
        )

    def _click(self, body: Body) -> Outcome:
        return self._workspace.click(
            user_id=self._user(body),
            channel_id=_text(body, "channel"),
            message_ts=_text(body, "ts"),
            action_id=_text(body, "action_id"),
            block_id=_text(body, "block_id"),
            value=_optional_text(body, "value"),
        )

    def _react(self, body: Body) -> Outcome:
        return self._workspace.react(
            user_id=self._user(body),
            channel_id=_text(body, "channel"),
            message_ts=_text(body, "ts"),
            name=_text(body, "name").strip(":"),
        )

    def _open_home(self, body: Body) -> Outcome:
        return self._workspace.open_home(self._user(body))

    def _user(self, body: Body) -> str:
        return self.person(_text(body, "user")).id


def _text(body: Body, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"missing or empty field: {name}")
    return value


def _optional_text(body: Body, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"field {name} must be a string or null")
    return value


def _inputs(body: Body) -> dict[str, Any]:
    """{block_id: str | null | [str, ...]}, as the page collects them from the modal."""
    inputs = body.get("inputs")
    if not isinstance(inputs, dict):
        raise BadRequest("missing field: inputs (an object keyed by block_id)")
    for block_id, value in inputs.items():
        is_list = isinstance(value, list) and all(isinstance(item, str) for item in value)
        if not (value is None or isinstance(value, str) or is_list):
            raise BadRequest(f"input {block_id} must be a string, null or a list of strings")
    return inputs

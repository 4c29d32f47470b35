"""Fake Slack Web API: a real HTTP server on 127.0.0.1 that records every call and answers as
Slack does, plus `response_url` endpoints, so tests drive the real slack_sdk over real sockets.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, quote, urlsplit

from bot.sandbox.loopback import LoopbackServer

DEFAULT_BOT_TOKEN = "xoxb-test-token"  # noqa: S105 - the emulator's well-known token
JSON_STRING_KEYS = ("blocks", "view", "attachments")
FIRST_TS_MICROSECONDS = 1_700_000_000_000_000

Params = dict[str, Any]
ApiAnswer = dict[str, Any]
CallPredicate = Callable[[Params], bool]
PostPredicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class SlackCall:
    """One Web API call as the fake received it (the token is never part of it)."""

    method: str
    params: Params
    at: float


class SlackEmulator(LoopbackServer):
    """Serves `POST /api/<method>` and `POST /response/<key>` on 127.0.0.1 in a daemon thread."""

    def __init__(self, bot_token: str = DEFAULT_BOT_TOKEN, bot_user_id: str = "UBOT") -> None:
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self._changed = threading.Condition()
        self._calls: list[SlackCall] = []
        self._raw_log: list[str] = []
        self._response_posts: list[dict[str, Any]] = []
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._failures: dict[str, list[str]] = {}
        self._ts_counter = itertools.count(1)
        self._id_counter = itertools.count(1)
        self._methods: dict[str, Callable[[Params], ApiAnswer]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "reactions.add": lambda _params: {},
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_open,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.users.list": self._usergroups_users_list,
        }
        self._server = _Server(self)
        # A short poll interval keeps close() (and so each test's teardown) fast.
        self._serve("fake-slack")

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/"

    # -- setup -----------------------------------------------------------------------------

    def add_user(self, user_id: str, email: str | None = None, name: str | None = None) -> None:
        """Adds a workspace member; without an email the profile has no `email` (as Slack)."""
        display_name = name or user_id.lower()
        profile: dict[str, Any] = {"real_name": display_name, "display_name": display_name}
        if email is not None:
            profile["email"] = email
        user = {
            "id": user_id,
            "team_id": "T0001",
            "name": display_name,
            "real_name": display_name,
            "deleted": False,
            "is_bot": False,
            "profile": profile,
        }
        with self._changed:
            self._users[user_id] = user

    def add_usergroup(self, group_id: str, member_ids: list[str]) -> None:
        with self._changed:
            self._usergroups[group_id] = list(member_ids)

    def fail_next(self, method: str, error: str = "ratelimited", times: int = 1) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error}` (HTTP 200)."""
        with self._changed:
            self._failures.setdefault(method, []).extend([error] * times)

    def response_url(self, key: str = "") -> str:
        with self._changed:
            number = next(self._id_counter)
        suffix = f"{quote(key, safe='')}-{number}" if key else str(number)
        return f"{self.origin}/response/{suffix}"

    # -- inspection ------------------------------------------------------------------------

    @property
    def calls(self) -> list[SlackCall]:
        with self._changed:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    def reset_calls(self) -> None:
        with self._changed:
            self._calls.clear()
            self._raw_log.clear()
            self._response_posts.clear()

    def raw_log(self) -> str:
        """Every request target and body as received (API calls and response_url posts), each
        followed by its decoded string values, so a percent- or JSON-escaped secret still shows.
        """
        with self._changed:
            return "\n".join(self._raw_log)

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._changed:
            found = self._messages.get((channel, ts))
            return copy.deepcopy(found)

    @property
    def response_posts(self) -> list[dict[str, Any]]:
        with self._changed:
            return list(self._response_posts)

    def wait_for(
        self,
        method: str,
        predicate: CallPredicate | None = None,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[SlackCall]:
        """Waits until `count` calls of `method` whose params satisfy `predicate` exist."""

        def matching() -> list[SlackCall]:
            return [
                call
                for call in self._calls
                if call.method == method and (predicate is None or predicate(call.params))
            ]

        with self._changed:
            if self._changed.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                return matching()
            seen = [(call.method, call.params) for call in self._calls]
        message = f"expected {count} matching {method} call(s) within {timeout}s; seen: {seen}"
        raise AssertionError(message)

    def wait_for_response_post(
        self, predicate: PostPredicate | None = None, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Waits for a response_url post (`{"url", "body"}`) satisfying `predicate`."""

        def first_match() -> dict[str, Any] | None:
            return next(
                (post for post in self._response_posts if predicate is None or predicate(post)),
                None,
            )

        with self._changed:
            if self._changed.wait_for(lambda: first_match() is not None, timeout=timeout):
                return cast(dict[str, Any], first_match())
            seen = list(self._response_posts)
        raise AssertionError(f"no matching response_url post within {timeout}s; seen: {seen}")

    # -- request handling (called from server threads) -------------------------------------

    def handle_api(
        self, *, method: str, target: str, authorization: str, content_type: str, body: bytes
    ) -> ApiAnswer:
        try:
            params = _parse_params(urlsplit(target).query, content_type, body)
        except ValueError:
            params = {"_unparsed_body": body.decode("utf-8", errors="replace")}
        with self._changed:
            self._calls.append(SlackCall(method=method, params=params, at=time.time()))
            self._raw_log.append(_raw_entry(target, body, params))
            self._changed.notify_all()
            if "_unparsed_body" in params:
                return _error("invalid_json")
            return self._answer(method, authorization, params)

    def handle_response_post(self, *, target: str, body: bytes) -> None:
        text = body.decode("utf-8", errors="replace")
        try:
            decoded: Any = json.loads(text)
        except ValueError:
            decoded = text
        with self._changed:
            self._response_posts.append({"url": f"{self.origin}{target}", "body": decoded})
            self._raw_log.append(_raw_entry(target, body, decoded))
            self._changed.notify_all()

    def _answer(self, method: str, authorization: str, params: Params) -> ApiAnswer:
        if authorization != f"Bearer {self.bot_token}":
            return _error("invalid_auth")
        failures = self._failures.get(method)
        if failures:
            return _error(failures.pop(0))
        handler = self._methods.get(method)
        if handler is None:
            return _error("unknown_method")
        answer = handler(params)
        return answer if answer.get("ok") is False else {"ok": True, **answer}

    def _next_ts(self) -> str:
        microseconds = FIRST_TS_MICROSECONDS + 100 * next(self._ts_counter)
        return f"{microseconds // 1_000_000}.{microseconds % 1_000_000:06d}"

    # -- methods (run with the lock held) --------------------------------------------------

    def _auth_test(self, _params: Params) -> ApiAnswer:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "zoombot",
            "team_id": "T0001",
            "user_id": self.bot_user_id,
            "bot_id": "B0001",
        }

    def _chat_post_message(self, params: Params) -> ApiAnswer:
        channel = str(params.get("channel") or "")
        if not channel:
            return _error("channel_not_found")
        if not any(params.get(key) for key in ("text", "blocks", "attachments")):
            return _error("no_text")
        # Posting to a user ID lands in the DM with that user, whose ID Slack returns.
        if channel[0] in "UW":
            channel = f"D{channel}"
        ts = self._next_ts()
        message = {"text": params.get("text", ""), "blocks": params.get("blocks", []), "ts": ts}
        self._messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def _chat_update(self, params: Params) -> ApiAnswer:
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        message = self._messages.get((channel, ts))
        if message is None:
            return _error("message_not_found")
        # Like Slack, fields left out of the update keep their previous value.
        for key in ("text", "blocks"):
            if key in params:
                message[key] = params[key]
        return {
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": copy.deepcopy(message),
        }

    def _chat_post_ephemeral(self, params: Params) -> ApiAnswer:
        if not params.get("channel") or not params.get("user"):
            return _error("channel_not_found" if not params.get("channel") else "user_not_found")
        return {"message_ts": self._next_ts()}

    def _views_open(self, params: Params) -> ApiAnswer:
        view = params.get("view")
        if not isinstance(view, dict):
            return _error("invalid_arguments")
        return {"view": _view_answer(f"V{next(self._id_counter):010d}", view)}

    def _views_update(self, params: Params) -> ApiAnswer:
        view = params.get("view")
        if not isinstance(view, dict):
            return _error("invalid_arguments")
        view_id = str(params.get("view_id") or f"V{next(self._id_counter):010d}")
        return {"view": _view_answer(view_id, view)}

    def _conversations_open(self, params: Params) -> ApiAnswer:
        users = str(params.get("users") or "")
        if not users:
            return _error("users_list_not_supplied")
        return {"channel": {"id": f"D{users.split(',', maxsplit=1)[0]}"}}

    def _users_info(self, params: Params) -> ApiAnswer:
        user = self._users.get(str(params.get("user", "")))
        return _error("user_not_found") if user is None else {"user": copy.deepcopy(user)}

    def _users_lookup_by_email(self, params: Params) -> ApiAnswer:
        email = str(params.get("email", "")).lower()
        for user in self._users.values():
            if str(user["profile"].get("email", "")).lower() == email:
                return {"user": copy.deepcopy(user)}
        return _error("users_not_found")

    def _usergroups_users_list(self, params: Params) -> ApiAnswer:
        members = self._usergroups.get(str(params.get("usergroup", "")))
        return _error("no_such_subteam") if members is None else {"users": list(members)}


def _error(code: str) -> ApiAnswer:
    return {"ok": False, "error": code}


def _view_answer(view_id: str, view: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": view_id,
        "team_id": "T0001",
        "hash": f"hash-{view_id}",
        "state": {"values": {}},
        "private_metadata": "",
        **view,
    }


def _parse_params(query: str, content_type: str, body: bytes) -> Params:
    """Merges query string and body (form or JSON) into one dict, decoding JSON-string fields."""
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    if content_type.startswith("application/json"):
        if body:
            params.update(json.loads(body))
    elif body:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for key in JSON_STRING_KEYS:
        value = params.get(key)
        if isinstance(value, str):
            try:
                params[key] = json.loads(value)
            except ValueError:
                continue
    return params


def _raw_entry(target: str, body: bytes, decoded: Any) -> str:
    raw = f"{target}\n{body.decode('utf-8', errors='replace')}"
    return "\n".join([raw, *_strings_in(decoded)])


def _strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog (5) resets connections when several bots call at once.
    request_queue_size = 128

    def __init__(self, fake: SlackEmulator) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        fake = cast(_Server, self.server).fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path = urlsplit(self.path).path
        if path.startswith("/api/"):
            answer = fake.handle_api(
                method=path.removeprefix("/api/"),
                target=self.path,
                authorization=self.headers.get("Authorization", ""),
                content_type=self.headers.get("Content-Type", ""),
                body=body,
            )
            self._reply(200, json.dumps(answer).encode(), "application/json; charset=utf-8")
        elif path.startswith("/response/"):
            fake.handle_response_post(target=self.path, body=body)
            self._reply(200, b"ok", "text/plain; charset=utf-8")
        else:
            self._reply(404, b"not found", "text/plain; charset=utf-8")

    def _reply(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the fake must not print during tests."""

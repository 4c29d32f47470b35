"""Fake Slack Web API and workspace: a real HTTP server on 127.0.0.1 that records every call and
answers as Slack does, keeps the workspace those calls change (channels, messages, threads,
reactions, ephemerals, modals, uploaded files, message metadata) and serves `response_url`
endpoints, upload URLs and file downloads. Tests drive the real slack_sdk over real sockets
against it; the sandbox shows its state as a Slack-like page. It can also fail as Slack does
(429s, 5xx, lost or late answers, closed connections: see slack_faults.FaultControls).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit

from bot.check.manifest import BOT_SCOPES
from sandbox.loopback import KeepAliveHTTPServer, LoopbackServer
from sandbox.slack_faults import CUT_SHORT, Fault, FaultControls, Reply, reply_for
from sandbox.slack_files import mime_type
from sandbox.slack_files_api import FilesApi
from sandbox.slack_history_api import HistoryApi
from sandbox.slack_state import (
    BOT_ID,
    FIRST_TS_MICROSECONDS,
    ActionRefused,
    SlackStateError,
    WorkspaceState,
)
from sandbox.slack_views import ViewStacks
from sandbox.slack_web_api import (
    ApiAnswer,
    Params,
    WebApi,
    error,
    parse_params,
    raw_entry,
    required_scope,
    truthy,
)

__all__ = [
    "DEFAULT_BOT_TOKEN",
    "FIRST_TS_MICROSECONDS",
    "ActionRefused",
    "SlackCall",
    "SlackEmulator",
    "SlackStateError",
]

DEFAULT_BOT_TOKEN = "xoxb-test-token"  # noqa: S105 - the emulator's well-known token
BOT_NAME = "zoombot"
# Slack names the token's scopes on every answer to a call made with a valid token.
SCOPES_HEADER = "x-oauth-scopes"
MAX_RESPONSE_URLS = 1000

CallPredicate = Callable[[Params], bool]
PostPredicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class SlackCall:
    """One Web API call as the fake received it (the token is never part of it).

    `answered`: "ok", "error:<code>" (HTTP 200, ok false), "429", a 5xx status ("503"),
    "lost" (connection closed unanswered) or "stalled" (answer held back after acting)."""

    method: str
    params: Params
    at: float
    answered: str = "ok"


@dataclass(frozen=True)
class _ResponseContext:
    """Where a registered response_url came from: who acted, in which channel, on what."""

    user_id: str
    channel_id: str
    message_ts: str | None


class SlackEmulator(FaultControls, LoopbackServer):
    """Serves `POST /api/<method>` and `POST /response/<key>` on 127.0.0.1 in a daemon thread.

    `state_path` keeps the workspace in a JSON file across restarts (None: memory only).
    `clock_ts` makes message timestamps real times; by default only with a state file, so tests
    keep a fixed sequence.
    """

    def __init__(
        self,
        bot_token: str = DEFAULT_BOT_TOKEN,
        bot_user_id: str = "UBOT",
        *,
        state_path: Path | None = None,
        clock_ts: bool | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.state_path = state_path
        # The installed app's scopes (default: every one manifest.json asks for); a test that
        # takes one away sees `missing_scope` from the lookups that need it (required_scope).
        self.granted_scopes: tuple[str, ...] = BOT_SCOPES
        self._changed = threading.Condition()  # an RLock inside: predicates may read state
        self._calls: list[SlackCall] = []
        self._raw_log: list[str] = []
        self._response_posts: list[dict[str, Any]] = []
        self._responses: dict[str, _ResponseContext] = {}
        self._failures: dict[str, list[str]] = {}
        self._delays: dict[str, list[float]] = {}
        self._upload_failures: list[int] = []
        self._init_faults()
        self._state = WorkspaceState(
            clock_ts=state_path is not None if clock_ts is None else clock_ts
        )
        if state_path is not None and state_path.exists():
            self._state.load(state_path)
        self._views = ViewStacks()
        self._methods = WebApi(
            state=self._state, views=self._views, bot_user_id=bot_user_id, changed=self._commit
        ).methods()
        files_api = FilesApi(state=self._state, bot_user_id=bot_user_id, changed=self._commit)
        self._methods.update(files_api.methods())
        self._methods.update(HistoryApi(state=self._state).methods())
        self._server = _Server(self)
        self._state.files.origin = self.origin  # known once bound: upload and download URLs
        # A short poll interval keeps close() (and so each test's teardown) fast.
        self._serve("fake-slack")

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/"

    def _commit(self) -> None:
        """Every change: a new version (the page re-renders on it), saved, waiters woken."""
        self._state.version += 1
        if self.state_path is not None:
            self._state.save(self.state_path)
        self._changed.notify_all()

    # -- setup -----------------------------------------------------------------------------

    def add_user(self, user_id: str, email: str | None = None, name: str | None = None) -> None:
        """Adds a workspace member; without an email the profile has no `email` (as Slack)."""
        with self._changed:
            self._state.put_user(user_id, email=email, name=name)
            self._state.users[user_id]["is_bot"] = user_id == self.bot_user_id
            self._commit()

    def add_usergroup(self, group_id: str, member_ids: list[str]) -> None:
        with self._changed:
            self._state.usergroups[group_id] = list(member_ids)
            self._commit()

    def add_channel(self, channel_id: str, name: str) -> None:
        """A public channel, shown in the snapshot in the order added."""
        with self._changed:
            self._state.channels[channel_id] = name
            self._commit()

    def set_bot_member(self, channel_id: str, *, member: bool) -> None:
        """Whether the bot is in the channel (conversations.info's `is_member`); it is in every
        channel added until this takes it out. Posting is not refused either way."""
        with self._changed:
            if member:
                self._state.bot_outside.discard(channel_id)
            else:
                self._state.bot_outside.add(channel_id)
            self._commit()

    def deactivate_user(self, user_id: str) -> None:
        """The member's account is deactivated: users.info shows `deleted: true`, as Slack."""
        with self._changed:
            self._state.users[user_id]["deleted"] = True
            self._commit()

    def fail_next(self, method: str, error: str = "ratelimited", times: int = 1) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error}` (HTTP 200)
        without taking effect; any code (channel_not_found, not_in_channel, is_archived,
        invalid_blocks, msg_too_long, internal_error...). Checked after the token."""
        with self._changed:
            self._failures.setdefault(method, []).extend([error] * times)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` take effect (and are recorded, with `at`) only
        after `seconds`: a slow Slack, while other calls are answered meanwhile."""
        with self._changed:
            self._delays.setdefault(method, []).extend([seconds] * times)

    def fail_next_upload(self, status: int = 500, times: int = 1) -> None:
        """The next `times` POSTs of bytes to an upload URL answer HTTP `status`; the bytes are
        not kept, so a later files.completeUploadExternal answers `file_not_found`."""
        with self._changed:
            self._upload_failures.extend([status] * times)

    def response_url(self, key: str = "") -> str:
        """A response_url whose posts are only recorded (tests read them in `response_posts`)."""
        with self._changed:
            number = self._state.new_number()
        suffix = f"{quote(key, safe='')}-{number}" if key else str(number)
        return f"{self.origin}/response/{suffix}"

    # -- the workspace side (what people do; used by sandbox.workspace) --------------------

    def issue_trigger(self, user_id: str, *, issued_at: float | None = None) -> str:
        """A trigger id a views.open can exchange within 3 s for a modal owned by `user_id`.

        `issued_at` is on time.monotonic()'s clock; a test passes an old one to age it."""
        with self._changed:
            return self._views.issue_trigger(user_id, issued_at=issued_at)

    def register_response_url(
        self, *, user_id: str, channel_id: str, message_ts: str | None = None
    ) -> str:
        """A response_url whose posts act as Slack's do for that person, channel and message."""
        with self._changed:
            key = f"r{self._state.new_number()}-{secrets.token_hex(6)}"
            self._responses[key] = _ResponseContext(user_id, channel_id, message_ts)
            # Slack's response_urls expire (30 minutes); forgetting the oldest keeps memory flat.
            while len(self._responses) > MAX_RESPONSE_URLS:
                del self._responses[next(iter(self._responses))]
        return f"{self.origin}/response/{key}"

    def apply_response(
        self, body: dict[str, Any], *, user_id: str, channel_id: str, message_ts: str | None
    ) -> None:
        """Slack's response_url semantics (also used for a slash command's reply body).

        Raises ActionRefused with Slack's error code when Slack would refuse the body."""
        with self._changed:
            self._apply_response(body, _ResponseContext(user_id, channel_id, message_ts))

    def add_reaction(self, channel_id: str, ts: str, name: str, user_id: str) -> None:
        """A person's reaction; raises ActionRefused("already_reacted") on a repeat, as Slack."""
        with self._changed:
            self._state.react(channel_id, ts, name=name, user=user_id)
            self._commit()

    def add_ephemeral(
        self, *, user_id: str, channel_id: str, text: str, blocks: list[Any] | None = None
    ) -> str:
        with self._changed:
            ts = self._state.add_ephemeral(channel_id, user=user_id, text=text, blocks=blocks or [])
            self._commit()
            return ts

    def add_file(self, *, user_id: str, name: str, content: bytes, title: str | None = None) -> str:
        """A person's upload (as through a modal's file_input), shared nowhere; files.info and
        its url_private_download then serve it. Returns the file id."""
        with self._changed:
            file_id = f"F{self._state.new_number():010d}"
            record = self._state.files.add(file_id, name=name, length=len(content), user=user_id)
            record.update(content=content, title=title or name, completed=True)
            self._commit()
            return file_id

    def slack_message(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        """A message as Slack puts it in payloads (type, user, bot_id, blocks, thread_ts...)."""
        with self._changed:
            return self._state.slack_message(channel_id, ts)

    def user_name(self, user_id: str) -> str:
        with self._changed:
            user = self._state.users.get(user_id)
            return str(user["name"]) if user else user_id.lower()

    def channel_name(self, channel_id: str) -> str:
        with self._changed:
            if channel_id.startswith("D"):
                return "directmessage"
            return self._state.channels.get(channel_id, channel_id.lower())

    def open_view(self, user_id: str, view_id: str) -> dict[str, Any] | None:
        """A view on `user_id`'s modal stack: id, view (as the bot sent it), hash, errors,
        root_view_id, previous_view_id; None when that person has no such view open."""
        with self._changed:
            opened = self._views.of_user(user_id, view_id)
            if opened is None:
                return None
            return {
                "id": opened.id,
                "view": copy.deepcopy(opened.view),
                "hash": opened.hash,
                "errors": dict(opened.errors),
                "root_view_id": opened.root_view_id,
                "previous_view_id": opened.previous_view_id,
            }

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """`user_id`'s App Home as the bot last published it: id, view, hash; None before."""
        with self._changed:
            return self._views.home_snapshot(user_id)

    def set_view_errors(self, user_id: str, view_id: str, errors: dict[str, str]) -> None:
        with self._changed:
            opened = self._views.of_user(user_id, view_id)
            if opened is not None:
                opened.errors = dict(errors)
                self._commit()

    def replace_view(self, user_id: str, view_id: str, view: dict[str, Any]) -> None:
        with self._changed:
            opened = self._views.of_user(user_id, view_id)
            if opened is not None:
                self._views.replace(opened, view)
                self._commit()

    def push_view(self, user_id: str, view: dict[str, Any]) -> str:
        """Raises ActionRefused("push_limit_reached") past Slack's three views."""
        with self._changed:
            view_id = f"V{self._state.new_number():010d}"
            self._views.push(user_id, view, view_id=view_id)
            self._commit()
            return view_id

    def close_view(self, user_id: str, view_id: str) -> bool:
        """Closes the view and any pushed above it; False when it was not open."""
        with self._changed:
            closed = self._views.close(user_id, view_id)
            if closed:
                self._commit()
            return closed

    def clear_views(self, user_id: str) -> None:
        with self._changed:
            self._views.clear(user_id)
            self._commit()

    # -- inspection ------------------------------------------------------------------------

    @property
    def version(self) -> int:
        with self._changed:
            return self._state.version

    def snapshot(self, viewer_id: str) -> dict[str, Any]:
        """What `viewer_id` sees, JSON-ready (shape: the sandbox design's SlackEmulator
        snapshot)."""
        with self._changed:
            bot = self._state.users.get(self.bot_user_id)
            return {
                "version": self._state.version,
                "viewer": viewer_id,
                "bot_user_id": self.bot_user_id,
                "users": self._state.people(),
                "channels": self._state.visible_channels(
                    viewer_id, bot_name=str(bot["name"]) if bot else BOT_NAME
                ),
                "ephemerals": self._state.user_ephemerals(viewer_id),
                "view": self._views.snapshot(viewer_id),
                "home": self._views.home_snapshot(viewer_id),
            }

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Waits until `predicate` (run with the lock held, after each change) holds."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout=timeout)

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

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages (and broadcast replies) oldest first, as the snapshot shows them
        (replies under each), every message with its `metadata` (None when posted without)."""
        with self._changed:
            return self._state.channel_messages(channel, metadata=True)

    def messages_with_metadata(self, event_type: str) -> list[dict[str, Any]]:
        """Every message, thread replies too, in any channel, whose metadata has `event_type`,
        oldest first: channel, ts, thread_ts, text, metadata."""
        with self._changed:
            return self._state.messages_with_metadata(event_type)

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """A message's `text`, `blocks` and `ts` (slack_message() has the rest)."""
        with self._changed:
            found = self._state.messages.get((channel, ts))
            if found is None:
                return None
            return {key: copy.deepcopy(found[key]) for key in ("text", "blocks", "ts")}

    def uploaded_files(self) -> list[dict[str, Any]]:
        """Every file whose bytes arrived, oldest first: id, name, title, user, content (bytes),
        size, completed, initial_comment, channel / thread_ts / ts of its first share (None
        until files.completeUploadExternal shared it) and channels (every share)."""
        with self._changed:
            return self._state.files.uploaded()

    def wait_for_file(
        self, predicate: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Waits for a shared file (as `uploaded_files()` lists it) satisfying `predicate`."""

        def first_match() -> dict[str, Any] | None:
            shared = (item for item in self._state.files.uploaded() if item["channel"])
            return next((item for item in shared if predicate is None or predicate(item)), None)

        with self._changed:
            if self._changed.wait_for(lambda: first_match() is not None, timeout=timeout):
                return cast(dict[str, Any], first_match())
            seen = [(item["id"], item["name"], item["channel"]) for item in self.uploaded_files()]
        raise AssertionError(f"no matching shared file within {timeout}s; seen: {seen}")

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
    ) -> Reply:
        """Answers one call, faulted as configured (see FaultControls); records it either way."""
        try:
            params = parse_params(urlsplit(target).query, content_type, body)
        except ValueError:
            params = {"_unparsed_body": body.decode("utf-8", errors="replace")}
        with self._changed:
            delays = self._delays.get(method)
            delay_seconds = delays.pop(0) if delays else 0.0
            fault = self._plan_fault(method, params)
        time.sleep(delay_seconds)  # outside the lock: the fake answers other calls meanwhile
        if fault is not None and fault.waits_before_acting and self.hold_answer(fault.seconds):
            fault = CUT_SHORT
        with self._changed:
            at = time.time()
            answer = self._effect(method, authorization, params, fault)
            reply, answered = reply_for(answer, fault)
            if self._authorized(authorization) and not reply.lose:
                scopes = {SCOPES_HEADER: ",".join(self.granted_scopes)}
                reply = dataclasses.replace(reply, headers={**reply.headers, **scopes})
            self._calls.append(SlackCall(method=method, params=params, at=at, answered=answered))
            self._raw_log.append(raw_entry(target, body, params))
            self._changed.notify_all()
            return reply

    def _effect(
        self, method: str, authorization: str, params: Params, fault: Fault | None
    ) -> ApiAnswer | None:
        """The method's answer, having taken effect; None when the fault keeps it from acting."""
        if fault is not None and not fault.takes_effect:
            return None
        if "_unparsed_body" in params:
            return error("invalid_json")
        return self._answer(method, authorization, params)

    def handle_response_post(self, *, target: str, body: bytes) -> tuple[int, str]:
        """Records the post; one to a registered response_url also acts. Returns (status, text)."""
        text = body.decode("utf-8", errors="replace")
        try:
            decoded: Any = json.loads(text)
        except ValueError:
            decoded = text
        key = urlsplit(target).path.removeprefix("/response/")
        with self._changed:
            self._response_posts.append({"url": f"{self.origin}{target}", "body": decoded})
            self._raw_log.append(raw_entry(target, body, decoded))
            self._changed.notify_all()
            context = self._responses.get(key)
            if context is None:
                return 200, "ok"
            if not isinstance(decoded, dict):
                return 400, "invalid_payload"
            try:
                self._apply_response(decoded, context)
            except ActionRefused as refused:
                return 404 if refused.code == "message_not_found" else 400, refused.code
            return 200, "ok"

    def handle_upload(self, *, target: str, body: bytes) -> tuple[int, str]:
        """A POST of a file's bytes to the upload URL getUploadURLExternal gave (no token, as
        Slack's pre-signed URLs). Returns (status, text)."""
        file_id = urlsplit(target).path.removeprefix("/upload/")
        with self._changed:
            # The bytes join the raw log, so "the secret appears nowhere" checks cover files.
            self._raw_log.append(raw_entry(target, body, None))
            record = self._state.files.get(file_id)
            if record is None or record["completed"]:
                return 404, "upload_url_not_found"
            if self._upload_failures:
                return self._upload_failures.pop(0), "upload_failed"
            record["content"] = body
            self._commit()
            return 200, f"OK - {len(body)}"

    def file_download(self, target: str) -> tuple[bytes, str, str] | None:
        """A file's bytes, content type and name at its `/files/<id>/<name>` URL (the sandbox
        page's download link, url_private_download); None when there is no such file."""
        file_id = urlsplit(target).path.removeprefix("/files/").split("/", 1)[0]
        with self._changed:
            record = self._state.files.get(file_id)
            if record is None or record["content"] is None:
                return None
            name = str(record["name"])
            return bytes(record["content"]), mime_type(name), name

    def _apply_response(self, body: dict[str, Any], context: _ResponseContext) -> None:
        state, ts = self._state, context.message_ts
        text, blocks = str(body.get("text") or ""), list(body.get("blocks") or [])
        if truthy(body.get("delete_original")):
            if ts is None:
                raise ActionRefused("message_not_found")
            state.delete(context.channel_id, ts)
        elif not text and not blocks:
            raise ActionRefused("no_text")
        elif truthy(body.get("replace_original")) and ts is not None:
            # Slack shows no "(edited)" for a replacement through response_url.
            changes = {"text": text, "blocks": blocks}
            state.update(context.channel_id, ts, changes=changes, edited=False)
        elif body.get("response_type") == "in_channel":
            state.post(
                context.channel_id, user=self.bot_user_id, bot_id=BOT_ID, text=text, blocks=blocks
            )
        else:
            state.add_ephemeral(context.channel_id, user=context.user_id, text=text, blocks=blocks)
        self._commit()

    def _authorized(self, authorization: str) -> bool:
        return authorization == f"Bearer {self.bot_token}"

    def _answer(self, method: str, authorization: str, params: Params) -> ApiAnswer:
        if not self._authorized(authorization):
            return error("invalid_auth")
        failures = self._failures.get(method)
        if failures:
            return error(failures.pop(0))
        needed = required_scope(method, params)
        if needed is not None and needed not in self.granted_scopes:
            provided = ",".join(self.granted_scopes)
            return {"ok": False, "error": "missing_scope", "needed": needed, "provided": provided}
        handler = self._methods.get(method)
        if handler is None:
            return error("unknown_method")
        answer = handler(params)
        return answer if answer.get("ok") is False else {"ok": True, **answer}


class _Server(KeepAliveHTTPServer):
    # socketserver's default backlog (5) resets connections when several bots call at once.
    request_queue_size = 128

    def __init__(self, fake: SlackEmulator) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as Slack: every answer below carries Content-Length (send_error closes).
    protocol_version = "HTTP/1.1"
    # The headers and the body leave in two writes: with Nagle on, a kept-alive client's
    # delayed ACK would hold the body back 40 ms.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        fake = cast(_Server, self.server).fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path = urlsplit(self.path).path
        if path.startswith("/api/"):
            reply = fake.handle_api(
                method=path.removeprefix("/api/"),
                target=self.path,
                authorization=self.headers.get("Authorization", ""),
                content_type=self.headers.get("Content-Type", ""),
                body=body,
            )
            self._write(reply, fake)
        elif path.startswith("/response/"):
            status, text = fake.handle_response_post(target=self.path, body=body)
            self._reply(status, text.encode(), "text/plain; charset=utf-8")
        elif path.startswith("/upload/"):
            status, text = fake.handle_upload(target=self.path, body=body)
            self._reply(status, text.encode(), "text/plain; charset=utf-8")
        else:
            self._reply(404, b"not found", "text/plain; charset=utf-8")

    def do_GET(self) -> None:
        fake = cast(_Server, self.server).fake
        found = fake.file_download(self.path) if self.path.startswith("/files/") else None
        if found is None:
            self._reply(404, b"not found", "text/plain; charset=utf-8")
            return
        content, content_type, name = found
        # Served from another port than the page, so the link's `download` attribute does not
        # apply: the header makes the browser save the file under its name.
        disposition = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
        self._reply(200, content, content_type, headers={"Content-Disposition": disposition})

    def _write(self, reply: Reply, fake: SlackEmulator) -> None:
        """An API reply: lost (closed unanswered), held back, or written at once."""
        if reply.lose or (reply.hold_seconds and fake.hold_answer(reply.hold_seconds)):
            self.close_connection = True  # nothing written; the emulator may be closing
            return
        if not reply.hold_seconds:
            self._reply(reply.status, reply.body, reply.content_type, reply.headers)
            return
        # The client may have timed out and gone: write what is left, then hang up.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._reply(reply.status, reply.body, reply.content_type, reply.headers)

    def _reply(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if cast(_Server, self.server).fake.close_after_reply():
            self.send_header("Connection", "close")  # the handler then closes after writing
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the fake must not print during tests."""

"""Fake Zoom: a real HTTP server on 127.0.0.1 with the S2S OAuth token endpoint and
`/v2/accounts` (create and list), checking bodies against Zoom's published schema.

Optional fault modes for reliability tests (off by default): a per-second rate limit answered
with 429 + Retry-After, and what a slow create does when its client goes away (`create_commit`).
An ordinary account instead of a master one (`master_account = False`) is refused the
`/v2/accounts` calls. For the sandbox (also off by default): documented inputs that get each of
Zoom's documented answers (`use_sandbox_scenarios`, rules in zoom_scenarios.py) and state kept
in a JSON file.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import secrets
import select
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jsonschema import Draft4Validator

from sandbox.loopback import LoopbackServer
from sandbox.zoom_scenarios import (
    RATE_LIMIT_MESSAGE,
    CreateAttempt,
    Scenario,
    ZoomScenarios,
    account_create_schema,
    describe,
    first_verdict,
    rate_limit_headers,
    schema_problems,
)
from sandbox.zoom_state import (
    RECEIVED_LIMIT,
    SimulatorState,
    load_state,
    received_entry,
    save_state,
)

Headers = dict[str, str]


@dataclass(frozen=True)
class TokenRequest:
    """One call to the token endpoint (the secret itself is not kept)."""

    client_id: str | None
    credentials_ok: bool
    content_type: str
    form: dict[str, str]
    query: dict[str, str]


@dataclass(frozen=True)
class AccountPost:
    """One POST /v2/accounts: headers (lower-case names, no Authorization) and parsed body,
    when it arrived (time.time()) and from which client port (to tell senders apart)."""

    headers: Headers
    body: Any
    at: float = 0.0
    client_port: int = 0


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None
    headers: Headers = field(default_factory=dict)
    delay_seconds: float = 0.0
    # A create decided only once the delay is over (see ZoomSimulator.create_commit).
    deferred_create: Any = None


@dataclass(frozen=True)
class Answered:
    """What the fake answered to one API call (token requests excluded), when it answered,
    and for a create, the email it was for."""

    method: str
    path: str
    status: int
    at: float
    email: str | None = None


# What a delayed create does (ZoomSimulator.create_commit); Zoom documents none of this, so tests
# that depend on it say which reading they use.
CREATE_ON_RECEIPT = "on_receipt"  # the account exists as soon as the request arrives
CREATE_AFTER_DELAY = "after_delay"  # it appears when the delay is over, client there or not
CREATE_IF_CLIENT_WAITS = "if_client_waits"  # a client gone by then leaves nothing created
CREATE_COMMITS = (CREATE_ON_RECEIPT, CREATE_AFTER_DELAY, CREATE_IF_CLIENT_WAITS)


class ZoomSimulator(LoopbackServer):
    """Serves `POST /oauth/token`, `POST /v2/accounts` and `GET /v2/accounts` on 127.0.0.1.

    With `state_path`, accounts, emails throttled once and the log of create requests are read
    from that file at start and written back after each change; without it nothing touches disk.
    """

    def __init__(
        self,
        account_id: str = "acct-1",
        client_id: str = "zoom-client-id",
        client_secret: str = "zoom-client-secret",  # noqa: S107 - a fake's well-known secret
        *,
        state_path: Path | None = None,
    ) -> None:
        self.account_id = account_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.state_path = state_path
        # The scenario rules (zoom_scenarios.py); empty values keep a rule off.
        self.blocked_domains: set[str] = set()
        self.invalid_words: set[str] = set()
        self.special_characters = ""
        self.password_words: set[str] = set()
        self.throttle_once_suffix = ""
        self.retry_after_seconds = 2
        self.server_error_suffix = ""
        self.delay_seconds = 0.0
        self.token_delay_seconds = 0.0
        self.max_page_size = 300
        # False: the credentials belong to an ordinary (not master) account, whose token Zoom
        # still issues but whose /v2/accounts calls it refuses with code 200 "No permission.".
        self.master_account = True
        # Off by default. When set: at most this many /v2 calls are served in any 1-second
        # window; the others get 429 with Retry-After (ISO-8601, as in Zoom's own example).
        self.rate_limit_per_second: int | None = None
        self.create_commit = CREATE_ON_RECEIPT
        self.token_requests: list[TokenRequest] = []
        self.account_posts: list[AccountPost] = []
        self.account_lists: list[dict[str, str]] = []
        self.answered: list[Answered] = []
        self.throttled = 0  # calls answered 429 by the rate limit above
        self.lost_creates: list[str] = []  # emails of creates dropped by CREATE_IF_CLIENT_WAITS
        self.schema_errors: list[str] = []
        saved = load_state(state_path) if state_path is not None else SimulatorState()
        self.created_accounts: dict[str, dict[str, Any]] = saved.created_accounts
        self.throttled_emails: set[str] = saved.throttled_emails  # casefolded
        self.issued_tokens: list[str] = []
        self._seeded_accounts: list[dict[str, Any]] = saved.seeded_accounts
        # Create requests, passwords masked (unlike account_posts, which stay in memory only).
        self._received: list[dict[str, Any]] = saved.received
        self._valid_tokens: set[str] = set()
        self._queued: deque[Answer] = deque()
        self._queued_list_answers: deque[Answer] = deque()
        self._queued_token_answers: deque[Answer] = deque()
        self._served_at: deque[float] = deque()  # monotonic times of calls the limit let in
        self._raw_log: list[str] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._validator = Draft4Validator(account_create_schema())
        self._server = _Server(self)
        self._serve("fake-zoom")

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"{self.origin}/v2"

    @property
    def oauth_url(self) -> str:
        return f"{self.origin}/oauth/token"

    def _before_close(self) -> None:
        self._stopping.set()  # cut delayed answers short so their threads can be joined

    # -- scripting -------------------------------------------------------------------------

    def queue_response(
        self, status: int, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        """The next POST /v2/accounts gets this answer instead of the default behaviour."""
        with self._lock:
            self._queued.append(Answer(status, body, dict(headers or {})))

    def queue_list_response(
        self, status: int, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        """The next GET /v2/accounts gets this answer instead of the listing."""
        with self._lock:
            self._queued_list_answers.append(Answer(status, body, dict(headers or {})))

    def queue_token_response(self, status: int, body: Any = None) -> None:
        """The next token request gets this answer instead of a token."""
        with self._lock:
            self._queued_token_answers.append(Answer(status, body))

    def expire_tokens(self) -> None:
        with self._lock:
            self._valid_tokens.clear()

    def seed_account(self, email: str, account_name: str = "Seeded Account") -> dict[str, Any]:
        """An account that exists in Zoom without this fake having created it."""
        account = _new_account(email, account_name=account_name)
        with self._lock:
            self._seeded_accounts.append(account)
            self._save()
        return account

    # -- sandbox scenarios and state -------------------------------------------------------

    def use_sandbox_scenarios(self, scenarios: ZoomScenarios | None = None) -> None:
        """Turn on the documented inputs of `scenarios` (default: the sandbox's), replacing
        the current rules, and seed its taken emails unless they already exist."""
        chosen = ZoomScenarios() if scenarios is None else scenarios
        with self._lock:
            self.blocked_domains = set(chosen.blocked_domains)
            self.invalid_words = set(chosen.invalid_words)
            self.special_characters = chosen.special_characters
            self.password_words = set(chosen.password_words)
            self.throttle_once_suffix = chosen.throttle_once_suffix
            self.retry_after_seconds = chosen.retry_after_seconds
            self.server_error_suffix = chosen.server_error_suffix
            for email in chosen.taken_emails:
                if not self._email_taken(email):
                    self.seed_account(email)

    def active_scenarios(self) -> ZoomScenarios:
        """The rules as they stand now (the taken emails are the seeded accounts)."""
        with self._lock:
            return ZoomScenarios(
                taken_emails=tuple(account["owner_email"] for account in self._seeded_accounts),
                blocked_domains=tuple(sorted(self.blocked_domains)),
                invalid_words=tuple(sorted(self.invalid_words)),
                special_characters=self.special_characters,
                password_words=tuple(sorted(self.password_words)),
                throttle_once_suffix=self.throttle_once_suffix,
                retry_after_seconds=self.retry_after_seconds,
                server_error_suffix=self.server_error_suffix,
            )

    def scenarios(self) -> list[Scenario]:
        """What each documented input gets, in the order creates are checked."""
        return describe(self.active_scenarios())

    def received_creates(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest create requests, newest first, passwords masked."""
        with self._lock:
            return copy.deepcopy(self._received[::-1][:limit])

    def _save(self) -> None:
        if self.state_path is None:
            return
        state = SimulatorState(
            created_accounts=self.created_accounts,
            seeded_accounts=self._seeded_accounts,
            throttled_emails=self.throttled_emails,
            received=self._received,
        )
        save_state(self.state_path, state)

    def pause(self, seconds: float) -> None:
        """Wait before answering, but not past close(), so handler threads can be joined."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def raw_log(self) -> str:
        with self._lock:
            return "\n".join(self._raw_log)

    # -- request handling (called from server threads) -------------------------------------

    def handle(
        self, method: str, target: str, headers: Headers, body: bytes, client_port: int = 0
    ) -> Answer:
        url = urlsplit(target)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        with self._lock:
            self._raw_log.append(f"{method} {url.path}\n{body.decode('utf-8', 'replace')}")
            if (method, url.path) == ("POST", "/oauth/token"):
                return self._token(query, headers, body)
            if (method, url.path) == ("POST", "/v2/accounts"):
                self.account_posts.append(_account_post(headers, body, client_port))
            throttled = self._throttle() if url.path.startswith("/v2/") else None
            if throttled is not None:
                return throttled
            if (method, url.path) == ("POST", "/v2/accounts"):
                return self._create_account(headers, body)
            if (method, url.path) == ("GET", "/v2/accounts"):
                return self._list_accounts(query, headers)
        return Answer(404, {"code": 404, "message": "Not found."})

    def complete(self, answer: Answer, *, client_connected: bool) -> Answer:
        """The answer once the delay is over: a deferred create happens (or not) now."""
        if answer.deferred_create is None:
            return answer
        with self._lock:
            if self.create_commit == CREATE_IF_CLIENT_WAITS and not client_connected:
                self.lost_creates.append(answer.deferred_create["email"])
                return Answer(500, {"code": 500, "message": "The client went away."})
            return self._create(answer.deferred_create)

    def record_answer(self, method: str, target: str, answer: Answer, body: bytes = b"") -> None:
        path = urlsplit(target).path
        if path == "/oauth/token":
            return
        parsed = _json_or_none(body)
        email = parsed.get("email") if isinstance(parsed, dict) else None
        with self._lock:
            self.answered.append(Answered(method, path, answer.status, time.time(), email))
            if (method, path) != ("POST", "/v2/accounts"):
                return
            entry = received_entry(
                method=method, path=path, body=parsed, status=answer.status, answer=answer.body
            )
            self._received.append(entry)
            del self._received[:-RECEIVED_LIMIT]
            # Saved before the answer leaves, so a created account survives any restart.
            self._save()

    def _throttle(self) -> Answer | None:
        if self.rate_limit_per_second is None:
            return None
        now = time.monotonic()
        while self._served_at and self._served_at[0] <= now - 1.0:
            self._served_at.popleft()
        if len(self._served_at) < self.rate_limit_per_second:
            self._served_at.append(now)
            return None
        self.throttled += 1
        retry_at = datetime.now(UTC) + timedelta(seconds=self._served_at[0] + 1.0 - now)
        headers = rate_limit_headers(retry_at.isoformat(), limit=self.rate_limit_per_second)
        return Answer(429, {"code": 429, "message": RATE_LIMIT_MESSAGE}, headers)

    def _token(self, query: dict[str, str], headers: Headers, body: bytes) -> Answer:
        content_type = headers.get("content-type", "")
        form = _form(content_type, body)
        client_id, secret = _basic_credentials(headers.get("authorization", ""))
        credentials_ok = (client_id, secret) == (self.client_id, self.client_secret)
        self.token_requests.append(
            TokenRequest(client_id, credentials_ok, content_type, form, query)
        )
        if self._queued_token_answers:
            return self._queued_token_answers.popleft()
        grant_ok = form.get("grant_type") == "account_credentials"
        if not (credentials_ok and grant_ok and form.get("account_id") == self.account_id):
            body_out = {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
            return Answer(401, body_out)
        token = secrets.token_urlsafe(32)
        self.issued_tokens.append(token)
        self._valid_tokens.add(token)
        answer = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 3600,
            "scope": "account:master",
        }
        return Answer(200, answer, delay_seconds=self.token_delay_seconds)

    def _create_account(self, headers: Headers, raw_body: bytes) -> Answer:
        body = _json_or_none(raw_body)
        problems = self._request_problems(headers, raw_body, body)
        self.schema_errors.extend(f"{name}: {message}" for name, message in problems)
        if self._queued:
            return _delayed(self._queued.popleft(), self.delay_seconds)
        if not self._authorized(headers):
            return _delayed(_INVALID_TOKEN, self.delay_seconds)
        if not self.master_account:
            return _delayed(_NO_PERMISSION, self.delay_seconds)
        if problems:
            return _delayed(_validation_failed(problems), self.delay_seconds)
        if self.delay_seconds > 0 and self.create_commit != CREATE_ON_RECEIPT:
            return Answer(0, delay_seconds=self.delay_seconds, deferred_create=body)
        return _delayed(self._create(body), self.delay_seconds)

    def _request_problems(
        self, headers: Headers, raw_body: bytes, body: Any
    ) -> list[tuple[str, str]]:
        content_type = _media_type(headers.get("content-type", ""))
        if content_type != "application/json":
            return [("Content-Type", f"is {content_type!r}, not application/json")]
        if body is None and raw_body.strip() != b"null":
            return [("body", "is not valid JSON")]
        return schema_problems(self._validator, body)

    def _create(self, body: dict[str, Any]) -> Answer:
        email: str = body["email"]
        attempt = CreateAttempt(
            body,
            already_used=self._email_taken(email),
            throttled_before=email.casefold() in self.throttled_emails,
        )
        verdict = first_verdict(self.active_scenarios(), attempt)
        if verdict is not None:
            if verdict.throttles:
                self.throttled_emails.add(email.casefold())
            return Answer(verdict.status, verdict.body, verdict.headers)
        default_name = f"{body['first_name']} {body['last_name']}"
        account = _new_account(email, account_name=body.get("account_name") or default_name)
        self.created_accounts[email] = account
        return Answer(201, {key: account[key] for key in _CREATED_FIELDS})

    def _list_accounts(self, query: dict[str, str], headers: Headers) -> Answer:
        self.account_lists.append(query)
        if self._queued_list_answers:
            return _delayed(self._queued_list_answers.popleft(), self.delay_seconds)
        if not self._authorized(headers):
            return _delayed(_INVALID_TOKEN, self.delay_seconds)
        if not self.master_account:
            return _delayed(_NO_PERMISSION, self.delay_seconds)
        email = query.get("email", "").casefold()
        matching = [
            account
            for account in [*self._seeded_accounts, *self.created_accounts.values()]
            if not email or account["owner_email"].casefold() == email
        ]
        page_size = min(int(query.get("page_size", "30")), self.max_page_size)
        offset = int(query.get("next_page_token") or 0)
        page = matching[offset : offset + page_size]
        more = offset + page_size < len(matching)
        listing = {
            "page_count": -(-len(matching) // page_size),
            "page_size": page_size,
            "total_records": len(matching),
            "next_page_token": str(offset + page_size) if more else "",
            "accounts": [{key: account[key] for key in _LISTED_FIELDS} for account in page],
        }
        return _delayed(Answer(200, listing), self.delay_seconds)

    def _authorized(self, headers: Headers) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token in self._valid_tokens

    def _email_taken(self, email: str) -> bool:
        taken = [*self.created_accounts, *(a["owner_email"] for a in self._seeded_accounts)]
        return email.casefold() in {other.casefold() for other in taken}


_CREATED_FIELDS = ("id", "owner_id", "owner_email", "created_at")
_LISTED_FIELDS = ("id", "account_name", "owner_email", "created_at")
_INVALID_TOKEN = Answer(401, {"code": 124, "message": "Invalid access token."})
# Zoom's answer to a master-account API called by an account that is not one (400, code 200).
_NO_PERMISSION = Answer(400, {"code": 200, "message": "No permission."})


def _account_post(headers: Headers, raw_body: bytes, client_port: int) -> AccountPost:
    recorded = {name: value for name, value in headers.items() if name != "authorization"}
    return AccountPost(recorded, _json_or_none(raw_body), time.time(), client_port)


def _client_connected(connection: socket.socket) -> bool:
    """False once the client has closed its end (or the connection broke)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return not readable or connection.recv(1, socket.MSG_PEEK) != b""
    except OSError:
        return False


def _new_account(email: str, *, account_name: str) -> dict[str, Any]:
    return {
        "id": secrets.token_urlsafe(16),
        "owner_id": secrets.token_urlsafe(16),
        "owner_email": email,
        "account_name": account_name,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _delayed(answer: Answer, delay_seconds: float) -> Answer:
    return Answer(answer.status, answer.body, answer.headers, delay_seconds)


def _validation_failed(problems: list[tuple[str, str]]) -> Answer:
    errors = [{"field": name, "message": message} for name, message in problems]
    return Answer(400, {"code": 300, "message": "Validation Failed.", "errors": errors})


def _json_or_none(raw_body: bytes) -> Any:
    try:
        return json.loads(raw_body)
    except ValueError:
        return None


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _form(content_type: str, body: bytes) -> dict[str, str]:
    if _media_type(content_type) != "application/x-www-form-urlencoded":
        return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _basic_credentials(authorization: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, _, password = decoded.partition(":")
    return user, password


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # block_on_close stays True: close() still joins handler threads
    # socketserver's default backlog (5) resets connections when several bots call at once.
    request_queue_size = 128

    def __init__(self, fake: ZoomSimulator) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up waiting (the timeout tests) is expected; anything else is not.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake = self.server.fake
        answer = fake.handle(method, self.path, headers, body, self.client_address[1])
        fake.pause(answer.delay_seconds)
        answer = fake.complete(answer, client_connected=_client_connected(self.connection))
        fake.record_answer(method, self.path, answer, body)
        self._reply(answer)

    def _reply(self, answer: Answer) -> None:
        payload = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass

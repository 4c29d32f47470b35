"""The sandbox page's HTTP server on 127.0.0.1: the page (`/`, `/static/<file>`) and the JSON API
under /sandbox/api/: GET state, and the POST actions of console_api (command, view/submit,
view/close, view/action, action, reaction, home/open) through which the page acts as a person."""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.audit_view import AuditReader
from sandbox.console_api import BadRequest, Body, ConsoleActions
from sandbox.loopback import LoopbackServer
from sandbox.people import Person
from sandbox.slack_emulator import SlackEmulator
from sandbox.workspace import Outcome, Workspace
from sandbox.zoom_simulator import ZoomSimulator

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
API_PREFIX = "/sandbox/api/"
# The page sends a few hundred bytes; anything far larger is not the page.
MAX_BODY_BYTES = 256_000
# Only plain file names: no separators, no leading dot, so nothing outside STATIC_DIR.
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class ConsoleParts:
    """What the console reads and drives; the launcher (or a test) builds them."""

    workspace: Workspace
    slack: SlackEmulator
    zoom: ZoomSimulator
    audit: AuditReader
    people: Sequence[Person]
    command: str = "/zoom-subaccount"


class SandboxConsole(LoopbackServer):
    """Binds 127.0.0.1:`port` at once (so a taken port fails here); serves after `start()`."""

    def __init__(
        self, parts: ConsoleParts, *, port: int = 0, static_dir: Path = STATIC_DIR
    ) -> None:
        self.parts = parts
        self.static_dir = static_dir
        self._actions = ConsoleActions(parts.workspace, parts.people)
        self._server = _Server(self, port)
        self._started = False

    def start(self) -> None:
        self._started = True
        self._serve("sandbox-console")

    @property
    def url(self) -> str:
        return f"{self.origin}/"

    def close(self) -> None:
        if self._started:
            super().close()
        else:
            self._server.server_close()

    # -- reading ---------------------------------------------------------------------------

    def state(self, user_id: str) -> Body:
        self._actions.person(user_id)
        parts = self.parts
        return {
            "slack": parts.slack.snapshot(user_id),
            "people": [person.as_json() for person in parts.people],
            "audit": parts.audit.snapshot(),
            "zoom": {
                "received": parts.zoom.received_creates(),
                "scenarios": [asdict(scenario) for scenario in parts.zoom.scenarios()],
            },
            "command": parts.command,
        }

    def static_file(self, name: str) -> tuple[bytes, str] | None:
        if not _STATIC_NAME.fullmatch(name):
            return None
        path = self.static_dir / name
        # A symlink in the folder must not lead out of it either.
        if not path.is_file() or path.resolve().parent != self.static_dir.resolve():
            return None
        return path.read_bytes(), CONTENT_TYPES.get(path.suffix, "application/octet-stream")

    # -- acting ----------------------------------------------------------------------------

    def act(self, name: str, body: Body) -> Outcome:
        return self._actions.act(name, body)


def _static_name(path: str) -> str | None:
    """The file a GET path asks for: `/` is the page; `/static/<name>` one of its files."""
    if path == "/":
        return "index.html"
    if path.startswith("/static/"):
        return unquote(path.removeprefix("/static/"))
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, console: SandboxConsole, port: int) -> None:
        # Loopback only: the page can act as anyone in the workspace.
        super().__init__(("127.0.0.1", port), _Handler)
        self.console = console


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_POST(self) -> None:
        self._answer(self._post)

    def _get(self) -> None:
        url = urlsplit(self.path)
        console = self.server.console
        if url.path == f"{API_PREFIX}state":
            user_id = parse_qs(url.query).get("user", [""])[0]
            self._json(HTTPStatus.OK, console.state(user_id))
            return
        name = _static_name(url.path)
        found = console.static_file(name) if name is not None else None
        if found is None:
            raise BadRequest("not found", HTTPStatus.NOT_FOUND)
        self._send(HTTPStatus.OK, *found)

    def _post(self) -> None:
        path = urlsplit(self.path).path
        if not path.startswith(API_PREFIX):
            raise BadRequest("not found", HTTPStatus.NOT_FOUND)
        outcome = self.server.console.act(path.removeprefix(API_PREFIX), self._json_body())
        self._json(HTTPStatus.OK, asdict(outcome))

    def _json_body(self) -> Body:
        # Requiring JSON makes a cross-site form post impossible: browsers preflight it.
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            raise BadRequest(
                "send Content-Type: application/json", HTTPStatus.UNSUPPORTED_MEDIA_TYPE
            )
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if not 0 <= length <= MAX_BODY_BYTES:
            raise BadRequest("request body too large", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            raise BadRequest("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body

    def _answer(self, handle: Callable[[], None]) -> None:
        try:
            self._check_host()
            handle()
        except BadRequest as problem:
            self._json(problem.status, {"ok": False, "message": problem.message})
        except ConnectionError:
            return  # the page went away (a reload mid-poll): nobody to answer
        except Exception as exc:  # noqa: BLE001 - the one place unexpected errors are answered
            # Type and frames only: an exception's text could quote what someone typed.
            frames = "".join(traceback.format_tb(exc.__traceback__))
            logger.error(
                "sandbox console: %s while answering %s\n%s", type(exc).__name__, self.path, frames
            )
            message = f"the sandbox failed ({type(exc).__name__}); see the terminal"
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"ok": False, "message": message})

    def _check_host(self) -> None:
        # Refuses DNS-rebinding: another site's name resolving to 127.0.0.1.
        port = self.server.server_address[1]
        if self.headers.get("Host") not in (f"127.0.0.1:{port}", f"localhost:{port}"):
            raise BadRequest("unexpected Host header", HTTPStatus.FORBIDDEN)

    def _json(self, status: HTTPStatus, payload: Body) -> None:
        self._send(status, json.dumps(payload).encode(), JSON_TYPE)

    def _send(self, status: HTTPStatus, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the page polls every second; the bot's own log is what matters."""

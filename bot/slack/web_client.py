"""KeepAliveWebClient: slack_sdk's WebClient over persistent HTTP connections.

slack_sdk's sync client opens a new TCP (in production TLS) connection for every call through
urllib; this one keeps one `http.client` connection per thread per origin and reuses it. All
else (headers, token, json/form/multipart bodies, retry handlers, 429 and error handling, the
response's shape) stays slack_sdk's: only `_perform_urllib_http_request_internal` is replaced.
With a proxy (argument or HTTP(S)_PROXY) calls still go through urllib, as before. Not followed:
redirects (urllib turns a redirected POST into a GET; the Web API sends none), so a 3xx is an
HTTP error. The uploads of files_upload_v2 to the URL Slack gives and WebhookClient's
response_url posts take slack_sdk's own urllib paths, untouched.

Never two sends of one call (chat.postMessage has no idempotency key). A call is resent, once,
on a fresh connection only when a *reused* (so idle) connection failed before the request was
written completely, or was closed (RemoteDisconnected, ECONNRESET, EPIPE) with not one byte of
the response read: the stale keep-alive case, the server having closed the idle connection
before our request reached it, so it cannot have acted on it. A connection found closed before
sending is replaced without any send. Otherwise a failure is final: on a fresh connection a
send failure is urllib's URLError (which slack_sdk's retry handler may resend: nothing arrived);
a connection closed or reset after the request left is ResponseLostError, because slack_sdk's
default handler would resend the bare ConnectionResetError or RemoteDisconnected; a timeout or
garbled answer is raised as urlopen raises it, and slack_sdk does not resend those.
"""

from __future__ import annotations

import http.client
import io
import logging
import os
import select
import socket
import threading
import weakref
from typing import Any, cast
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

logger = logging.getLogger(__name__)

_Origin = tuple[str, str, int]  # scheme, host, port
# Errors that, with no response byte read on a reused idle connection, mean "closed while idle".
_STALE_ERRORS = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class ResponseLostError(ConnectionError):
    """The request was sent but the connection failed before a response: Slack may have acted
    on it, so it is not resent. An OSError, as urllib's failures are, for callers' handlers."""


class KeepAliveWebClient(WebClient):
    """A WebClient whose calls reuse one HTTP/1.1 connection per thread and origin."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        sdk_logger = kwargs.pop("logger", None) or logging.getLogger("slack_sdk.web.base_client")
        kwargs["logger"] = cast(logging.Logger, _EffectiveLevelLogger(sdk_logger, {}))
        super().__init__(*args, **kwargs)
        self._local = threading.local()
        self._open = _OpenConnections()
        # Not __del__: a client dropped in a reference cycle must still close its sockets, and
        # a finalizer (holding `_open`, not the client) runs before the cycle's objects go.
        weakref.finalize(self, self._open.close_all)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if self.proxy or scheme not in ("http", "https") or not parts.hostname:
            # Proxies (and the refusal of other schemes) stay urllib's, exactly as slack_sdk has it.
            return super()._perform_urllib_http_request_internal(url, req)
        port = parts.port or (443 if scheme == "https" else 80)
        connection = self._connection((scheme, parts.hostname, port))
        status, reason, headers, raw = _exchange(connection, req)
        if not 200 <= status < 300:
            # urlopen's way of reporting a status: slack_sdk reads code, headers and body off it.
            raise HTTPError(req.full_url, status, reason, headers, io.BytesIO(raw))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("Slack answered HTTP %s (%s bytes)", status, len(raw))
        if headers.get_content_type() == "application/gzip":
            return {"status": status, "headers": headers, "body": raw}
        body = raw.decode(headers.get_content_charset() or "utf-8")
        return {"status": status, "headers": headers, "body": body}

    def close(self) -> None:
        """Close every connection of every thread: at shutdown, once no call is under way (a
        later call opens a new one)."""
        self._open.close_all()

    def _connection(self, origin: _Origin) -> http.client.HTTPConnection:
        connections: _ThreadConnections | None = getattr(self._local, "connections", None)
        # A forked child inherits the forking thread's sockets: it must never write to them.
        if connections is None or connections.pid != os.getpid():
            connections = self._local.connections = _ThreadConnections(self._open)
        connection = connections.get(origin)
        if connection is None:
            connection = connections[origin] = self._new_connection(origin)
            self._open.add(connection)
        return connection

    def _new_connection(self, origin: _Origin) -> http.client.HTTPConnection:
        scheme, host, port = origin
        if scheme == "https":
            # context=None gives http.client's default (verifying) context, as urlopen's.
            return _HTTPSConnection(host, port, timeout=self.timeout, context=self.ssl)
        return _HTTPConnection(host, port, timeout=self.timeout)


class _EffectiveLevelLogger(logging.LoggerAdapter[logging.Logger]):
    """slack_sdk formats its DEBUG lines (each request's whole body among them) whenever
    `logger.level <= DEBUG`, and a logger nobody configured has level NOTSET (0): so on every
    call, to discard them. Answering the level in effect builds them only when they are logged.
    """

    @property
    def level(self) -> int:
        return self.logger.getEffectiveLevel()


class _OpenConnections:
    """Every connection of one client, whichever thread holds it, so that all can be closed."""

    def __init__(self) -> None:
        self._connections: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()

    def add(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._connections.add(connection)

    def close(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._connections.discard(connection)
        connection.close()

    def close_all(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            connection.close()


class _ThreadConnections(dict[_Origin, http.client.HTTPConnection]):
    """One thread's connections, closed when the thread ends (its thread-local data goes)."""

    def __init__(self, open_connections: _OpenConnections) -> None:
        super().__init__()
        self.pid = os.getpid()
        self._open = open_connections

    def __del__(self) -> None:
        for connection in self.values():
            self._open.close(connection)


def _exchange(
    connection: http.client.HTTPConnection, req: Request
) -> tuple[int, str, http.client.HTTPMessage, bytes]:
    """Send `req` and read the whole answer, resending only in the stale keep-alive case."""
    reused = connection.sock is not None
    if reused and _closed_by_peer(connection):
        connection.close()  # the next request() connects afresh; nothing was sent
        reused = False
    try:
        return _send_once(connection, req)
    except (_NotSentError, _UnansweredError) as failure:
        if not reused:
            raise failure.public_error() from failure.error
        logger.debug("reused Slack connection was closed while idle; reconnecting")
    try:
        return _send_once(connection, req)
    except (_NotSentError, _UnansweredError) as failure:
        raise failure.public_error() from failure.error


def _send_once(
    connection: http.client.HTTPConnection, req: Request
) -> tuple[int, str, http.client.HTTPMessage, bytes]:
    try:
        connection.request(
            req.get_method(), req.selector, body=req.data, headers=dict(req.header_items())
        )
    except OSError as exc:
        connection.close()
        raise _NotSentError(exc) from exc
    _received.count = 0
    try:
        response = connection.getresponse()
        return response.status, response.reason, response.headers, response.read()
    except _STALE_ERRORS as exc:
        connection.close()
        if _received.count == 0:
            raise _UnansweredError(exc) from exc
        raise ResponseLostError(f"connection to Slack failed mid-response: {exc!r}") from exc
    except BaseException:
        connection.close()
        raise


class _NotSentError(Exception):
    """The request was not written completely: the server cannot have acted on it."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error

    def public_error(self) -> Exception:
        # urllib's own wrapping of a send failure; slack_sdk's retry handler may resend it,
        # which is safe here.
        return URLError(self.error)


class _UnansweredError(Exception):
    """The request was written; the connection then closed with no byte of a response."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error

    def public_error(self) -> Exception:
        return ResponseLostError(f"Slack closed the connection without answering: {self.error!r}")


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive connection is readable only once the server closed it (or broke
    protocol): either way it must not carry a request. Checked without blocking."""
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()  # not select(): descriptors past 1024 are normal in a busy worker
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _ReceivedBytes(threading.local):
    count = 0


# Bytes of the current response read so far, per thread: tells "closed before answering" (safe to
# resend on a reused connection) from "failed mid-answer" (never resent).
_received = _ReceivedBytes()


class _CountingSocketIO(socket.SocketIO):
    def readinto(self, buffer: Any) -> int | None:
        count = super().readinto(buffer)
        _received.count += count or 0
        return count


class _CountingResponse(http.client.HTTPResponse):
    def __init__(
        self,
        sock: socket.socket,
        debuglevel: int = 0,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        self.fp.close()  # the plain reader http.client made; nothing was read from it
        self.fp = io.BufferedReader(_CountingSocketIO(sock, "rb"))


class _HTTPConnection(http.client.HTTPConnection):
    response_class = _CountingResponse


class _HTTPSConnection(http.client.HTTPSConnection):
    response_class = _CountingResponse

"""What every fake server shares: serving on 127.0.0.1 in a thread, its origin, a clean close."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class KeepAliveHTTPServer(ThreadingHTTPServer):
    """For handlers speaking HTTP/1.1 (`protocol_version`), whose clients keep connections
    open: server_close() also ends those, or their handler threads would wait on them forever
    (and a client could still be answered by a closed fake)."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._open_lock:
            still_open = list(self._open)
        for connection in still_open:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)  # its handler reads EOF and ends


class LoopbackServer:
    """Base of the fakes: subclasses build `self._server` and call `_serve(name)`."""

    _server: ThreadingHTTPServer

    def _serve(self, name: str) -> None:
        # A short poll interval: close() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=name,
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _before_close(self) -> None:
        """Hook for a subclass to release work the server's threads may be waiting on."""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._before_close()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

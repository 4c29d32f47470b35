"""What every fake server shares: serving on 127.0.0.1 in a thread, its origin, a clean close."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Self


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

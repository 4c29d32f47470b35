"""Socket Mode serves no HTTP of its own: this serves GET /healthz and GET /metrics on $PORT
from a side thread, so the platform's health check and Prometheus still reach the process."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from sqlalchemy import Engine

from bot.runtime.web import HealthLimits, make_http_server, make_ops_app

logger = logging.getLogger(__name__)
POLL_SECONDS = 0.2  # how soon close() is noticed by serve_forever


@dataclass
class SideServer:
    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def start_side_server(
    engine: Engine, *, host: str, port: int, health: HealthLimits | None = None
) -> SideServer:
    """Serve /healthz and /metrics (everything else 404, /slack/events included) until close().
    `port` 0 picks a free port (tests)."""
    server = make_http_server(make_ops_app(engine, health=health), host=host, port=port)
    thread = threading.Thread(
        target=server.serve_forever, args=(POLL_SECONDS,), name="ops-http", daemon=True
    )
    thread.start()
    logger.info("serving GET /healthz and GET /metrics on %s:%s", host, server.server_port)
    return SideServer(server, thread)

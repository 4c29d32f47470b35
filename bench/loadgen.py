"""Two load generators: wrk replaying presigned requests (throughput and ack latency), and a small
threaded keep-alive client that notes when each request was sent (approval → Zoom timing)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.payloads import Body, signed_headers

REPLAY_SCRIPT = Path(__file__).with_name("replay.lua")
# Slack gives up on an ack after 3 s; wrk counts a slower answer as a timeout error.
ACK_DEADLINE_SECONDS = 3
CLIENT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_seconds: float
    errors: dict[str, int]
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration_seconds if self.duration_seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "bench: wrk is not installed; `apt-get update && apt-get install -y wrk` (see "
            "bench/README.md)"
        )
    return found


def run_wrk(url: str, requests_file: Path, *, concurrency: int, seconds: int) -> WrkResult:
    """Closed loop: `concurrency` keep-alive connections, each sending its next request as soon
    as the previous one is answered, for `seconds`; one wrk thread (enough for 50 connections
    and the least CPU taken from the servers)."""
    argv = [
        wrk_path(),
        "-t1",
        f"-c{concurrency}",
        f"-d{seconds}s",
        f"--timeout={ACK_DEADLINE_SECONDS}s",
        "-s",
        str(REPLAY_SCRIPT),
        url,
    ]
    completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv,
        env={**os.environ, "BENCH_REQUESTS": str(requests_file)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            raw = json.loads(line.removeprefix("BENCH_RESULT "))
            return WrkResult(
                requests=int(raw["requests"]),
                duration_seconds=raw["duration_us"] / 1e6,
                errors={
                    name: int(raw[name])
                    for name in ("connect", "read", "write", "status", "timeout")
                },
                p50_ms=raw["p50_us"] / 1000,
                p95_ms=raw["p95_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
            )
    raise RuntimeError(f"wrk gave no result (exit {completed.returncode}): {completed.stderr}")


@dataclass(frozen=True)
class Job:
    key: str
    body: Body


@dataclass(frozen=True)
class Outcome:
    key: str
    sent_at: float  # wall clock (time.time()), comparable with the fakes' and the database's
    latency_seconds: float
    status: int | None  # None: the connection failed


def send_jobs(
    url: str,
    jobs: list[Job],
    *,
    concurrency: int,
    rate_per_second: float | None = None,
    deadline_seconds: float = 300.0,
) -> list[Outcome]:
    """Send every job once, signed at send time, over `concurrency` keep-alive connections;
    with `rate_per_second`, job i is not sent before start + i / rate (open loop)."""
    target = urlsplit(url)
    host, port, path = target.hostname or "127.0.0.1", target.port or 80, target.path
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    cursor = iter(range(len(jobs)))
    start = time.monotonic()
    deadline = start + deadline_seconds

    def next_index() -> int | None:
        with lock:
            return next(cursor, None)

    def worker() -> None:
        connection: http.client.HTTPConnection | None = None
        while (index := next_index()) is not None and time.monotonic() < deadline:
            if rate_per_second:
                time.sleep(max(0.0, start + index / rate_per_second - time.monotonic()))
            job = jobs[index]
            headers = signed_headers(job.body)
            sent_at, began = time.time(), time.perf_counter()
            status: int | None = None
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(
                        host, port, timeout=CLIENT_TIMEOUT_SECONDS
                    )
                connection.request("POST", path, body=job.body.content, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                if connection is not None:
                    connection.close()
                connection = None
            latency = time.perf_counter() - began
            with lock:
                outcomes.append(Outcome(job.key, sent_at, latency, status))
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + CLIENT_TIMEOUT_SECONDS)
    with lock:
        return list(outcomes)

"""The floor under the ack path: how long the smallest durable write takes that the web process
must commit before it acks (one `request_events` row, its own transaction), on the bot's own
engine settings, on a SQLite file and on PostgreSQL, one writer and ten at once.

    .venv/bin/python -m bench.commit_floor [--writes 2000]

Compared with bench/RESULTS.md's bare Bolt p99 it says how much of the 1.3× budget (0.3 × bare
Bolt's p99) a commit alone uses. Prints a Markdown table; writes nothing in the repository.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, text

from bot.db.migrate import upgrade_to_head
from bot.db.models import RequestEvent
from bot.db.session import make_engine, make_session_factory

POSTGRES = os.environ.get("ZOOMBOT_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


def timed_writes(engine: Engine, count: int) -> list[float]:
    sessions = make_session_factory(engine)
    took = []
    for number in range(count):
        started = time.perf_counter()
        with sessions.begin() as session:
            session.add(RequestEvent(request_id=None, kind="bench_write", detail={"n": number}))
        took.append((time.perf_counter() - started) * 1000)
    return took


def concurrent_writes(engine: Engine, count: int, writers: int) -> list[float]:
    results: list[list[float]] = [[] for _ in range(writers)]

    def run(slot: int) -> None:
        results[slot] = timed_writes(engine, count // writers)

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [value for each in results for value in each]


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def measure(url: str, writes: int) -> dict[int, tuple[float, float]]:
    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
        timed_writes(engine, 50)  # warm the pool and the caches
        return {
            1: summary(timed_writes(engine, writes)),
            10: summary(concurrent_writes(engine, writes, 10)),
        }
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        rows.append(("SQLite file", measure(f"sqlite:///{Path(folder) / 'floor.db'}", args.writes)))
    name = f"zoombot_floor_{uuid.uuid4().hex[:8]}"
    admin = make_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        rows.append(("PostgreSQL", measure(f"{POSTGRES}/{name}", args.writes)))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
    print(f"{args.writes} writes each; load average {os.getloadavg()[0]:.2f}")  # noqa: T201
    print("| database | writers | p50 ms | p99 ms |\n|---|--:|--:|--:|")  # noqa: T201
    for label, by_writers in rows:
        for writers, (p50, p99) in by_writers.items():
            print(f"| {label} | {writers} | {p50:.2f} | {p99:.2f} |")  # noqa: T201


if __name__ == "__main__":
    main()

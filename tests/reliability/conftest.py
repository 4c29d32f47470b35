"""Fixtures for the fault-injection suite: PostgreSQL required, clusters of real bot processes,
and a summary of the figures each test recorded (printed at the end, written as JSON).

The figures file is `$ZOOMBOT_RELIABILITY_FIGURES`, by default
`<tmp>/zoombot-reliability-figures.json`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.cluster import (
    FIGURES,
    POSTGRES_ADMIN_URL,
    Cluster,
    fresh_database,
    postgres_problem,
)

FIGURES_FILE = Path(
    os.environ.get(
        "ZOOMBOT_RELIABILITY_FIGURES",
        str(Path(tempfile.gettempdir()) / "zoombot-reliability-figures.json"),
    )
)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The shared server's admin URL; skip without it (fail in CI, where it must run)."""
    problem = postgres_problem()
    if problem is not None:
        message = (
            f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({problem}); the reliability "
            "suite runs its bot instances against it. Start it or set ZOOMBOT_TEST_POSTGRES."
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_ADMIN_URL


ClusterFactory = Callable[..., Cluster]


@pytest.fixture(scope="module")
def cluster_factory(
    postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterFactory]:
    """`cluster_factory(size, **settings)` starts a cluster on a fresh database; every cluster
    a module started is stopped and its database dropped after the module."""
    with ExitStack() as stack:

        def make(size: int, *, database_url: str | None = None, **settings: Any) -> Cluster:
            url = database_url or stack.enter_context(fresh_database(postgres_admin_url))
            cluster = Cluster(
                database_url=url,
                workdir=tmp_path_factory.mktemp("cluster"),
                size=size,
                settings={name.upper(): str(value) for name, value in settings.items()},
            )
            stack.callback(cluster.close)
            return cluster.start()

        yield make


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for section, values in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{section}: {json.dumps(values, sort_keys=True)}")
    FIGURES_FILE.write_text(json.dumps(FIGURES, indent=2, sort_keys=True) + "\n")
    terminalreporter.write_line(f"(written to {FIGURES_FILE})")

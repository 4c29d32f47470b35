"""Fixtures shared by every suite: a database on SQLite and on PostgreSQL, and a running bot.

PostgreSQL tests use the server on 127.0.0.1:5432 (user postgres) with a fresh database per
test session. Without that server they skip on a developer's machine and fail in CI (CI=true).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.harness import BotHarness, running_bot

POSTGRES_ADMIN_URL = os.environ.get(
    "ZOOMBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _postgres_reachable() -> str | None:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return type(exc).__name__


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server for this test session, dropped afterwards."""
    problem = _postgres_reachable()
    if problem is not None:
        message = (
            f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({problem}). Start PostgreSQL on "
            "127.0.0.1:5432 with trust auth for user postgres, or set ZOOMBOT_TEST_POSTGRES."
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    name = f"zoombot_test_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset_postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs twice: on a SQLite file and on a clean PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'zoombot.db'}"
    url: str = request.getfixturevalue("postgres_server_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def bot(database_url: str, tmp_path: Path) -> Iterator[BotHarness]:
    with running_bot(database_url, tmp_path) as harness:
        yield harness

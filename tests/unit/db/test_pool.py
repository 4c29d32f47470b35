"""DATABASE_POOL_SIZE and DATABASE_MAX_OVERFLOW: validated settings that bound a PostgreSQL
engine's connections (the bot's own engine included) and that SQLite ignores."""

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.config import load_settings, normalize_database_url
from bot.db.session import make_engine
from bot.errors import ConfigurationError
from tests.harness import running_bot
from tests.unit.test_deployment import REQUIRED_SETTINGS


@pytest.fixture
def environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env of the checkout's
    for name in ("DATABASE_POOL_SIZE", "DATABASE_MAX_OVERFLOW"):
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED_SETTINGS.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_pool_settings_default_to_five_and_five(environment):
    settings = load_settings()

    assert (settings.database_pool_size, settings.database_max_overflow) == (5, 5)


def test_pool_settings_are_read_from_the_environment(environment):
    environment.setenv("DATABASE_POOL_SIZE", "3")
    environment.setenv("DATABASE_MAX_OVERFLOW", "0")

    settings = load_settings()

    assert (settings.database_pool_size, settings.database_max_overflow) == (3, 0)


@pytest.mark.parametrize(
    ("name", "value"), [("DATABASE_POOL_SIZE", "0"), ("DATABASE_MAX_OVERFLOW", "-1")]
)
def test_a_pool_setting_out_of_range_is_named(environment, name, value):
    environment.setenv(name, value)

    with pytest.raises(ConfigurationError) as raised:
        load_settings()

    assert [problem.split(":")[0] for problem in raised.value.problems] == [name]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_bots_postgresql_engine_uses_the_pool_settings(database_url, tmp_path):
    with running_bot(database_url, tmp_path, database_pool_size=3, database_max_overflow=2) as bot:
        pool = bot.runtime.engine.pool

    assert (pool.size(), pool._max_overflow) == (3, 2)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_postgresql_engine_holds_at_most_pool_size_plus_overflow(database_url):
    url = normalize_database_url(database_url)
    engine = make_engine(url, pool_size=2, max_overflow=1, pool_timeout=0.2)
    try:
        held = [engine.connect() for _ in range(3)]
        with pytest.raises(PoolTimeout):
            engine.connect()
        for connection in held:
            connection.close()
    finally:
        engine.dispose()


def test_sqlite_ignores_the_pool_settings(tmp_path):
    url = f"sqlite:///{tmp_path / 'pool.db'}"
    engine = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        held = [engine.connect() for _ in range(3)]  # more than 1 + 0, without waiting
        for connection in held:
            connection.close()
    finally:
        engine.dispose()

    assert len(held) == 3

"""What-if factories for `python -m bench --variant 'NAME=bench.experiments:NAME()'`: the bot as
deployed with one proposed change applied from outside (bot/ itself is untouched), to estimate
what the change would gain before anyone makes it."""

from __future__ import annotations

import sys
from functools import partial
from types import ModuleType
from typing import Any

import app
import bot.runtime.compose
from bot.db.session import make_engine
from bot.runtime.tasks import BackgroundTasks
from bot.runtime.web import WSGIApp


def _replace(module: ModuleType, name: str, value: object) -> None:
    """What build_runtime looks up by name at call time, swapped before it runs."""
    setattr(module, name, value)


def _without_pre_ping(database_url: str, **options: Any) -> Any:
    return make_engine(database_url, **{"pool_pre_ping": False, **options})


def switch_interval() -> WSGIApp:
    """The GIL handed over after 0.5 ms instead of 5 ms: request threads wait less behind the
    web process's pool (views.open, ephemerals)."""
    sys.setswitchinterval(0.0005)
    return app.wsgi()


def no_pre_ping() -> WSGIApp:
    """No `SELECT 1` on every pool checkout."""
    _replace(bot.runtime.compose, "make_engine", _without_pre_ping)
    return app.wsgi()


def small_pool() -> WSGIApp:
    """Two pool threads (views.open, ephemerals) per gunicorn worker instead of eight."""
    _replace(bot.runtime.compose, "BackgroundTasks", partial(BackgroundTasks, max_workers=2))
    return app.wsgi()


def combined() -> WSGIApp:
    """All of the above."""
    sys.setswitchinterval(0.0005)
    _replace(bot.runtime.compose, "make_engine", _without_pre_ping)
    _replace(bot.runtime.compose, "BackgroundTasks", partial(BackgroundTasks, max_workers=2))
    return app.wsgi()

"""The error policy: every exception class defined under bot/ derives from bot.errors.BotError,
and the errors whose message a person reads derive from UserFacingError. (That bot/ never
imports the sandbox is tests/unit/test_deployment.py's.)"""

import importlib
import inspect
import pkgutil
import sys

import bot
from bot.audit.export import UsageError
from bot.errors import BotError, UserFacingError
from bot.requests.batches import DraftGone
from bot.requests.csv_rows import CsvProblem
from bot.requests.preview import PreviewExpiredError, PreviewTooLargeError
from bot.requests.validation import InvalidRequestError
from bot.slack.batch_files import FileUnreadable


def _bot_modules() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages(bot.__path__, prefix="bot.")]
    for name in names:
        importlib.import_module(name)
    return ["bot", *names]


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for name in _bot_modules():
        for _, value in inspect.getmembers(sys.modules[name], inspect.isclass):
            if value.__module__ == name and issubclass(value, BaseException):
                found.append(value)
    return found


def test_every_module_under_bot_is_walked():
    names = _bot_modules()
    assert {"bot.errors", "bot.zoom.errors", "bot.slack.app", "bot.audit.export"} <= set(names)


def test_every_exception_class_under_bot_derives_from_bot_error():
    classes = _exception_classes()
    assert len(classes) > 20, "the walk found too few exception classes to be looking everywhere"
    strays = sorted(
        f"{cls.__module__}.{cls.__qualname__}" for cls in classes if not issubclass(cls, BotError)
    )
    assert strays == []


def test_messages_shown_to_people_are_user_facing():
    shown = (
        InvalidRequestError,
        CsvProblem,
        FileUnreadable,
        DraftGone,
        PreviewExpiredError,
        PreviewTooLargeError,
        UsageError,
    )
    for cls in shown:
        assert issubclass(cls, UserFacingError), cls.__qualname__

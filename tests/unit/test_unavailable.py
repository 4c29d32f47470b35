"""bot/flows/unavailable.py: one warning naming the step and the exception type (never its
text), the standard words told once, and every other exception passed through."""

import logging

import pytest
from sqlalchemy.exc import OperationalError

from bot.flows.unavailable import when_database_down
from bot.slack.render.messages import unavailable_text

SECRET_PARAMETER = "hunter2-in-a-bound-parameter"


def database_error():
    return OperationalError("SELECT :p", {"p": SECRET_PARAMETER}, Exception("server gone"))


def test_a_database_error_is_logged_by_type_and_told_once(caplog):
    told = []
    caplog.set_level(logging.WARNING, logger="bot.flows.unavailable")
    with when_database_down("a decision", tell=told.append, then=" Click again later.") as down:
        raise database_error()
    assert down.caught
    assert told == [unavailable_text() + " Click again later."] == [down.text]
    (record,) = caplog.records
    assert record.getMessage() == "database unavailable for a decision (OperationalError)"
    assert record.exc_info is None
    assert SECRET_PARAMETER not in caplog.text


def test_a_block_that_finishes_tells_nothing(caplog):
    told = []
    with when_database_down("a status lookup", tell=told.append) as down:
        pass
    assert (down.caught, told, caplog.records) == (False, [], [])


def test_a_step_with_its_own_words_says_them():
    with when_database_down("an audit export", text="No export today.") as down:
        raise database_error()
    assert down.text == "No export today."


def test_any_other_error_passes_through():
    told = []
    down = when_database_down("a decision", tell=told.append)
    with pytest.raises(ValueError, match="not the database"), down:
        raise ValueError("not the database")
    assert told == []

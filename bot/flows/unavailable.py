"""The one way a flow handles the database being down while a person waits on it.

    with when_database_down("a status lookup") as down:
        return self._status(...)
    return down.text

On SQLAlchemyError inside the block: one warning line naming the step and the exception's type
(never its text: it may carry SQL parameters or secrets); the standard words
(messages.unavailable_text(), or the step's own `text`, plus `then`) handed to `tell` if given;
and the block ends as if it had finished, `down.caught` saying it did not. Any other exception
passes through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.exc import SQLAlchemyError

from bot.slack.render.messages import unavailable_text

logger = logging.getLogger(__name__)

# Says the text to the person: an ephemeral, a response_url reply, a view...
Tell = Callable[[str], object]


class DatabaseDown:
    """What when_database_down() returns: a context manager that catches the database's errors
    of its block, and remembers that it did."""

    def __init__(
        self, what: str, *, tell: Tell | None = None, then: str = "", text: str | None = None
    ) -> None:
        self.what = what
        self.text = (unavailable_text() if text is None else text) + then
        self.caught = False
        self._tell = tell

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if not isinstance(exc, SQLAlchemyError):
            return False
        self.caught = True
        logger.warning("database unavailable for %s (%s)", self.what, type(exc).__name__)
        if self._tell is not None:
            self._tell(self.text)
        return True


def when_database_down(
    what: str, *, tell: Tell | None = None, then: str = "", text: str | None = None
) -> DatabaseDown:
    """Catch SQLAlchemyError in the `with` block: log `what` failed, tell the person `text`.

    what: the step, as the log line names it ("a decision", "the Home view").
    tell: called once with the text when the database failed; None when the caller answers
        with `down.text` itself (an ack, a view) or the person needs no word (a record kept
        on the side: the log line is then all there is).
    then: appended to the standard text (" Click again later.", with its leading space).
    text: the words instead of the standard text, for a step that has its own (the audit
        export says what was not shared)."""
    return DatabaseDown(what, tell=tell, then=then, text=text)

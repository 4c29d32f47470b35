"""Work that must not run inside Slack's 3-second ack window: a small thread pool.

Every task's unexpected error is logged once with a short reference id, so a person who is told
"something went wrong (ref abc123)" can be matched to the log line.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)


def reference_id() -> str:
    return secrets.token_hex(4)


class BackgroundTasks:
    def __init__(self, *, max_workers: int = 8) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="zoombot")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, task: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._idle:
            self._pending += 1
        # The submitter's log context (bot/observability/context.py) follows the task.
        context = contextvars.copy_context()
        return self._executor.submit(context.run, self._run, task, *args, **kwargs)

    def _run(self, task: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        try:
            return task(*args, **kwargs)
        except Exception:
            # The one place a background task's unexpected error is handled: log it, keep serving.
            logger.exception("background task %s failed (ref %s)", task.__name__, reference_id())
            return None
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def wait_below(self, limit: int) -> None:
        """Block while `limit` or more tasks are queued or running (a bounded intake)."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending < limit)

    def wait_idle(self, timeout_seconds: float = 10.0) -> bool:
        """Block until no task is queued or running; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_seconds)

    def shutdown(self, *, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)

"""create_app(): the Bolt app with every listener registered and one error handler."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.flows import Flows
from bot.flows.home import HomeTab
from bot.observability.context import bolt_context_middleware
from bot.runtime.batches import Bulk
from bot.runtime.tasks import BackgroundTasks, reference_id
from bot.slack.listeners import actions, commands, events, home, request_again, views
from bot.slack.listeners import batches as bulk_listeners
from bot.slack.unexpected import tell_reference

logger = logging.getLogger(__name__)


class _DropTokenSkippedWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns it is unused beside our client: it is the
    same token, so the warning only misleads operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


class _DropRefusedRequestBodies(logging.Filter):
    """Bolt logs the whole body of a request whose signature check fails, at INFO: a modal
    submission's body holds the password typed into it. Keep the fact, drop the body."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith(_SIGNATURE_FAILED):
            record.msg, record.args = f"{_SIGNATURE_FAILED}; the request was refused", None
        return True


_SIGNATURE_FAILED = "Invalid request signature detected"
_bolt_logger = logging.getLogger("slack_bolt")
# Bolt copies these filters to the loggers of its middleware, which log on their own names.
_bolt_logger.addFilter(_DropTokenSkippedWarning())
_bolt_logger.addFilter(_DropRefusedRequestBodies())


def create_app(
    *,
    client: WebClient,
    signing_secret: str | None,
    flows: Flows,
    tasks: BackgroundTasks,
    home_tab: HomeTab,
    bulk: Bulk | None = None,
) -> App:
    """Build the Bolt app. App() calls auth.test, so the Slack API must answer by now."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        # Ack when the listener returns: what it records is committed before Slack hears "ok";
        # Slack calls are owed to the worker (bot/delivery/) or queued on `tasks`.
        process_before_response=True,
        logger=_bolt_logger,
    )
    # Every listener's log lines name the payload's type, event or action, and request.
    app.use(bolt_context_middleware)
    commands.register(
        app,
        forms=flows.forms,
        queries=flows.queries,
        tasks=tasks,
        bulk=bulk.flows if bulk else None,
    )
    views.register(app, forms=flows.forms)
    actions.register(app, decisions=flows.decisions)
    events.register(app, decisions=flows.decisions)
    request_again.register(app, forms=flows.forms, tasks=tasks)
    home.register(app, home=home_tab, tasks=tasks)
    if bulk is not None:
        bulk_listeners.register(app, bulk=bulk, tasks=tasks)

    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Any, client: WebClient) -> None:
        # The one place unexpected listener errors land: the log gets the trace (registered
        # secrets scrubbed, bot/observability/redaction.py), the person the same reference.
        reference = reference_id()
        kind = body.get("type") or ("slash_command" if "command" in body else "unknown")
        logger.error("unhandled error in %s listener (ref %s)", kind, reference, exc_info=error)
        tasks.submit(tell_reference, reference, body=body, respond=respond, client=client)

    return app

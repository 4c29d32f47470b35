"""The yardstick: a Bolt app that only acks the same requests, served by the same gunicorn
command as the bot (`gunicorn ... 'bench.bare_app:wsgi()'`).

BENCH_BARE_PROCESS_BEFORE_RESPONSE=1 selects process_before_response=True; otherwise Bolt's
default (False), where the thread listener runner polls for the ack every 10 ms.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def create_bare_app(*, token: str, signing_secret: str, slack_api_url: str, pbr: bool) -> App:
    # Like the bot, a client with the token: App() calls auth.test once at start.
    app = App(
        client=WebClient(token=token, base_url=slack_api_url),
        signing_secret=signing_secret,
        process_before_response=pbr,
    )

    @app.command(os.environ.get("BENCH_COMMAND", "/zoom-subaccount"))
    def on_command(ack: Ack) -> None:
        ack()

    # The bot's form and its confirmation step (the one the bench submits).
    @app.view(re.compile(r"^(create|confirm)_sub_account$"))
    def on_submission(ack: Ack) -> None:
        ack()

    @app.event("reaction_added")
    def on_reaction() -> None:
        """Bolt acks events by itself."""

    # The Approve button on a request message (bot/slack/ids.py APPROVE_ACTION).
    @app.action("approve_request")
    def on_approve(ack: Ack) -> None:
        ack()

    return app


def wsgi() -> WSGIApp:
    """Factory for gunicorn, configured from the environment the benchmark sets."""
    app = create_bare_app(
        token=os.environ["BENCH_SLACK_BOT_TOKEN"],
        signing_secret=os.environ["BENCH_SLACK_SIGNING_SECRET"],
        slack_api_url=os.environ["BENCH_SLACK_API_URL"],
        pbr=os.environ.get("BENCH_BARE_PROCESS_BEFORE_RESPONSE") == "1",
    )
    handler = SlackRequestHandler(app)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":  # readiness only; never measured
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        result: Iterable[bytes] = handler(environ, start_response)
        return result

    return application

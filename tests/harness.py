"""A running bot for scenario tests: fake Slack and fake Zoom on loopback, the real app behind a
real HTTP server, and signed requests sent to it exactly as Slack sends them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.config import load_settings
from bot.db.models import RequestEvent, SubaccountRequest
from bot.db.session import make_session_factory
from bot.runtime.compose import Runtime, build_runtime, wait_until_idle
from bot.runtime.web import make_http_server
from bot.slack.ids import PREVIEW_CALLBACK
from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_signing import (
    SlackSender,
    checkboxes_value,
    email_value,
    plain_text_value,
    static_select_value,
)
from sandbox.zoom_simulator import ZoomSimulator

SIGNING_SECRET = "signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
ZOOM_CLIENT_SECRET = "zoom-client-secret"
ENCRYPTION_KEY = Fernet.generate_key().decode()
REQUESTER, APPROVER, SECOND_APPROVER, OUTSIDER = "UREQ1", "UAPP1", "UAPP2", "UOUT1"
ORIGIN_CHANNEL, APPROVAL_CHANNEL = "CORIGIN1", "CAPPROVE1"
GOOD_PASSWORD = "Xk9mQ2vLp7zR"

TEXT_FIELDS = (
    "first_name",
    "last_name",
    "password",
    "account_name",
    "sub_reseller_id",
    "meeting_connector_list",
    "room_connector_list",
    "reason",
)


def modal_values(
    *,
    first_name: str = "Jill",
    last_name: str = "Chill",
    email: str = "jill@example.com",
    password: str | None = GOOD_PASSWORD,
    account_name: str | None = None,
    sub_reseller_id: str | None = None,
    pay_mode: str | None = None,
    options: list[str] | None = None,
    meeting_connector_list: str | None = None,
    room_connector_list: str | None = None,
    reason: str | None = "Onboarding a new partner",
) -> dict[str, Any]:
    """view.state.values as Slack sends them for the request modal."""
    given = locals()
    values: dict[str, Any] = {name: {name: plain_text_value(given[name])} for name in TEXT_FIELDS}
    values["email"] = {"email": email_value(email)}
    values["pay_mode"] = {"pay_mode": static_select_value(pay_mode)}
    values["options"] = {"options": checkboxes_value(options or [])}
    return values


class BotHarness:
    def __init__(
        self, runtime: Runtime, slack: SlackEmulator, zoom: ZoomSimulator, url: str
    ) -> None:
        self.runtime = runtime
        self.slack = slack
        self.zoom = zoom
        self.url = url
        self.sender = SlackSender(url, SIGNING_SECRET)
        self.sessions = make_session_factory(runtime.engine)

    # -- acting as Slack ----------------------------------------------------------------------

    def slash(self, user_id: str = REQUESTER, text: str = "", **fields: Any) -> Any:
        fields.setdefault("response_url", self.slack.response_url())
        fields.setdefault("channel_id", ORIGIN_CHANNEL)
        return self.sender.slash(user_id=user_id, text=text, **fields)

    def submit(
        self, user_id: str = REQUESTER, *, channel_id: str = ORIGIN_CHANNEL, **values: Any
    ) -> Any:
        """Submit the form as a person does: when the answer is the confirmation step, press its
        Submit too. Returns the last answer (field errors, a refusal, or the confirmation's)."""
        response = self.submit_form(user_id, channel_id=channel_id, **values)
        sealed = preview_metadata(response)
        if sealed is None:
            return response
        typed = values.get("password", GOOD_PASSWORD)
        assert not typed or typed not in response.text, "the preview sent the password to Slack"
        return self.confirm(user_id, sealed)

    def submit_form(
        self, user_id: str = REQUESTER, *, channel_id: str = ORIGIN_CHANNEL, **values: Any
    ) -> Any:
        """Only the form's submit: a valid form is answered with the confirmation step."""
        return self.sender.submit_view(
            user_id=user_id,
            values=modal_values(**values),
            private_metadata=json.dumps({"channel_id": channel_id}),
        )

    def confirm(self, user_id: str, sealed: str) -> Any:
        """Press Submit on the confirmation step whose private_metadata is `sealed`."""
        return self.sender.submit_view(
            user_id=user_id, values={}, callback_id=PREVIEW_CALLBACK, private_metadata=sealed
        )

    def submit_ok(self, user_id: str = REQUESTER, **values: Any) -> SubaccountRequest:
        """Submit a valid request and wait until it is posted for approval."""
        response = self.submit(user_id, **values)
        assert response.status_code == 200, response.text
        assert json.loads(response.text)["response_action"] == "update", response.text
        self.wait()
        return self.latest_request()

    def react(
        self,
        user_id: str,
        request: SubaccountRequest,
        reaction: str = "white_check_mark",
        **kwargs: Any,
    ) -> Any:
        assert request.approval_channel_id
        assert request.approval_ts
        return self.sender.react(
            user_id=user_id,
            reaction=reaction,
            channel_id=request.approval_channel_id,
            message_ts=request.approval_ts,
            **kwargs,
        )

    def click(
        self,
        user_id: str,
        request: SubaccountRequest,
        action_id: str = "approve_request",
        **kwargs: Any,
    ) -> Any:
        return self.sender.click(
            user_id=user_id,
            action_id=action_id,
            value=str(request.id),
            channel_id=request.approval_channel_id or APPROVAL_CHANNEL,
            message_ts=request.approval_ts or "1.0",
            **kwargs,
        )

    def wait(self, timeout_seconds: float = 15.0) -> None:
        assert wait_until_idle(self.runtime, timeout_seconds), "background work did not finish"

    # -- reading the audit log ----------------------------------------------------------------

    def request(self, request_id: int) -> SubaccountRequest:
        with self.sessions() as session:
            return session.get_one(SubaccountRequest, request_id)

    def requests(self) -> list[SubaccountRequest]:
        with self.sessions() as session:
            return list(session.scalars(select(SubaccountRequest).order_by(SubaccountRequest.id)))

    def latest_request(self) -> SubaccountRequest:
        return self.requests()[-1]

    def events(self, request_id: int | None) -> list[RequestEvent]:
        """The steps of a request (of none: None), without its Slack delivery attempts."""
        return [event for event in self.all_events(request_id) if event.kind != "slack_delivery"]

    def all_events(self, request_id: int | None) -> list[RequestEvent]:
        with self.sessions() as session:
            query = select(RequestEvent).order_by(RequestEvent.id)
            if request_id is not None:
                query = query.where(RequestEvent.request_id == request_id)
            return list(session.scalars(query))

    def event_kinds(self, request_id: int | None) -> list[str]:
        """The request's steps; its Slack delivery attempts are in delivery_events()."""
        return [event.kind for event in self.events(request_id)]

    def delivery_events(self, request_id: int | None) -> list[dict[str, object]]:
        return [
            dict(event.detail or {})
            for event in self.all_events(request_id)
            if event.kind == "slack_delivery"
        ]

    def table_dump(self) -> str:
        """Every row of every table as text, for 'the secret appears nowhere' checks."""
        lines = []
        with self.runtime.engine.connect() as connection:
            from bot.db.models import Base  # noqa: PLC0415

            for table in Base.metadata.sorted_tables:
                for row in connection.execute(table.select()):
                    lines.append(repr(tuple(row)))
        return "\n".join(lines)


def preview_metadata(response: Any) -> str | None:
    """The sealed private_metadata of a confirmation step the bot answered with, else None."""
    if response.status_code != 200 or not response.text:
        return None
    answer = json.loads(response.text)
    view = answer.get("view") if answer.get("response_action") == "update" else None
    if not isinstance(view, dict) or view.get("callback_id") != PREVIEW_CALLBACK:
        return None
    return str(view["private_metadata"])


def settings_for(
    slack: SlackEmulator, zoom: ZoomSimulator, database_url: str, tmp_path: Path, **overrides: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.base_url,
        "zoom_account_id": "acct-1",
        "zoom_client_id": "zoom-client-id",
        "zoom_client_secret": ZOOM_CLIENT_SECRET,
        "zoom_api_url": zoom.api_url,
        "zoom_oauth_url": zoom.oauth_url,
        "zoom_timeout_seconds": 3,
        "database_url": database_url,
        "requester_allowlist": REQUESTER,
        "approver_allowlist": f"{APPROVER},{SECOND_APPROVER}",
        "approval_channel": APPROVAL_CHANNEL,
        "password_encryption_key": ENCRYPTION_KEY,
        "password_key_file": str(tmp_path / "unused.key"),
        # The emulator has no per-channel limit unless a test sets one: don't pace at Slack's.
        "slack_posts_per_second": 50,
    }
    values.update(overrides)
    return values


@contextmanager
def running_bot(
    database_url: str,
    tmp_path: Path,
    *,
    clock: Callable[[], datetime] | None = None,
    **overrides: Any,
) -> Iterator[BotHarness]:
    """`clock` (optional) is the time the pending-request sweep sees; tests move it."""
    with (
        # Real-time message ts, as Slack's: the outbox looks a post up by time after a failure.
        SlackEmulator(bot_token=BOT_TOKEN, clock_ts=True) as slack,
        ZoomSimulator(client_secret=ZOOM_CLIENT_SECRET) as zoom,
    ):
        for user in (REQUESTER, APPROVER, SECOND_APPROVER, OUTSIDER):
            slack.add_user(user, email=f"{user.lower()}@example.com")
        settings = load_settings(settings_for(slack, zoom, database_url, tmp_path, **overrides))
        runtime = build_runtime(settings) if clock is None else build_runtime(settings, clock=clock)
        server = make_http_server(runtime.wsgi, host="127.0.0.1", port=0)
        # A short poll interval keeps shutdown(), and so each test's teardown, fast.
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield BotHarness(
                runtime, slack, zoom, f"http://127.0.0.1:{server.server_port}/slack/events"
            )
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
            runtime.tasks.wait_idle(15)
            runtime.close()

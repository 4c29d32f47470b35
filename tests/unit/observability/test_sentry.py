"""Sentry: events leave through the transport with no registered secret and no local variable."""

import json
import logging
from collections.abc import Iterator

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from bot.observability.redaction import forget_secret, register_secret
from bot.observability.sentry import init_sentry, shutdown_sentry

PASSWORD = "Xk9mQ2vLp7zR-pw"
TOKEN = "xoxb-1234-abcdef-token"
DSN = "https://public@sentry.example.invalid/1"


class RecordingTransport(Transport):
    """Keeps every envelope instead of sending it."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == "event" and item.payload.json is not None
        ]

    def text(self) -> str:
        return "\n".join(json.dumps(event) for event in self.events())


@pytest.fixture
def transport() -> Iterator[RecordingTransport]:
    for secret in (PASSWORD, TOKEN):
        register_secret(secret)
    recording = RecordingTransport()
    assert init_sentry(DSN, environment="test", transport=recording)
    yield recording
    shutdown_sentry()
    for secret in (PASSWORD, TOKEN):
        forget_secret(secret)


def fail_with_the_password() -> None:
    password = PASSWORD  # a local variable Sentry would otherwise attach to the frame
    token = TOKEN
    raise RuntimeError(f"Zoom refused {password} with {token}")


def test_an_exception_carrying_a_password_is_sent_without_it_or_local_variables(transport):
    try:
        fail_with_the_password()
    except RuntimeError as exc:
        sentry_sdk.capture_exception(exc)

    (event,) = transport.events()
    assert PASSWORD not in transport.text()
    assert TOKEN not in transport.text()
    (exception,) = event["exception"]["values"]
    assert exception["value"] == "Zoom refused [redacted] with [redacted]"
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])


def test_a_message_extra_and_breadcrumbs_are_scrubbed(transport):
    sentry_sdk.add_breadcrumb(message=f"called with {TOKEN}", data={"body": PASSWORD})
    with sentry_sdk.new_scope() as scope:
        scope.set_extra("request", {"password": "anything at all", "note": PASSWORD})
        sentry_sdk.capture_message(f"password was {PASSWORD}")

    (event,) = transport.events()
    text = transport.text()
    assert PASSWORD not in text
    assert TOKEN not in text
    assert "anything at all" not in text  # a secret-named key's value never leaves
    assert event["message"] == "password was [redacted]"


def test_an_error_log_line_reaches_sentry_scrubbed(transport):
    logging.getLogger("zoombot.test").error("Slack refused %s", TOKEN)

    assert transport.events(), "the logging integration sends ERROR lines"
    assert TOKEN not in transport.text()


def test_no_personal_data_is_sent(transport):
    sentry_sdk.capture_message("hello")

    (event,) = transport.events()
    assert "user" not in event or "ip_address" not in event.get("user", {})


def test_sentry_starts_once_per_process(transport):
    assert not init_sentry(DSN, transport=RecordingTransport())


def test_no_dsn_starts_nothing():
    assert not init_sentry(None)

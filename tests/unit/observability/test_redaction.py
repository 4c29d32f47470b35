"""Tests of bot.observability.redaction:
registered secrets never reach a log record, whoever logs them."""

import io
import logging
from collections.abc import Iterator

import pytest

from bot.observability.redaction import (
    REDACTED,
    forget_secret,
    install_log_redaction,
    redact,
    register_secret,
)

SECRET = "zoom-client-secret-4711"


@pytest.fixture
def secret() -> Iterator[str]:
    """Redaction installed (process-wide, as at start) and SECRET registered for this test."""
    install_log_redaction()
    register_secret(SECRET)
    yield SECRET
    forget_secret(SECRET)


@pytest.fixture
def logger(caplog) -> logging.Logger:
    caplog.set_level(logging.DEBUG, logger="tests.redaction")
    return logging.getLogger("tests.redaction")


# -- log records ---------------------------------------------------------------------------


def test_secret_in_the_message_is_scrubbed(secret, logger, caplog):
    logger.warning(f"token is {secret}")

    assert caplog.records[0].getMessage() == f"token is {REDACTED}"


def test_secret_passed_as_an_argument_is_scrubbed(secret, logger, caplog):
    logger.info("calling Zoom with %s and %d retries", secret, 3)

    assert caplog.records[0].getMessage() == f"calling Zoom with {REDACTED} and 3 retries"


def test_scrubbed_record_keeps_no_arguments_holding_the_secret(secret, logger, caplog):
    logger.info("body: %r", {"client_secret": secret})

    assert caplog.records[0].args is None


def test_secret_inside_an_exception_is_scrubbed_from_the_traceback_text(secret, logger, caplog):
    try:
        raise RuntimeError(f"Zoom said no to {secret}")
    except RuntimeError:
        logger.exception("Zoom call failed")

    assert secret not in caplog.text
    assert f"RuntimeError: Zoom said no to {REDACTED}" in caplog.text


def test_exception_text_of_the_record_is_already_scrubbed(secret, logger, caplog):
    try:
        raise RuntimeError(secret)
    except RuntimeError:
        logger.error("failed", exc_info=True)

    record = caplog.records[0]
    assert record.exc_text is not None
    assert secret not in record.exc_text
    assert REDACTED in record.exc_text


def test_secret_is_scrubbed_for_a_logger_and_handler_added_after_install(secret):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    late = logging.getLogger("tests.redaction.created_after_install")
    late.addHandler(handler)
    late.setLevel(logging.INFO)
    late.propagate = False
    try:
        late.info("secret=%s", secret)
    finally:
        late.removeHandler(handler)

    assert stream.getvalue() == f"secret={REDACTED}\n"


def test_secret_registered_after_install_is_scrubbed(logger, caplog):
    install_log_redaction()
    register_secret("registered-later-0042")
    try:
        logger.warning("value registered-later-0042")
    finally:
        forget_secret("registered-later-0042")

    assert caplog.records[0].getMessage() == f"value {REDACTED}"


def test_forgotten_secret_is_no_longer_scrubbed(logger, caplog):
    install_log_redaction()
    register_secret("short-lived-secret")
    forget_secret("short-lived-secret")

    logger.warning("value short-lived-secret")

    assert caplog.records[0].getMessage() == "value short-lived-secret"


def test_record_without_a_secret_is_unchanged(secret, logger, caplog):
    logger.info("request %s approved by %s", 7, "UAPP")

    assert caplog.records[0].getMessage() == "request 7 approved by UAPP"


def test_installing_twice_wraps_the_record_factory_once():
    install_log_redaction()
    factory = logging.getLogRecordFactory()

    install_log_redaction()

    assert logging.getLogRecordFactory() is factory


# -- redact() and registration -------------------------------------------------------------


def test_redact_replaces_every_occurrence(secret):
    assert redact(f"{secret}/{secret}") == f"{REDACTED}/{REDACTED}"


def test_redact_scrubs_extra_values_given_for_one_call():
    assert redact("password Tr0ub4dor-Xq", ["Tr0ub4dor-Xq"]) == f"password {REDACTED}"


def test_longer_secret_is_replaced_before_a_secret_it_contains():
    register_secret("abcdef")
    register_secret("abcdef-and-more")
    try:
        redacted = redact("key abcdef-and-more")
    finally:
        forget_secret("abcdef")
        forget_secret("abcdef-and-more")

    assert redacted == f"key {REDACTED}"


@pytest.mark.parametrize("value", ["", "x", "abc", "12345"])
def test_strings_shorter_than_six_characters_are_not_registered(value):
    register_secret(value)
    try:
        redacted = redact(f"the word {value} stays")
    finally:
        forget_secret(value)

    assert redacted == f"the word {value} stays"


def test_six_character_string_is_registered():
    register_secret("s3cr3t")
    try:
        redacted = redact("value s3cr3t")
    finally:
        forget_secret("s3cr3t")

    assert redacted == f"value {REDACTED}"


def test_registering_none_is_ignored():
    register_secret(None)

    assert redact("None stays None") == "None stays None"


def test_short_string_is_not_scrubbed_from_logs(logger, caplog):
    install_log_redaction()
    register_secret("abc")
    try:
        logger.warning("abc is fine")
    finally:
        forget_secret("abc")

    assert caplog.records[0].getMessage() == "abc is fine"

"""A Zoom error written to a `zoom_result` detail and read back reads the same to a person."""

import pytest

from bot.provisioning.result_detail import error_detail, error_from_detail, wait_detail
from bot.zoom.errors import (
    FieldError,
    ZoomAuthError,
    ZoomEmailInUse,
    ZoomError,
    ZoomRateLimited,
    ZoomServerError,
    ZoomValidationError,
)


def daily_limit() -> ZoomRateLimited:
    error = ZoomRateLimited("Too many requests", http_status=429)
    error.rate_limit_type = "Daily-limit"
    return error


@pytest.mark.parametrize(
    "error",
    [
        ZoomEmailInUse("Email in use", http_status=409, zoom_code=1005),
        ZoomValidationError(
            "bad", http_status=400, zoom_code=300, field_errors=(FieldError("name", "too long"),)
        ),
        daily_limit(),
        ZoomAuthError("token endpoint down", http_status=503),
        ZoomServerError("boom", http_status=502),
    ],
    ids=["email-in-use", "field-errors", "daily-limit", "auth-5xx", "server-error"],
)
def test_an_error_read_back_from_its_detail_reads_the_same(error):
    rebuilt = error_from_detail(error_detail(error))

    assert type(rebuilt) is type(error)
    assert rebuilt.plain_words() == error.plain_words()
    assert (rebuilt.http_status, rebuilt.zoom_code, rebuilt.outcome_known) == (
        error.http_status,
        error.zoom_code,
        error.outcome_known,
    )


def test_a_detail_without_field_errors_or_limit_type_keeps_its_keys():
    detail = error_detail(ZoomEmailInUse("Email in use", http_status=409, zoom_code=1005))

    assert set(detail) == {"http_status", "code", "message", "error", "outcome_known"}


def test_an_unknown_error_name_reads_as_the_root_error():
    rebuilt = error_from_detail({"error": "SomethingNew", "message": "x", "outcome_known": False})

    assert type(rebuilt) is ZoomError
    assert rebuilt.outcome_known is False


def test_a_wait_is_recorded_in_tenths_of_a_millisecond_and_only_when_there_was_one():
    assert wait_detail(0.01234) == {"rate_limit_wait_ms": 12.3}
    assert wait_detail(0.0) == {}
    assert wait_detail(0.00001) == {}

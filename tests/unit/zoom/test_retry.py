"""Retry-After parsing and backoff: pure functions, no I/O."""

from datetime import UTC, datetime

import pytest

from bot.zoom.retry import backoff_seconds, retry_after_seconds

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), ("0", 0.0), (" 5 ", 5.0), ("1.5", 1.5)],
)
def test_delta_seconds_are_taken_as_is(value, expected):
    assert retry_after_seconds(value, now=NOW) == expected


def test_http_date_gives_seconds_until_then():
    assert retry_after_seconds("Wed, 01 May 2024 12:00:30 GMT", now=NOW) == 30.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:01:00Z", 60.0),
        ("2024-05-01T12:00:01.500Z", 1.5),
        ("2024-05-01T14:00:10+02:00", 10.0),
        ("2024-05-01T07:00:20-05:00", 20.0),
        ("2024-05-01T12:00:45", 45.0),  # no offset: read as UTC
    ],
)
def test_iso_8601_timestamp_gives_seconds_until_then(value, expected):
    assert retry_after_seconds(value, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    "value",
    ["Wed, 01 May 2024 11:59:00 GMT", "2024-05-01T11:00:00Z", "2020-01-01T00:00:00+00:00"],
)
def test_moment_in_the_past_means_retry_now(value):
    assert retry_after_seconds(value, now=NOW) == 0.0


@pytest.mark.parametrize(
    "value", [None, "", "   ", "soon", "-5", "nan", "inf", "12 seconds", "2024-13-45T99:00:00Z"]
)
def test_absent_or_unreadable_value_gives_none(value):
    assert retry_after_seconds(value, now=NOW) is None


@pytest.mark.parametrize(("attempt", "full"), [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0)])
def test_backoff_doubles_with_at_most_a_quarter_of_jitter(attempt, full):
    waits = [backoff_seconds(attempt, max_seconds=30) for _ in range(200)]

    assert all(0.75 * full <= wait <= full for wait in waits)
    assert len(set(waits)) > 1  # jittered, not constant


def test_backoff_never_exceeds_the_cap():
    assert all(backoff_seconds(20, max_seconds=3.0) <= 3.0 for _ in range(50))

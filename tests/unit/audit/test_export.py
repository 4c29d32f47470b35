"""Tests of bot.audit.export's arguments and of what an export row may contain."""

from datetime import UTC, datetime

import pytest

from bot.audit.export import UsageError, _safe_cell, main, parse_arguments, parse_moment
from bot.audit.records import MASK, scrub

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_a_bare_date_is_midnight_utc():
    assert parse_moment("2026-11-01", option="--since") == datetime(2026, 11, 1, tzinfo=UTC)


def test_a_bare_until_date_includes_that_whole_day():
    request = parse_arguments(["--since", "2026-11-01", "--until", "2026-11-01", "--format", "csv"])

    assert (request.since, request.until) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 2, tzinfo=UTC),
    )


def test_a_datetime_without_zone_is_utc_and_one_with_a_zone_is_converted():
    assert parse_moment("2026-11-01T10:30", option="--since") == datetime(
        2026, 11, 1, 10, 30, tzinfo=UTC
    )
    assert parse_moment("2026-11-01T10:30+02:00", option="--since") == datetime(
        2026, 11, 1, 8, 30, tzinfo=UTC
    )


def test_until_defaults_to_now():
    request = parse_arguments(["--since", "2026-11-01", "--format", "json"], now=NOW)

    assert (request.until, request.format, request.output) == (NOW, "json", None)


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--format", "csv"], "the following arguments are required: --since"),
        (["--since", "2026-11-01"], "the following arguments are required: --format"),
        (["--since", "yesterday", "--format", "csv"], "--since: 'yesterday' is not a date"),
        (["--since", "2026-11-01", "--format", "xml"], "invalid choice: 'xml'"),
        (
            ["--since", "2026-11-02", "--until", "2026-11-01T00:00", "--format", "csv"],
            "--until must be later than --since",
        ),
    ],
)
def test_bad_arguments_are_a_usage_error_naming_the_problem(argv, problem):
    with pytest.raises(UsageError) as raised:
        parse_arguments(argv, now=NOW)

    assert problem in str(raised.value)


def test_bad_arguments_exit_2_with_one_line(capsys):
    status = main(["--since", "someday", "--format", "csv"])

    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith("zoombot export: --since: 'someday' is not a date")


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "--format" in capsys.readouterr().out


def test_text_under_a_password_or_ciphertext_key_is_masked_at_any_depth():
    detail = {
        "body": {"password": "Secr3t-pass", "email": "a@b.c"},
        "items": [{"new_password": "x"}],
        "password_ciphertext": b"gAAAA",
        "password_generated": True,
    }

    assert scrub(detail) == {
        "body": {"password": MASK, "email": "a@b.c"},
        "items": [{"new_password": MASK}],
        "password_ciphertext": MASK,
        "password_generated": True,
    }


@pytest.mark.parametrize("text", ['=HYPERLINK("x")', "+1", "-2+3", "@SUM(A1)", "\tx"])
def test_csv_cells_that_a_spreadsheet_would_run_are_defused(text):
    assert _safe_cell(text) == "'" + text


def test_ordinary_csv_cells_are_kept():
    assert [_safe_cell(value) for value in ("Jill", 12, None, "a=b")] == ["Jill", 12, None, "a=b"]

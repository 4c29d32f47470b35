"""The slash export's arguments, file name and plain-word failures."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.audit.export import UsageError
from bot.flows.export import ExportCommand, failure_text, file_name, parse_export_command

NOW = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)


def test_no_arguments_mean_the_last_30_days_as_csv():
    assert parse_export_command([], now=NOW) == ExportCommand(
        since=NOW - timedelta(days=30), until=NOW, format="csv"
    )


def test_a_bare_until_date_includes_that_whole_day():
    command = parse_export_command(["--since=2026-11-01", "--until", "2026-11-01"], now=NOW)

    assert command.since == datetime(2026, 11, 1, tzinfo=UTC)
    assert command.until == datetime(2026, 11, 2, tzinfo=UTC)
    assert file_name(command) == "zoombot-audit-2026-11-01-to-2026-11-01.csv"


@pytest.mark.parametrize("dash", ["\u2014", "\u2013"])
def test_a_dash_slack_typed_for_two_hyphens_still_names_an_option(dash):
    assert parse_export_command([f"{dash}format", "json"], now=NOW).format == "json"


def test_abbreviated_options_are_refused():
    with pytest.raises(UsageError, match="unrecognized arguments: --form json"):
        parse_export_command(["--form", "json"], now=NOW)


def test_an_option_without_its_value_is_refused():
    with pytest.raises(UsageError, match="--since: expected one argument"):
        parse_export_command(["--since"], now=NOW)


def test_a_failure_slack_never_answered_is_told_without_jargon():
    text = failure_text("HTTPError")

    assert "the file could not be sent to Slack" in text
    assert "HTTPError" not in text


def test_an_unknown_slack_error_code_is_named():
    assert "Slack did not accept the file (fatal_error)" in failure_text("fatal_error")

"""Tests of bot.config.load_settings: CONTRACT.md's settings, one problem line per variable."""

import pytest

from bot.config import Settings, load_settings, normalize_database_url
from bot.errors import ConfigurationError

REQUIRED = {
    "SLACK_BOT_TOKEN": "xoxb-1-test",
    "SLACK_SIGNING_SECRET": "signing-secret-for-tests",
    "ZOOM_ACCOUNT_ID": "zoom-account",
    "ZOOM_CLIENT_ID": "zoom-client",
    "ZOOM_CLIENT_SECRET": "zoom-client-secret",
    "REQUESTER_ALLOWLIST": "U0REQ",
    "APPROVER_ALLOWLIST": "U0APP",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No setting leaks in from the developer's shell or a stray .env in the project."""
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def env(monkeypatch):
    """Sets the required settings; returns a setter for the rest (None removes a variable)."""
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)

    def set_variable(name: str, value: str | None) -> None:
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)

    return set_variable


def problems_for() -> list[str]:
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    return raised.value.problems


# -- valid settings ------------------------------------------------------------------------


def test_required_values_alone_give_settings(env):
    settings = load_settings()

    assert settings.slack_bot_token.get_secret_value() == "xoxb-1-test"
    assert settings.zoom_account_id == "zoom-account"
    assert settings.zoom_client_secret.get_secret_value() == "zoom-client-secret"
    assert settings.requester_allowlist == ["U0REQ"]
    assert settings.approver_allowlist == ["U0APP"]


def test_optional_settings_have_the_contract_defaults(env):
    settings = load_settings()

    assert (
        settings.slack_api_url,
        settings.zoom_api_url,
        settings.zoom_oauth_url,
        settings.database_url,
        settings.approval_channel,
        settings.required_approvals,
        settings.approve_reaction,
        settings.reject_reaction,
        settings.slash_command,
        settings.require_reason,
        settings.port,
    ) == (
        "https://slack.com/api/",
        "https://api.zoom.us/v2",
        "https://zoom.us/oauth/token",
        "sqlite:///zoombot.db",
        None,
        1,
        "white_check_mark",
        "x",
        "/zoom-subaccount",
        True,
        3000,
    )


def test_secrets_are_hidden_in_the_settings_repr(env):
    shown = repr(load_settings())

    assert "zoom-client-secret" not in shown
    assert "signing-secret-for-tests" not in shown
    assert "xoxb-1-test" not in shown


def test_optional_settings_are_read_from_the_environment(env):
    env("APPROVAL_CHANNEL", "C0APPR")
    env("REQUIRED_APPROVALS", "2")
    env("REQUIRE_REASON", "false")
    env("PORT", "8080")
    env("SLASH_COMMAND", "/zoom-sub")

    settings = load_settings()

    assert (
        settings.approval_channel,
        settings.required_approvals,
        settings.require_reason,
        settings.port,
        settings.slash_command,
    ) == ("C0APPR", 2, False, 8080, "/zoom-sub")


def test_zero_required_approvals_is_allowed(env):
    env("REQUIRED_APPROVALS", "0")

    assert load_settings().required_approvals == 0


def test_reaction_names_lose_their_colons(env):
    env("APPROVE_REACTION", ":thumbsup:")
    env("REJECT_REACTION", " :-1: ")

    settings = load_settings()

    assert (settings.approve_reaction, settings.reject_reaction) == ("thumbsup", "-1")


def test_empty_approval_channel_means_the_command_channel(env):
    env("APPROVAL_CHANNEL", "")

    assert load_settings().approval_channel is None


def test_overrides_win_over_the_environment(env):
    env("PORT", "8080")

    assert load_settings({"port": 9090}).port == 9090


def test_dotenv_file_in_the_working_directory_is_read(tmp_path):
    lines = [f"{name}={value}" for name, value in REQUIRED.items()]
    (tmp_path / ".env").write_text("\n".join([*lines, "PORT=4000"]) + "\n")

    assert load_settings().port == 4000


def test_environment_wins_over_the_dotenv_file(tmp_path, env):
    (tmp_path / ".env").write_text("PORT=4000\n")
    env("PORT", "5000")

    assert load_settings().port == 5000


# -- allowlists ----------------------------------------------------------------------------


def test_allowlist_is_split_on_commas_with_spaces_trimmed(env):
    env("REQUESTER_ALLOWLIST", " U0123 ,W0456,S0789 , jill@example.com ")

    assert load_settings().requester_allowlist == ["U0123", "W0456", "S0789", "jill@example.com"]


def test_allowlist_ignores_empty_entries(env):
    env("APPROVER_ALLOWLIST", "U0123,,U0456,")

    assert load_settings().approver_allowlist == ["U0123", "U0456"]


@pytest.mark.parametrize("variable", ["REQUESTER_ALLOWLIST", "APPROVER_ALLOWLIST"])
@pytest.mark.parametrize("value", ["", " , ,"])
def test_allowlist_without_entries_is_a_problem_naming_it(env, variable, value):
    env(variable, value)

    assert problems_for() == [
        f"{variable}: must name at least one Slack user ID, user-group ID or email"
    ]


@pytest.mark.parametrize("entry", ["bob", "u0123", "C0123", "#general", "@jill", "jill@example"])
def test_allowlist_entry_that_is_no_id_or_email_is_a_problem_naming_it(env, entry):
    env("REQUESTER_ALLOWLIST", f"U0123,{entry}")

    problems = problems_for()

    assert len(problems) == 1
    assert problems[0].startswith("REQUESTER_ALLOWLIST: not a Slack user ID")
    assert repr(entry) in problems[0]


# -- database URL --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://bot:pw@db:5432/zoombot", "postgresql+psycopg://bot:pw@db:5432/zoombot"),
        ("postgresql://bot@db/zoombot", "postgresql+psycopg://bot@db/zoombot"),
        ("postgresql+psycopg://bot@db/zoombot", "postgresql+psycopg://bot@db/zoombot"),
        ("sqlite:////var/lib/zoombot.db", "sqlite:////var/lib/zoombot.db"),
    ],
)
def test_database_url_is_normalized_to_psycopg_3(env, given, expected):
    env("DATABASE_URL", given)

    assert load_settings().database_url == expected


def test_database_url_surrounding_spaces_are_removed(env):
    env("DATABASE_URL", "  postgres://db/zoombot \n")

    assert load_settings().database_url == "postgresql+psycopg://db/zoombot"


def test_normalize_leaves_a_postgres_word_inside_the_url_alone():
    assert normalize_database_url("sqlite:///postgres://x.db") == "sqlite:///postgres://x.db"


@pytest.mark.parametrize(
    ("url", "is_sqlite"), [("sqlite:///zoombot.db", True), ("postgres://db/zoombot", False)]
)
def test_is_sqlite_tells_the_backend(env, url, is_sqlite):
    env("DATABASE_URL", url)

    assert load_settings().is_sqlite is is_sqlite


# -- missing and malformed settings --------------------------------------------------------


@pytest.mark.parametrize(
    "variable",
    [
        "SLACK_BOT_TOKEN",
        "ZOOM_ACCOUNT_ID",
        "ZOOM_CLIENT_ID",
        "ZOOM_CLIENT_SECRET",
        "REQUESTER_ALLOWLIST",
        "APPROVER_ALLOWLIST",
    ],
)
def test_missing_required_setting_is_one_line_naming_the_variable(env, variable):
    env(variable, None)

    assert problems_for() == [f"{variable}: required"]


def test_every_missing_setting_gets_its_own_line():
    assert sorted(problems_for()) == [
        "APPROVER_ALLOWLIST: required",
        "REQUESTER_ALLOWLIST: required",
        "SLACK_BOT_TOKEN: required",
        "SLACK_SIGNING_SECRET: required unless SLACK_APP_TOKEN is set",
        "ZOOM_ACCOUNT_ID: required",
        "ZOOM_CLIENT_ID: required",
        "ZOOM_CLIENT_SECRET: required",
    ]


def test_configuration_error_message_joins_the_problem_lines(env):
    env("ZOOM_CLIENT_ID", None)
    env("PORT", "http")

    with pytest.raises(ConfigurationError) as raised:
        load_settings()

    assert str(raised.value) == "; ".join(raised.value.problems)


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "must be a bot token starting with xoxb-"),
        (
            "SLACK_APP_TOKEN",
            "xoxb-not-an-app-token",
            "must be an app-level token starting with xapp-",
        ),
        ("APPROVAL_CHANNEL", "general", "must be a Slack channel ID such as C0123ABCD"),
        ("APPROVAL_CHANNEL", "#general", "must be a Slack channel ID such as C0123ABCD"),
        ("APPROVE_REACTION", "thumbs up", "must be a reaction name such as white_check_mark"),
        ("REJECT_REACTION", "::", "must be a reaction name such as white_check_mark"),
        ("SLASH_COMMAND", "zoom-subaccount", "must start with /"),
    ],
)
def test_malformed_setting_is_one_line_naming_the_variable_and_the_rule(
    env, variable, value, problem
):
    env(variable, value)

    assert problems_for() == [f"{variable}: {problem}"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REQUIRED_APPROVALS", "two"),
        ("REQUIRED_APPROVALS", "-1"),
        ("REQUIRED_APPROVALS", "11"),
        ("PORT", "http"),
        ("PORT", "0"),
        ("PORT", "65536"),
        ("REQUIRE_REASON", "sometimes"),
        ("AUTO_MIGRATE", "perhaps"),
        ("ZOOM_TIMEOUT_SECONDS", "0"),
        ("APPROVAL_TTL_HOURS", "-1"),
        ("DIRECTORY_CACHE_SECONDS", "-5"),
    ],
)
def test_malformed_number_or_flag_is_one_line_naming_the_variable(env, variable, value):
    env(variable, value)

    problems = problems_for()

    assert len(problems) == 1
    assert problems[0].startswith(f"{variable}: ")


def test_problem_line_does_not_repeat_a_malformed_secret(env):
    env("SLACK_BOT_TOKEN", "xoxp-very-secret-user-token")

    assert "very-secret" not in " ".join(problems_for())


# -- signing secret and Socket Mode ---------------------------------------------------------


def test_signing_secret_is_required_without_an_app_token(env):
    env("SLACK_SIGNING_SECRET", None)

    assert problems_for() == ["SLACK_SIGNING_SECRET: required unless SLACK_APP_TOKEN is set"]


def test_signing_secret_is_optional_with_an_app_token(env):
    env("SLACK_SIGNING_SECRET", None)
    env("SLACK_APP_TOKEN", "xapp-1-test")

    settings = load_settings()

    assert settings.socket_mode is True
    assert settings.slack_signing_secret is None


def test_without_an_app_token_the_bot_serves_http(env):
    assert load_settings().socket_mode is False


def test_empty_app_token_means_http(env):
    env("SLACK_APP_TOKEN", "")

    assert load_settings().socket_mode is False


def test_empty_app_token_still_needs_the_signing_secret(env):
    env("SLACK_APP_TOKEN", "")
    env("SLACK_SIGNING_SECRET", None)

    assert problems_for() == ["SLACK_SIGNING_SECRET: required unless SLACK_APP_TOKEN is set"]


def test_empty_signing_secret_without_an_app_token_is_a_problem(env):
    env("SLACK_SIGNING_SECRET", "")

    assert problems_for() == ["SLACK_SIGNING_SECRET: required unless SLACK_APP_TOKEN is set"]


def test_empty_signing_secret_with_an_app_token_reads_as_unset(env):
    env("SLACK_SIGNING_SECRET", "")
    env("SLACK_APP_TOKEN", "xapp-1-test")

    assert load_settings().slack_signing_secret is None


def test_missing_signing_secret_is_reported_with_the_other_problems(env):
    env("SLACK_SIGNING_SECRET", None)
    env("ZOOM_CLIENT_ID", None)

    assert sorted(problems_for()) == [
        "SLACK_SIGNING_SECRET: required unless SLACK_APP_TOKEN is set",
        "ZOOM_CLIENT_ID: required",
    ]


@pytest.mark.parametrize("variable", ["ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"])
def test_empty_required_zoom_setting_is_a_problem_naming_it(env, variable):
    env(variable, "")

    problems = problems_for()

    assert [problem.split(":")[0] for problem in problems] == [variable]

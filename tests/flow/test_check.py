"""`zoombot check` against the project's fakes over real HTTP on 127.0.0.1: an all-green run,
then each problem provoked on its own, named in the output with its fix, and exit status 1."""

from __future__ import annotations

import io
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.check import main
from bot.check.run import check
from bot.config import Settings, load_settings
from bot.db.migrate import upgrade_to_head
from bot.db.models import SubaccountRequest
from bot.db.session import make_engine, make_session_factory, transaction
from sandbox.check_demo import break_everything, sandbox_services
from sandbox.slack_emulator import SlackEmulator
from sandbox.zoom_simulator import ZoomSimulator

BOT_TOKEN = "xoxb-check-token-0123456789"
SIGNING_SECRET = "check-signing-secret-abcdef"
ZOOM_SECRET = "zoom-check-secret-9876"
KEY = Fernet.generate_key().decode()
OLD_KEY = Fernet.generate_key().decode()
REQUESTER, APPROVER, ESCALATION = "UREQ1", "UAPP1", "UESC1"
GROUP = "SAPPROVERS"
APPROVAL_CHANNEL, OPS_CHANNEL = "CAPPROVE1", "COPS1"


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating each time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "zoombot.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    engine.dispose()
    return path


@dataclass
class Services:
    slack: SlackEmulator
    zoom: ZoomSimulator
    values: dict[str, Any]
    tmp_path: Path

    def settings(self, **overrides: Any) -> Settings:
        return load_settings({**self.values, **overrides})

    def run(self, **overrides: Any) -> tuple[int, str]:
        out = io.StringIO()
        status = check(self.settings(**overrides), out=out)
        return status, out.getvalue()


@pytest.fixture
def services(tmp_path: Path, migrated_template: Path) -> Iterator[Services]:
    with (
        SlackEmulator(bot_token=BOT_TOKEN) as slack,
        ZoomSimulator(client_secret=ZOOM_SECRET) as zoom,
    ):
        for user in (REQUESTER, APPROVER, ESCALATION):
            slack.add_user(user, email=f"{user.lower()}@example.com", name=f"Person {user}")
        slack.add_usergroup(GROUP, [APPROVER, ESCALATION])
        slack.add_channel(APPROVAL_CHANNEL, "zoom-approvals")
        slack.add_channel(OPS_CHANNEL, "zoom-ops")
        database = tmp_path / "zoombot.db"
        shutil.copy(migrated_template, database)
        values = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack.base_url,
            "slack_timeout_seconds": 3,
            "zoom_account_id": zoom.account_id,
            "zoom_client_id": zoom.client_id,
            "zoom_client_secret": ZOOM_SECRET,
            "zoom_api_url": zoom.api_url,
            "zoom_oauth_url": zoom.oauth_url,
            "zoom_timeout_seconds": 3,
            "database_url": f"sqlite:///{database}",
            "requester_allowlist": f"{REQUESTER},{ESCALATION.lower()}@example.com",
            "approver_allowlist": f"{APPROVER},{GROUP}",
            "escalation_approvers": ESCALATION,
            "approval_channel": APPROVAL_CHANNEL,
            "ops_channel": OPS_CHANNEL,
            "password_encryption_key": KEY,
            "password_key_file": str(tmp_path / "unused.key"),
        }
        yield Services(slack, zoom, values, tmp_path)


def lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line[:1] in ("✓", "✗")]


def failing(output: str) -> list[str]:
    return [line for line in lines(output) if line.startswith("✗")]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- all green ---------------------------------------------------------------------------------


def test_everything_configured_passes_every_check(services):
    status, output = services.run()

    assert status == 0, output
    assert failing(output) == []
    assert len(lines(output)) == 13  # token, scopes, 2 channels, 5 entries, 2 Zoom, DB, key
    assert "All 13 checks passed." in output


def test_each_allowlist_entry_says_who_it_names(services):
    _, output = services.run()

    assert f"✓ REQUESTER_ALLOWLIST {REQUESTER}: Person {REQUESTER} ({REQUESTER})" in output
    assert f"✓ REQUESTER_ALLOWLIST uesc1@example.com: Person {ESCALATION} ({ESCALATION})" in output
    assert f"✓ APPROVER_ALLOWLIST {GROUP}: user group with 2 members" in output
    assert f"✓ ESCALATION_APPROVERS {ESCALATION}: Person {ESCALATION}" in output


def test_main_reads_the_environment_and_exits_0(services, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name, value in services.values.items():
        monkeypatch.setenv(name.upper(), str(value))

    assert main([]) == 0
    assert "All 13 checks passed." in capsys.readouterr().out


def test_a_setting_missing_exits_2_naming_it(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)

    assert main([]) == 2
    output = capsys.readouterr().out
    assert "✗ SLACK_BOT_TOKEN: required" in output
    assert "✗ ZOOM_CLIENT_SECRET: required" in output


# -- Slack ------------------------------------------------------------------------------------


def test_a_wrong_token_is_named(services):
    services.slack.bot_token = "xoxb-some-other-token"

    status, output = services.run()

    assert status == 1
    assert "✗ Slack token: Slack refused SLACK_BOT_TOKEN (invalid_auth)" in output
    assert "Bot User OAuth Token" in output


def test_a_missing_scope_is_listed_with_the_reinstall_fix(services):
    services.slack.granted_scopes = tuple(
        scope for scope in services.slack.granted_scopes if scope != "reactions:read"
    )

    status, output = services.run()

    assert status == 1
    assert failing(output) == ["✗ Slack scopes: the token lacks reactions:read"]
    assert "add them under OAuth & Permissions" in output
    assert "reinstall the app" in output


def test_the_bot_outside_the_approval_channel_is_told_to_invite_it(services):
    services.slack.set_bot_member(APPROVAL_CHANNEL, member=False)

    status, output = services.run()

    assert status == 1
    assert failing(output) == [
        f"✗ APPROVAL_CHANNEL {APPROVAL_CHANNEL}: the bot is not a member of #zoom-approvals"
    ]
    assert "/invite @zoombot in #zoom-approvals" in output


def test_the_bot_outside_the_ops_channel_is_told_to_invite_it(services):
    services.slack.set_bot_member(OPS_CHANNEL, member=False)

    status, output = services.run()

    assert status == 1
    assert failing(output) == [f"✗ OPS_CHANNEL {OPS_CHANNEL}: the bot is not a member of #zoom-ops"]
    assert "/invite @zoombot in #zoom-ops" in output


def test_an_unknown_channel_id_is_called_wrong_or_private(services):
    status, output = services.run(approval_channel="CWRONG1")

    assert status == 1
    assert "✗ APPROVAL_CHANNEL CWRONG1: Slack knows no such channel for the bot" in output
    assert "the ID is wrong, or the channel is private" in output


@pytest.mark.parametrize(
    ("entry", "problem", "fix"),
    [
        ("UNOBODY1", "no such user in the workspace", "check the ID in APPROVER_ALLOWLIST"),
        ("SNOGROUP1", "no such user group", "check the entry in APPROVER_ALLOWLIST"),
        ("nobody@example.com", "no Slack user has this email", "check the spelling"),
    ],
)
def test_an_entry_that_names_nobody_fails(services, entry, problem, fix):
    status, output = services.run(approver_allowlist=f"{APPROVER},{entry}")

    assert status == 1
    assert failing(output) == [f"✗ APPROVER_ALLOWLIST {entry}: {problem}"]
    assert fix in output


def test_an_empty_user_group_fails(services):
    services.slack.add_usergroup("SEMPTY1", [])

    status, output = services.run(approver_allowlist="SEMPTY1")

    assert status == 1
    assert "✗ APPROVER_ALLOWLIST SEMPTY1: the user group has no members" in output


def test_a_deactivated_user_fails_by_id_and_by_email(services):
    services.slack.deactivate_user(REQUESTER)

    status, output = services.run(requester_allowlist=f"{REQUESTER},ureq1@example.com")

    assert status == 1
    assert failing(output) == [
        f"✗ REQUESTER_ALLOWLIST {REQUESTER}: Person {REQUESTER} ({REQUESTER}) is deactivated",
        f"✗ REQUESTER_ALLOWLIST ureq1@example.com: Person {REQUESTER} ({REQUESTER}) is deactivated",
    ]
    assert "remove the entry from REQUESTER_ALLOWLIST" in output


def test_a_lookup_without_its_scope_names_the_scope(services):
    services.slack.granted_scopes = tuple(
        scope for scope in services.slack.granted_scopes if scope != "usergroups:read"
    )

    _, output = services.run()

    assert f"✗ APPROVER_ALLOWLIST {GROUP}: cannot look it up: the token lacks usergroups:read" in (
        output
    )


def test_slack_unreachable_is_a_failed_line_not_a_traceback(services):
    url = f"http://127.0.0.1:{closed_port()}/api/"

    status, output = services.run(slack_api_url=url)

    assert status == 1
    assert f"✗ Slack token: cannot reach Slack at SLACK_API_URL ({url}): ConnectError" in output
    assert "Traceback" not in output


def test_a_slow_slack_times_out_within_the_setting(services):
    services.slack.delay_next("auth.test", 2.0)

    status, output = services.run(slack_timeout_seconds=0.3)

    assert status == 1
    assert "cannot reach Slack at SLACK_API_URL" in output
    assert "ReadTimeout" in output


# -- Zoom -------------------------------------------------------------------------------------


def test_a_wrong_zoom_secret_is_refused_by_the_token_endpoint(services):
    status, output = services.run(zoom_client_secret="not-the-secret")

    assert status == 1
    assert failing(output) == [
        "✗ Zoom credentials: Zoom refused the credentials "
        "(HTTP 401: invalid_client, Invalid client_id or client_secret)"
    ]
    assert "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET" in output
    assert "Zoom master account" not in output  # nothing to ask without a token


def test_a_wrong_zoom_account_id_is_refused_too(services):
    status, output = services.run(zoom_account_id="not-the-account")

    assert status == 1
    assert "✗ Zoom credentials: Zoom refused the credentials" in output
    assert "a wrong account ID is refused by the token endpoint too" in output


def test_an_account_that_is_not_a_master_account_fails(services):
    services.zoom.master_account = False

    status, output = services.run()

    assert status == 1
    assert failing(output) == [
        "✗ Zoom master account: Zoom says this is not a master account or the app lacks "
        "permission (HTTP 400, code 200: No permission.)"
    ]
    assert "account:read:list_sub_accounts:master" in output
    assert "must belong to the master account" in output


@pytest.mark.parametrize(
    ("status_code", "body"),
    [
        (403, {"code": 403, "message": "Forbidden"}),
        (400, {"code": 4711, "message": "Invalid access token, does not contain scopes."}),
        (401, {"code": 124, "message": "Invalid access token."}),
    ],
)
def test_any_refusal_to_list_sub_accounts_names_the_scopes(services, status_code, body):
    services.zoom.queue_list_response(status_code, body)

    status, output = services.run()

    assert status == 1
    assert "✗ Zoom master account: Zoom refused" in output or "not a master account" in output
    assert f"HTTP {status_code}, code {body['code']}" in output
    assert "account:read:list_sub_accounts:master" in output


def test_zoom_unreachable_is_a_failed_line(services):
    url = f"http://127.0.0.1:{closed_port()}/oauth/token"

    status, output = services.run(zoom_oauth_url=url)

    assert status == 1
    assert f"✗ Zoom credentials: cannot reach Zoom at ZOOM_OAUTH_URL ({url}): ConnectError" in (
        output
    )


# -- database and key -------------------------------------------------------------------------


def test_a_sqlite_path_in_a_missing_folder_fails(services, tmp_path):
    missing = tmp_path / "nowhere" / "zoombot.db"

    status, output = services.run(database_url=f"sqlite:///{missing}")

    assert status == 1
    assert failing(output) == [
        f"✗ Database: cannot open the SQLite database {missing}: its folder "
        f"{missing.parent} does not exist"
    ]
    assert not missing.parent.exists()  # the check created nothing


def test_a_postgres_server_that_is_not_there_fails(services):
    port = closed_port()
    url = f"postgresql://zoombot:db-password-123@127.0.0.1:{port}/zoombot"

    status, output = services.run(database_url=url)

    assert status == 1
    assert (
        f"✗ Database: cannot use DATABASE_URL (postgresql+psycopg://zoombot:***@127.0.0.1:{port}"
        in (output)
    )
    assert "OperationalError" in output
    assert "db-password-123" not in output


def test_an_unmigrated_database_says_run_migrate(services, tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()

    status, output = services.run(database_url=f"sqlite:///{empty}")

    assert status == 1
    assert "✗ Database: sqlite:///" in output
    assert "is at no revision (empty); the code needs" in output
    assert "run `zoombot migrate`" in output


def test_a_database_file_not_yet_created_says_run_migrate(services, tmp_path):
    status, output = services.run(database_url=f"sqlite:///{tmp_path / 'new.db'}")

    assert status == 1
    assert "✗ Database: no SQLite database at" in output
    assert "run `zoombot migrate`" in output
    assert not (tmp_path / "new.db").exists()


def test_no_key_and_no_key_file_fails(services, tmp_path):
    key_file = tmp_path / "keys" / "zoombot.key"

    status, output = services.run(password_encryption_key=None, password_key_file=str(key_file))

    assert status == 1
    assert failing(output) == [
        f"✗ Encryption key: no PASSWORD_ENCRYPTION_KEY and no key file at {key_file}: the bot "
        "would make a new key at start, and waiting requests' passwords are lost whenever that "
        "file is"
    ]
    assert "set PASSWORD_ENCRYPTION_KEY" in output
    assert not key_file.exists()  # the check generated nothing


def test_an_existing_key_file_passes(services, tmp_path):
    key_file = tmp_path / "zoombot.key"
    key_file.write_text(Fernet.generate_key().decode())

    status, output = services.run(password_encryption_key=None, password_key_file=str(key_file))

    assert status == 0, output
    assert f"✓ Encryption key: kept in the key file {key_file}" in output


def test_comma_separated_keys_pass(services):
    status, output = services.run(password_encryption_key=f"{KEY}, {OLD_KEY}")

    assert status == 0, output
    assert "✓ Encryption key: PASSWORD_ENCRYPTION_KEY is set; 2 keys, the first encrypts" in output


def test_a_key_that_is_not_a_fernet_key_is_a_settings_problem(services, monkeypatch, capsys):
    monkeypatch.chdir(services.tmp_path)
    for name, value in services.values.items():
        monkeypatch.setenv(name.upper(), str(value))
    monkeypatch.setenv("PASSWORD_ENCRYPTION_KEY", f"{KEY},not-a-key")

    assert main([]) == 2
    output = capsys.readouterr().out
    assert "✗ PASSWORD_ENCRYPTION_KEY: key 2 is not a Fernet key" in output
    assert KEY not in output


def test_a_key_that_cannot_decrypt_a_waiting_password_fails(services):
    settings = services.settings()
    engine = make_engine(settings.database_url)
    with transaction(make_session_factory(engine)) as session:
        ciphertext = Fernet(OLD_KEY.encode()).encrypt(b"Xk9mQ2vLp7zR")
        session.add(
            SubaccountRequest(
                status="pending_approval", requester_id=REQUESTER, password_ciphertext=ciphertext
            )
        )
    engine.dispose()

    status, output = services.run()
    rotated_status, rotated_output = services.run(password_encryption_key=f"{KEY},{OLD_KEY}")

    assert status == 1
    assert "cannot decrypt the password of waiting request #1" in output
    assert "the new key, a comma, then the old one" in output
    assert rotated_status == 0, rotated_output


# -- secrets ----------------------------------------------------------------------------------


def test_no_secret_appears_in_any_output(services):
    secrets = (BOT_TOKEN, SIGNING_SECRET, ZOOM_SECRET, KEY, OLD_KEY)
    green = services.run(password_encryption_key=f"{KEY},{OLD_KEY}")[1]
    services.slack.set_bot_member(APPROVAL_CHANNEL, member=False)
    services.zoom.master_account = False
    broken = services.run(password_encryption_key=f"{OLD_KEY},{KEY}")[1]
    refused = services.run(slack_api_url=f"http://127.0.0.1:{closed_port()}/api/")[1]

    for output in (green, broken, refused):
        for secret in secrets:
            assert secret not in output


# -- the sandbox ------------------------------------------------------------------------------


def test_the_sandbox_setup_passes_every_check(tmp_path):
    with sandbox_services(tmp_path) as sandbox:
        out = io.StringIO()
        status = check(load_settings(sandbox.settings), out=out)

    assert status == 0, out.getvalue()
    assert failing(out.getvalue()) == []


def test_the_broken_sandbox_setup_names_each_problem(tmp_path):
    with sandbox_services(tmp_path) as sandbox:
        out = io.StringIO()
        status = check(break_everything(sandbox), out=out)
    output = out.getvalue()

    assert status == 1
    names = [line.split(":", 1)[0] for line in failing(output)]
    assert names == [
        "✗ Slack scopes",
        "✗ APPROVAL_CHANNEL CAPPROVALS",
        "✗ OPS_CHANNEL CNOSUCH01",
        "✗ REQUESTER_ALLOWLIST UNOBODY01",
        "✗ REQUESTER_ALLOWLIST UOLIVE01",
        "✗ REQUESTER_ALLOWLIST nobody@sandbox.example",
        "✗ APPROVER_ALLOWLIST SAPPROVERS",
        "✗ Zoom master account",
        "✗ Database",
        "✗ Encryption key",
    ]


def test_slack_failing_after_the_token_fails_the_remaining_lookups_at_once(services):
    services.slack.lose_answer_next("conversations.info")

    status, output = services.run()

    assert status == 1
    assert f"✗ APPROVAL_CHANNEL {APPROVAL_CHANNEL}: cannot reach Slack at SLACK_API_URL" in output
    assert len(failing(output)) == 7  # both channels and all five allowlist entries
    assert len(services.slack.calls_to("conversations.info")) == 1  # no call after the first


def test_a_refused_token_says_the_rest_waits_for_it(services):
    services.slack.bot_token = "xoxb-some-other-token"

    _, output = services.run()

    assert "the channels and allowlist entries are checked once the token works" in output
    assert "APPROVAL_CHANNEL" not in output

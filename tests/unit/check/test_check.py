"""`zoombot check`'s pieces: the vendored scope list matches manifest.json, the checklist's
rendering and scrubbing, and what the fakes were taught for it (scopes header, membership,
deactivated users, missing_scope, a non-master Zoom account)."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.check.manifest import BOT_SCOPES
from bot.check.report import failed, passed, render, scrub
from bot.db.migrate import PROJECT_ROOT
from sandbox.slack_emulator import SlackEmulator
from sandbox.zoom_simulator import ZoomSimulator

TOKEN = "xoxb-unit-token"


def test_the_vendored_scopes_are_manifest_jsons():
    manifest = json.loads((PROJECT_ROOT / "manifest.json").read_text())

    assert list(BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]


def test_render_marks_each_line_and_puts_the_fix_under_a_failure():
    text = render(
        [
            passed("Slack token", "valid"),
            failed("Database", "cannot connect", "check DATABASE_URL", "and the network"),
        ]
    )

    assert text.splitlines() == [
        "✓ Slack token: valid",
        "✗ Database: cannot connect",
        "    → check DATABASE_URL",
        "    → and the network",
        "",
        "1 of 2 checks failed.",
    ]


def test_render_says_when_every_check_passed():
    assert render([passed("a", "fine"), passed("b", "fine")]).endswith("All 2 checks passed.")


def test_scrub_replaces_every_secret_longest_first():
    text = scrub("token xoxb-abc-123 and xoxb-abc", ["xoxb-abc", "xoxb-abc-123", ""])

    assert text == "token [redacted] and [redacted]"


def test_render_scrubs_secrets_from_details_and_fixes():
    text = render([failed("Zoom", "said s3cret", "not s3cret")], secrets=["s3cret"])

    assert "s3cret" not in text
    assert text.count("[redacted]") == 2


# -- the Slack emulator ----------------------------------------------------------------------


@pytest.fixture
def slack():
    with SlackEmulator(bot_token=TOKEN) as emulator:
        emulator.add_user("UONE", email="one@example.com")
        emulator.add_channel("CONE", "general")
        yield emulator


def call(slack: SlackEmulator, method: str, token: str = TOKEN, **params: str) -> httpx.Response:
    return httpx.post(
        f"{slack.base_url}{method}", data=params, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.mark.parametrize("method", ["auth.test", "users.info", "chat.postMessage"])
def test_every_answer_to_a_valid_token_names_its_scopes(slack, method):
    response = call(slack, method, user="UONE", channel="CONE", text="hi")

    assert response.headers["x-oauth-scopes"].split(",") == list(BOT_SCOPES)


def test_the_granted_scopes_can_be_narrowed(slack):
    slack.granted_scopes = ("chat:write", "commands")

    assert call(slack, "auth.test").headers["x-oauth-scopes"] == "chat:write,commands"


def test_an_invalid_token_gets_no_scopes_header(slack):
    response = call(slack, "auth.test", token="xoxb-wrong")

    assert response.json()["error"] == "invalid_auth"
    assert "x-oauth-scopes" not in response.headers


def test_conversations_info_says_whether_the_bot_is_a_member(slack):
    before = call(slack, "conversations.info", channel="CONE").json()
    slack.set_bot_member("CONE", member=False)
    after = call(slack, "conversations.info", channel="CONE").json()

    assert before["channel"]["name"] == "general"
    assert before["channel"]["is_member"] is True
    assert after["channel"]["is_member"] is False


def test_conversations_info_does_not_know_an_unknown_channel(slack):
    answer = call(slack, "conversations.info", channel="CNONE").json()

    assert answer == {"ok": False, "error": "channel_not_found"}


def test_a_private_channel_the_bot_is_not_in_is_not_found(slack):
    slack.add_channel("GSECRET", "secret")
    slack.set_bot_member("GSECRET", member=False)

    assert call(slack, "conversations.info", channel="GSECRET").json()["error"] == (
        "channel_not_found"
    )


def test_a_deactivated_user_is_shown_deleted(slack):
    slack.deactivate_user("UONE")

    assert call(slack, "users.info", user="UONE").json()["user"]["deleted"] is True
    assert call(slack, "users.lookupByEmail", email="one@example.com").json()["user"]["deleted"]


@pytest.mark.parametrize(
    ("method", "params", "scope"),
    [
        ("users.info", {"user": "UONE"}, "users:read"),
        ("users.lookupByEmail", {"email": "one@example.com"}, "users:read.email"),
        ("usergroups.users.list", {"usergroup": "SONE"}, "usergroups:read"),
        ("conversations.info", {"channel": "CONE"}, "channels:read"),
        ("conversations.info", {"channel": "GONE"}, "groups:read"),
    ],
)
def test_a_lookup_without_its_scope_gets_missing_scope(slack, method, params, scope):
    slack.granted_scopes = tuple(each for each in BOT_SCOPES if each != scope)

    answer = call(slack, method, **params).json()

    assert answer["error"] == "missing_scope"
    assert answer["needed"] == scope


# -- the Zoom simulator -----------------------------------------------------------------------


def zoom_token(zoom: ZoomSimulator) -> str:
    response = httpx.post(
        zoom.oauth_url,
        auth=(zoom.client_id, zoom.client_secret),
        data={"grant_type": "account_credentials", "account_id": zoom.account_id},
    )
    return str(response.json()["access_token"])


def test_a_non_master_account_gets_a_token_but_no_account_list():
    with ZoomSimulator() as zoom:
        zoom.master_account = False
        token = zoom_token(zoom)
        response = httpx.get(
            f"{zoom.api_url}/accounts",
            params={"page_size": "1"},
            headers={"Authorization": f"Bearer {token}"},
        )

    assert response.status_code == 400
    assert response.json() == {"code": 200, "message": "No permission."}


def test_a_master_account_lists_one_page_of_one():
    with ZoomSimulator() as zoom:
        zoom.seed_account("a@example.com")
        zoom.seed_account("b@example.com")
        response = httpx.get(
            f"{zoom.api_url}/accounts",
            params={"page_size": "1"},
            headers={"Authorization": f"Bearer {zoom_token(zoom)}"},
        )

    assert response.status_code == 200
    assert response.json()["total_records"] == 2
    assert len(response.json()["accounts"]) == 1

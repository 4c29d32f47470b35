"""`/zoom-subaccount export`: an approver gets the audit log as a file in their DM, through the
real HTTP endpoint, with the file read back from the Slack emulator — never a password in it.
"""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.audit.export import CSV_COLUMNS
from bot.db.models import SlackOutbox, SubaccountRequest
from tests.flow.support import approve
from tests.harness import APPROVER, GOOD_PASSWORD, OUTSIDER, REQUESTER, BotHarness

YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
TODAY = datetime.now(UTC).date().isoformat()


def slash_export(bot: BotHarness, user_id: str, arguments: str = "") -> str:
    response = bot.slash(user_id, text=f"export {arguments}".strip())
    assert response.status_code == 200, response.text
    # A plain-text ack is shown to the caller only.
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def make_history(bot: BotHarness) -> dict[str, SubaccountRequest]:
    """A created request and a pending one, both with a typed password, and one 40 days old."""
    created = approve(bot, bot.submit_ok(email="made@example.com", password=GOOD_PASSWORD))
    pending = bot.submit_ok(email="waiting@example.com", password=GOOD_PASSWORD)
    old = bot.submit_ok(email="old@example.com")
    with bot.sessions.begin() as session:
        session.execute(
            update(SubaccountRequest)
            .where(SubaccountRequest.id == old.id)
            .values(created_at=datetime.now(UTC) - timedelta(days=40))
        )
    return {"created": created, "pending": bot.request(pending.id), "old": old}


def exported_file(bot: BotHarness, user_id: str = APPROVER) -> dict:
    bot.wait()
    return bot.slack.wait_for_file(lambda item: item["channel"] == f"D{user_id}")


def assert_no_secret(content: bytes, pending: SubaccountRequest) -> None:
    assert pending.password_ciphertext, "the pending request should still hold its ciphertext"
    assert GOOD_PASSWORD.encode() not in content
    assert bytes(pending.password_ciphertext) not in content


def as_exported(text: str) -> str:
    """A cell as the CSV holds it: one a spreadsheet would read as a formula starts with `'`
    (the simulator's random account ids start with `-` about one time in 64)."""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def test_approver_gets_the_last_30_days_as_csv_in_their_dm(bot):
    history = make_history(bot)

    ack = slash_export(bot, APPROVER)

    assert ack.startswith("Preparing your export")
    assert "(CSV)" in ack
    file = exported_file(bot)
    assert file["name"].startswith("zoombot-audit-")
    assert file["name"].endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(file["content"].decode("utf-8"))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    emails = {row["request_email"] for row in rows if row["record"] == "request"}
    assert emails == {"made@example.com", "waiting@example.com"}  # the old one is 40 days old
    made = [row for row in rows if row["request_email"] == "made@example.com"]
    assert {"submitted", "approved", "zoom_called"} <= {row["event_kind"] for row in made}
    assert {row["request_zoom_account_id"] for row in made} == {
        as_exported(history["created"].zoom_account_id)
    }
    assert_no_secret(file["content"], history["pending"])
    assert "2 requests" in file["initial_comment"]


def test_approver_gets_json_for_the_window_they_name(bot):
    history = make_history(bot)

    slash_export(bot, APPROVER, f"--since {YESTERDAY} --until {TODAY} --format json")

    file = exported_file(bot)
    assert file["name"] == f"zoombot-audit-{YESTERDAY}-to-{TODAY}.json"
    exported = json.loads(file["content"])
    assert exported["since"] == f"{YESTERDAY}T00:00:00+00:00"
    by_email = {request["email"]: request for request in exported["requests"]}
    assert set(by_email) == {"made@example.com", "waiting@example.com"}
    assert by_email["made@example.com"]["approvals"][0]["approver_id"] == APPROVER
    assert "password_ciphertext" not in by_email["waiting@example.com"]
    assert_no_secret(file["content"], history["pending"])


def test_the_export_is_audited_without_its_content(bot):
    make_history(bot)

    slash_export(bot, APPROVER, "--format json")
    exported_file(bot)

    (event,) = [event for event in bot.events(None) if event.kind == "exported"]
    assert (event.request_id, event.actor_id) == (None, APPROVER)
    assert event.detail["format"] == "json"
    assert (event.detail["requests"], event.detail["config_events"]) == (2, 3)
    assert event.detail["events"] > 0
    assert set(event.detail) == {"since", "until", "format", "requests", "events", "config_events"}


def test_the_upload_goes_to_the_dm_conversations_open_returned(bot):
    slash_export(bot, APPROVER)
    exported_file(bot)

    (opened,) = bot.slack.calls_to("conversations.open")
    assert opened.params["users"] == APPROVER
    (complete,) = bot.slack.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == f"D{APPROVER}"


@pytest.mark.parametrize("user_id", [REQUESTER, OUTSIDER])
def test_non_approvers_are_refused_and_the_attempt_is_logged(bot, user_id):
    bot.submit_ok()

    ack = slash_export(bot, user_id, "--format json")
    bot.wait()

    assert ack == "Only approvers can export the audit log. (This attempt was logged.)"
    assert bot.slack.uploaded_files() == []
    assert bot.slack.calls_to("files.getUploadURLExternal") == []
    (refused,) = [event for event in bot.events(None) if event.kind == "export_refused"]
    assert (refused.request_id, refused.actor_id) == (None, user_id)
    assert "exported" not in bot.event_kinds(None)


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ("--since 2026-13-01", "--since: '2026-13-01' is not a date"),
        ("--until yesterday", "--until: 'yesterday' is not a date"),
        ("--format xml", "invalid choice: 'xml'"),
        ("--since 2026-11-02 --until 2026-11-01", "--until must be later than --since"),
        ("everything", "unrecognized arguments: everything"),
    ],
)
def test_bad_arguments_get_one_usage_line_and_export_nothing(bot, arguments, problem):
    ack = slash_export(bot, APPROVER, arguments)
    bot.wait()

    assert problem in ack
    assert "Usage: `/zoom-subaccount export [--since YYYY-MM-DD]" in ack
    assert "\n" not in ack
    assert bot.slack.uploaded_files() == []
    assert bot.event_kinds(None).count("exported") == 0


@pytest.mark.parametrize(
    ("method", "error", "reason"),
    [
        ("files.completeUploadExternal", "not_in_channel", "could not post in your direct"),
        ("files.getUploadURLExternal", "missing_scope", "files:write"),
        ("files.completeUploadExternal", "invalid_arguments", "did not accept the file"),
        ("conversations.open", "user_not_found", "could not open a direct message"),
    ],
)
def test_a_failed_upload_is_explained_to_the_approver(bot, method, error, reason):
    bot.slack.fail_next(method, error)

    slash_export(bot, APPROVER)
    bot.wait()

    post = bot.slack.wait_for_response_post()
    text = post["body"]["text"]
    assert text.startswith(":warning: Your audit export could not be delivered: ")
    assert reason in text
    assert "Nothing was shared with anyone." in text
    assert post["body"]["response_type"] == "ephemeral"
    assert [item for item in bot.slack.uploaded_files() if item["channel"]] == []
    (failed,) = [event for event in bot.events(None) if event.kind == "export_failed"]
    assert failed.actor_id == APPROVER
    assert failed.detail["error"] == (error if method != "conversations.open" else "dm_unavailable")


def shares_of_the_export(bot: BotHarness) -> list[dict]:
    """Every message in the approver's DM that shares a file (one per share, not per file)."""
    return [m for m in bot.slack.channel_messages(f"D{APPROVER}") if m.get("files")]


@pytest.mark.parametrize(
    "fault",
    [
        "bytes_500",
        "complete_internal_error",
        "complete_503_after_sharing",
        "complete_answer_lost_after_sharing",
        "upload_url_ratelimited",
    ],
)
def test_an_export_that_slack_fails_for_a_moment_arrives_exactly_once(bot, fault):
    if fault == "bytes_500":
        bot.slack.fail_next_upload(status=500)
    elif fault == "complete_internal_error":
        bot.slack.fail_next("files.completeUploadExternal", "internal_error")
    elif fault == "complete_503_after_sharing":
        bot.slack.server_error_next("files.completeUploadExternal", status=503, acted=True)
    elif fault == "complete_answer_lost_after_sharing":
        bot.slack.lose_answer_next("files.completeUploadExternal")
    else:
        bot.slack.rate_limit_next("files.getUploadURLExternal", retry_after=1)

    slash_export(bot, APPROVER)
    exported_file(bot)
    bot.wait()

    assert len(shares_of_the_export(bot)) == 1
    assert "export_failed" not in bot.event_kinds(None)
    assert bot.slack.response_posts == []


def test_an_export_slack_answered_before_the_crash_is_looked_up_not_shared_again(bot):
    bot.slack.lose_answer_next("files.completeUploadExternal")

    slash_export(bot, APPROVER)
    exported_file(bot)
    bot.wait()

    assert len(bot.slack.calls_to("files.completeUploadExternal")) == 1
    assert len(bot.slack.calls_to("files.info")) == 1
    with bot.sessions() as session:
        (delivered,) = session.scalars(select(SlackOutbox).where(SlackOutbox.kind == "file"))
    assert delivered.status == "delivered"
    (shared,) = shares_of_the_export(bot)
    assert [delivered.payload["file_id"]] == [file["id"] for file in shared["files"]]


def test_help_mentions_export_to_approvers_only(bot):
    assert "/zoom-subaccount export [--since DATE]" in bot.slash(APPROVER, text="help").text
    assert "export" not in bot.slash(REQUESTER, text="help").text

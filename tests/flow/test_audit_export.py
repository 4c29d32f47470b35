"""`export`: requests made through the real bot, read back as CSV and JSON, never a password."""

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.audit.export import CSV_COLUMNS, main
from bot.db.models import SubaccountRequest
from tests.flow.support import approve
from tests.harness import (
    APPROVER,
    GOOD_PASSWORD,
    OUTSIDER,
    REQUESTER,
    running_bot,
)

ROOT = Path(__file__).resolve().parents[2]
EXPORT = "import sys; from bot.audit.export import main; sys.exit(main(sys.argv[1:]))"
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


@pytest.fixture
def history(database_url, tmp_path, monkeypatch):
    """A created, a rejected, a refused, a pending and an old request, made over HTTP."""
    with running_bot(database_url, tmp_path) as bot:
        created = approve(bot, bot.submit_ok(email="made@example.com"))
        rejected = bot.submit_ok(email="no@example.com")
        bot.click(APPROVER, rejected, action_id="reject_request")
        bot.submit(OUTSIDER)
        pending = bot.submit_ok(email="waiting@example.com")
        old = bot.submit_ok(email="old@example.com")
        bot.wait()
        with bot.sessions.begin() as session:
            session.execute(
                update(SubaccountRequest)
                .where(SubaccountRequest.id == old.id)
                .values(created_at=datetime.now(UTC) - timedelta(days=40))
            )
        ciphertext = bot.request(pending.id).password_ciphertext
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    return {
        "created": created,
        "rejected": rejected,
        "pending": pending,
        "old": old,
        "ciphertext": ciphertext,
    }


def run_main(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return captured.out


def test_json_export_holds_the_window_s_requests_with_their_events(history, capsys):
    exported = json.loads(run_main(capsys, "--since", YESTERDAY, "--format", "json"))

    requests = {row["email"] or row["status"]: row for row in exported["requests"]}
    assert set(requests) == {"made@example.com", "no@example.com", "denied", "waiting@example.com"}
    made = requests["made@example.com"]
    assert (made["status"], made["approver_id"], made["requester_id"]) == (
        "created",
        APPROVER,
        REQUESTER,
    )
    assert made["zoom_account_id"] == history["created"].zoom_account_id
    steps = [event["kind"] for event in made["events"] if event["kind"] != "slack_delivery"]
    assert steps == [
        "submitted",
        "posted",
        "approval",
        "approved",
        "zoom_called",
        "zoom_result",
        "notified",
    ]
    assert made["approvals"][0]["approver_id"] == APPROVER
    assert requests["no@example.com"]["status"] == "rejected"
    assert requests["denied"]["requester_id"] == OUTSIDER
    assert [c["setting"] for c in exported["config_events"]][:1] == ["REQUESTER_ALLOWLIST"]


def test_export_never_holds_a_password_or_its_ciphertext(history, capsys):
    for format_name in ("json", "csv"):
        text = run_main(capsys, "--since", YESTERDAY, "--format", format_name)

        assert GOOD_PASSWORD not in text
        assert history["ciphertext"].decode() not in text
        assert "password_ciphertext" not in text
        assert '"password": "********"' in text or '""password"": ""********""' in text


def test_csv_export_has_one_row_per_event_with_its_request(history, capsys):
    text = run_main(capsys, "--since", YESTERDAY, "--format", "csv")

    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    made = [row for row in rows if row["request_id"] == str(history["created"].id)]
    steps = [row["event_kind"] for row in made if row["event_kind"] != "slack_delivery"]
    assert steps[-1] == "notified"
    assert "slack_delivery" in [row["event_kind"] for row in made]  # every attempt exported
    assert {row["request_status"] for row in made} == {"created"}
    # Events of no request: only Slack delivery attempts of rows owed to nobody's request
    # (App Home refreshes).
    assert {row["record"] for row in rows} - {"event"} == {"request", "config"}
    assert {row["event_kind"] for row in rows if row["record"] == "event"} <= {"slack_delivery"}
    assert str(history["old"].id) not in {row["request_id"] for row in rows}


def test_until_leaves_out_later_requests(history, capsys):
    since = (datetime.now(UTC) - timedelta(days=50)).date().isoformat()
    until = (datetime.now(UTC) - timedelta(days=20)).date().isoformat()

    exported = json.loads(run_main(capsys, "--since", since, "--until", until, "--format", "json"))

    assert [row["id"] for row in exported["requests"]] == [history["old"].id]


def test_output_file_gets_the_export(history, capsys, tmp_path):
    target = tmp_path / "audit.json"

    assert run_main(capsys, "--since", YESTERDAY, "--format", "json", "--output", str(target)) == ""

    assert len(json.loads(target.read_text())["requests"]) == 4


def export_process(database_url, tmp_path, *argv, program=("-c", EXPORT)):
    return subprocess.run(  # noqa: S603 - our own interpreter running our own code
        [sys.executable, *program, *argv],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_export_runs_as_a_process_with_only_the_database_url(history, database_url, tmp_path):
    done = export_process(database_url, tmp_path, "--since", YESTERDAY, "--format", "csv")

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "made@example.com" in done.stdout


def test_app_py_export_is_the_same_tool(history, database_url, tmp_path):
    done = export_process(
        database_url,
        tmp_path,
        "export",
        "--since",
        YESTERDAY,
        "--format",
        "json",
        program=(str(ROOT / "app.py"),),
    )

    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["requests"]) == 4


def test_bad_date_exits_2_with_one_line(tmp_path):
    done = export_process("sqlite:///unused.db", tmp_path, "--since", "13/11", "--format", "csv")

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "zoombot export: --since: '13/11' is not a date (YYYY-MM-DD) or an ISO datetime "
        "(see zoombot export --help)"
    ]


def test_missing_sqlite_file_exits_1_without_creating_it(tmp_path):
    done = export_process(
        f"sqlite:///{tmp_path / 'none.db'}", tmp_path, "--since", "2026-01-01", "--format", "csv"
    )

    assert done.returncode == 1
    assert "no database file at" in done.stderr
    assert not (tmp_path / "none.db").exists()


def test_unreachable_database_exits_1_without_showing_the_url_s_password(tmp_path):
    url = "postgresql://auditor:hunter2-secret@127.0.0.1:1/audit"

    done = export_process(url, tmp_path, "--since", "2026-01-01", "--format", "json")

    assert done.returncode == 1
    assert "cannot read the audit log at DATABASE_URL (OperationalError)" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout

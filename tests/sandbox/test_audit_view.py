"""The sandbox's audit panel reader, on SQLite and PostgreSQL: the contract's columns, newest
first, JSON-ready, and never the password ciphertext."""

from __future__ import annotations

import json
from datetime import datetime

from sandbox.audit_view import AuditReader
from tests.harness import REQUESTER, running_bot

CONTRACT_REQUEST_COLUMNS = {
    "id",
    "status",
    "requester_id",
    "channel_id",
    "first_name",
    "last_name",
    "email",
    "account_name",
    "reason",
    "approver_id",
    "zoom_http_status",
    "zoom_error_code",
    "zoom_error_message",
    "zoom_account_id",
    "created_at",
    "updated_at",
}
CONTRACT_EVENT_COLUMNS = {"id", "request_id", "at", "actor_id", "kind", "detail"}


def read_audit(database_url: str) -> tuple[list[dict], list[dict]]:
    reader = AuditReader(database_url)
    try:
        return reader.requests(), reader.events()
    finally:
        reader.close()


def test_requests_appear_newest_first_with_the_contract_columns_only(database_url, tmp_path):
    with running_bot(database_url, tmp_path) as bot:
        first = bot.submit_ok(email="first@example.com")
        second = bot.submit_ok(email="second@example.com")
        requests, _ = read_audit(database_url)

    assert [row["id"] for row in requests] == [second.id, first.id]
    assert all(set(row) == CONTRACT_REQUEST_COLUMNS for row in requests)
    assert requests[0]["email"] == "second@example.com"
    assert requests[0]["status"] == "pending_approval"
    assert requests[0]["requester_id"] == REQUESTER


def test_events_appear_newest_first_with_detail_as_stored(database_url, tmp_path):
    with running_bot(database_url, tmp_path) as bot:
        request = bot.submit_ok()
        stored = bot.all_events(request.id)
        _, events = read_audit(database_url)

    assert all(set(row) == CONTRACT_EVENT_COLUMNS for row in events)
    assert [row["id"] for row in events] == sorted((event.id for event in stored), reverse=True)
    assert [row["detail"] for row in events] == [event.detail for event in reversed(stored)]
    assert events[-1]["kind"] == "submitted"


def test_a_waiting_password_ciphertext_is_never_read(database_url, tmp_path):
    with running_bot(database_url, tmp_path) as bot:
        request = bot.submit_ok(password="Xk9mQ2vLp7zR")
        assert request.password_ciphertext, "the test needs a stored ciphertext"
        ciphertext = request.password_ciphertext.decode()
        requests, events = read_audit(database_url)

    dumped = json.dumps({"requests": requests, "events": events})
    assert "password_ciphertext" not in dumped
    assert ciphertext not in dumped
    assert ciphertext[:20] not in dumped


def test_datetimes_are_iso_strings_in_utc(database_url, tmp_path):
    with running_bot(database_url, tmp_path) as bot:
        bot.submit_ok()
        requests, events = read_audit(database_url)

    for text in (requests[0]["created_at"], requests[0]["updated_at"], events[0]["at"]):
        assert isinstance(text, str)
        assert datetime.fromisoformat(text).utcoffset().total_seconds() == 0


def test_limits_keep_the_newest_rows(database_url, tmp_path):
    with running_bot(database_url, tmp_path) as bot:
        bot.submit_ok(email="first@example.com")
        newest = bot.submit_ok(email="second@example.com")
        reader = AuditReader(database_url)
        try:
            requests = reader.requests(limit=1)
            events = reader.events(limit=1)
            newest_event = bot.all_events(None)[-1]
        finally:
            reader.close()

    assert [row["id"] for row in requests] == [newest.id]
    assert [row["id"] for row in events] == [newest_event.id]

"""Tests of bot.audit.access_lists on SQLite and PostgreSQL: the access lists compared at start."""

import logging
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.audit.access_lists import audit_access_lists, canonical, record_list, record_lists
from bot.config import normalize_database_url
from bot.db.migrate import upgrade_to_head
from bot.db.models import ConfigEvent
from bot.db.session import make_engine, make_session_factory


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(normalize_database_url(database_url))
    upgrade_to_head(engine)
    yield make_session_factory(engine)
    engine.dispose()


def rows(sessions):
    with sessions() as session:
        return list(session.scalars(select(ConfigEvent).order_by(ConfigEvent.id)))


def test_first_start_records_each_list_as_the_baseline(sessions):
    changes = record_lists(
        sessions, {"REQUESTER_ALLOWLIST": ["U2", "U1"], "APPROVER_ALLOWLIST": []}
    )

    assert [(c.setting, c.version, c.kind, c.added) for c in changes] == [
        ("REQUESTER_ALLOWLIST", 1, "list_recorded", ["U1", "U2"]),
        ("APPROVER_ALLOWLIST", 1, "list_recorded", []),
    ]
    assert [(row.setting, row.entries, row.removed) for row in rows(sessions)] == [
        ("REQUESTER_ALLOWLIST", ["U1", "U2"], []),
        ("APPROVER_ALLOWLIST", [], []),
    ]


def test_unchanged_lists_record_nothing(sessions):
    record_lists(sessions, {"APPROVER_ALLOWLIST": ["U1", "S1", "ana@example.com"]})

    changes = record_lists(sessions, {"APPROVER_ALLOWLIST": ["ana@example.com", "S1", "U1"]})

    assert changes == []
    assert len(rows(sessions)) == 1


def test_a_change_records_what_was_added_and_removed_and_the_whole_list(sessions):
    record_list(sessions, setting="APPROVER_ALLOWLIST", entries=["U1", "U2"])

    change = record_list(sessions, setting="APPROVER_ALLOWLIST", entries=["U2", "U3", "S9"])

    assert change is not None
    assert (change.version, change.kind, change.added, change.removed) == (
        2,
        "list_changed",
        ["S9", "U3"],
        ["U1"],
    )
    latest = rows(sessions)[-1]
    assert (latest.version, latest.entries) == (2, ["U2", "U3", "S9"])
    assert latest.at is not None


def test_a_list_changed_back_is_a_change_again(sessions):
    for entries in (["U1"], ["U1", "U2"], ["U1"]):
        record_list(sessions, setting="APPROVER_ALLOWLIST", entries=entries)

    assert [(row.version, row.added, row.removed) for row in rows(sessions)] == [
        (1, ["U1"], []),
        (2, ["U2"], []),
        (3, [], ["U2"]),
    ]


def test_order_duplicates_and_email_case_are_not_changes():
    assert canonical(["U2", "Ana@Example.com", "U2", " U1"]) == ["U1", "U2", "ana@example.com"]


def test_instances_starting_at_once_record_a_change_once(database_url):
    url = normalize_database_url(database_url)
    engine = make_engine(url)
    upgrade_to_head(engine)
    first = make_session_factory(engine)
    record_list(first, setting="APPROVER_ALLOWLIST", entries=["U1"])
    instances = 6
    barrier = threading.Barrier(instances)
    results = []

    def start_instance():
        # Each "instance" has its own engine and pool, as separate processes would.
        own = make_engine(url)
        try:
            barrier.wait()
            change = record_list(
                make_session_factory(own), setting="APPROVER_ALLOWLIST", entries=["U1", "U2"]
            )
            results.append(change)
        finally:
            own.dispose()

    threads = [threading.Thread(target=start_instance) for _ in range(instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(results) == instances
    assert len([change for change in results if change is not None]) == 1
    assert [(row.version, row.added) for row in rows(first)] == [(1, ["U1"]), (2, ["U2"])]
    engine.dispose()


def test_audit_at_start_survives_a_database_without_the_table(tmp_path, caplog):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated
    lists = SimpleNamespace(
        requester_allowlist=["U1"], approver_allowlist=["U2"], escalation_approvers=[]
    )
    caplog.set_level(logging.WARNING, logger="bot.audit.access_lists")

    changes = audit_access_lists(make_session_factory(engine), lists)

    assert changes == []
    assert "could not audit the access lists (OperationalError)" in caplog.text
    engine.dispose()

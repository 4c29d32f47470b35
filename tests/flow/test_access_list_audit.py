"""Access-list changes are audited when the bot starts: once per change, however many start."""

import threading

from sqlalchemy import select

from bot.db.models import ConfigEvent
from tests.flow.support import approve
from tests.harness import APPROVER, OUTSIDER, REQUESTER, SECOND_APPROVER, running_bot


def config_events(bot):
    with bot.sessions() as session:
        return list(session.scalars(select(ConfigEvent).order_by(ConfigEvent.id)))


def test_first_start_records_the_configured_lists(database_url, tmp_path):
    with running_bot(database_url, tmp_path) as bot:
        recorded = [(row.setting, row.kind, row.entries) for row in config_events(bot)]

    assert recorded == [
        ("REQUESTER_ALLOWLIST", "list_recorded", [REQUESTER]),
        ("APPROVER_ALLOWLIST", "list_recorded", [APPROVER, SECOND_APPROVER]),
        ("ESCALATION_APPROVERS", "list_recorded", []),
    ]


def test_restart_with_the_same_lists_records_nothing(database_url, tmp_path):
    with running_bot(database_url, tmp_path):
        pass

    with running_bot(database_url, tmp_path) as bot:
        assert len(config_events(bot)) == 3


def test_restart_with_a_new_approver_records_the_change_and_the_approver_can_approve(
    database_url, tmp_path
):
    with running_bot(database_url, tmp_path):
        pass
    approvers = f"{APPROVER},{OUTSIDER}"  # SECOND_APPROVER removed, OUTSIDER added

    with running_bot(database_url, tmp_path, approver_allowlist=approvers) as bot:
        changed = [row for row in config_events(bot) if row.kind == "list_changed"]
        final = approve(bot, bot.submit_ok(), approver=OUTSIDER)

    assert [(row.setting, row.version, row.added, row.removed) for row in changed] == [
        ("APPROVER_ALLOWLIST", 2, [OUTSIDER], [SECOND_APPROVER])
    ]
    assert changed[0].entries == sorted([APPROVER, OUTSIDER])
    assert (final.status, final.approver_id) == ("created", OUTSIDER)


def test_instances_starting_together_record_a_change_once(database_url, tmp_path):
    with running_bot(database_url, tmp_path):
        pass
    instances = 3
    barrier = threading.Barrier(instances)
    seen = []

    def start_instance(number):
        barrier.wait()
        with running_bot(
            database_url, tmp_path / str(number), requester_allowlist=f"{REQUESTER},{OUTSIDER}"
        ) as bot:
            seen.append(config_events(bot))

    threads = [threading.Thread(target=start_instance, args=(n,)) for n in range(instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert len(seen) == instances
    changed = [(row.setting, row.added) for row in seen[-1] if row.kind == "list_changed"]
    assert changed == [("REQUESTER_ALLOWLIST", [OUTSIDER])]

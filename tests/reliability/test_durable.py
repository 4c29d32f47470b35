"""Issue 4, point 1: durable provisioning. Three `python app.py` instances share one PostgreSQL
database; every approved request is provisioned by exactly one of them, once, and the jobs of
an instance killed with SIGKILL are finished by the others without a second account."""

import time

import pytest

from tests.reliability.cluster import record_figures, wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

REQUESTS = 60
KILL_REQUESTS = 30
SETTLE_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="module")
def cluster(cluster_factory):
    return cluster_factory(
        3,
        zoom_rate_limit_per_second=20,
        zoom_timeout_seconds=3,
        provision_lease_seconds=1,
        provision_poll_seconds=0.1,
    )


def assert_one_account_each(cluster, rows):
    posts = cluster.posts_per_email()
    for row in rows:
        assert row.status == "created", (row.id, row.status, row.zoom_error_message)
        assert posts[row.email] == 1, (row.email, posts[row.email])
        assert row.zoom_account_id == cluster.zoom.created_accounts[row.email]["id"]
    assert 409 not in cluster.answers("POST")


def test_each_approved_request_is_provisioned_once_by_exactly_one_instance(cluster):
    cluster.zoom.delay_seconds = 0.1  # calls overlap, so due jobs queue up for every poller
    rows = cluster.submit_many(REQUESTS)
    started = time.monotonic()

    cluster.approve_all(rows, via=cluster.instances)
    final = cluster.wait_settled([row.id for row in rows], timeout=SETTLE_TIMEOUT_SECONDS)
    elapsed = time.monotonic() - started

    assert_one_account_each(cluster, final)
    kinds = {row.id: cluster.event_kinds(row.id) for row in final}
    assert {kinds[row.id].count("zoom_called") for row in final} == {1}
    assert {kinds[row.id].count("approved") for row in final} == {1}
    assert {kinds[row.id].count("zoom_result") for row in final} == {1}
    assert len(cluster.zoom.created_accounts) == REQUESTS
    by_instance = cluster.zoom_posts_by_instance()
    assert sum(by_instance.values()) == REQUESTS
    assert sum(1 for count in by_instance.values() if count) >= 2, by_instance
    secrets_checked = cluster.assert_no_secrets()
    record_figures(
        "1 durable provisioning",
        instances=len(cluster.instances),
        requests=REQUESTS,
        created=sum(row.status == "created" for row in final),
        zoom_called_events=sum(kinds[row.id].count("zoom_called") for row in final),
        zoom_posts=len(cluster.zoom.account_posts),
        accounts_at_zoom=len(cluster.zoom.created_accounts),
        max_posts_per_email=max(cluster.posts_per_email().values()),
        posts_by_instance=by_instance,
        seconds_from_approval_to_all_created=round(elapsed, 2),
        secrets_checked=secrets_checked,
        secret_sightings=len(cluster.secret_sightings()),
    )


def test_jobs_of_an_instance_killed_mid_batch_are_finished_by_the_others(cluster):
    # Slow enough that the victim still has creates in flight once every approval is recorded.
    cluster.zoom.delay_seconds = 1.0
    victim = cluster.instances[0]
    posts_before = len(cluster.zoom.account_posts)
    rows = cluster.submit_many(KILL_REQUESTS)

    cluster.approve_all(rows, via=[victim])
    ids = [row.id for row in rows]
    wait_until(
        lambda: all(row.status != "pending_approval" for row in cluster.requests(ids)),
        timeout=20,
        what="every approval to be recorded",
    )
    wait_until(
        lambda: any(
            cluster.instance_sending_from(post.client_port) is victim
            for post in cluster.zoom.account_posts[posts_before:][-8:]
        ),
        timeout=20,
        interval=0.01,
        what=f"{victim.name} to have a create in flight",
    )
    victim.kill()
    final = cluster.wait_settled(ids, timeout=SETTLE_TIMEOUT_SECONDS)
    victim.start()
    victim.wait_healthy()

    assert_one_account_each(cluster, final)
    kinds = {row.id: cluster.event_kinds(row.id) for row in final}
    reconciled = [row.id for row in final if "reconciled" in kinds[row.id]]
    assert reconciled, "the killed instance had a create in flight; it must be reconciled"
    # Only a request whose holder died may have been sent twice, after a lookup found nothing.
    for row in final:
        calls = kinds[row.id].count("zoom_called")
        assert calls == 1 or (calls == 2 and row.id in reconciled), (row.id, kinds[row.id])
    cluster.assert_no_secrets()
    record_figures(
        "1 durable provisioning, one instance killed mid-batch",
        requests=KILL_REQUESTS,
        created=sum(row.status == "created" for row in final),
        reconciled_after_kill=len(reconciled),
        found_at_zoom_by_lookup=sum(
            row.zoom_http_status == 200 for row in final if row.id in reconciled
        ),
        accounts_per_email_max=max(cluster.posts_per_email().values()),
        conflicts_409=cluster.answers("POST")[409],
    )

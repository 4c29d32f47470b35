"""Issue 4, point 2: crash recovery. The instance holding an in-flight create is killed with
SIGKILL and started again; the request is reconciled with GET /accounts?email — never
forgotten, never sent twice blindly.

What a create does when its client dies is not documented by Zoom, so fake Zoom is told which
reading to use (tests/fakes/zoom_api.py, `create_commit`):
- on_receipt: the account exists as soon as the request arrives → found → `created`;
- after_delay: the account appears when Zoom finishes (0.6 s later, within the bot's settle
  time of ZOOM_TIMEOUT_SECONDS) → found → `created`;
- if_client_waits: Zoom drops a create whose client went away → not found → sent once more;
- and the lookup itself failing (503, or Zoom unreachable) → `unknown`, said in the channel.
"""

import time
from collections import Counter
from dataclasses import dataclass

import pytest

from sandbox.zoom_simulator import CREATE_AFTER_DELAY, CREATE_IF_CLIENT_WAITS, CREATE_ON_RECEIPT
from tests.harness import APPROVER
from tests.reliability.cluster import free_port, record_figures, wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

CYCLES = 20
ZOOM_TIMEOUT_SECONDS = 1.0  # also how long the bot lets a dead holder's create settle
LEASE_SECONDS = 0.6
SLOW_CREATE_SECONDS = 0.6  # far longer than finding the holder and killing it takes
# Every request must end created/unknown this long after its holder was killed.
SETTLE_BOUND_SECONDS = 15.0
SETTINGS = {
    "zoom_timeout_seconds": ZOOM_TIMEOUT_SECONDS,
    "provision_lease_seconds": LEASE_SECONDS,
    "provision_poll_seconds": 0.1,
}


@dataclass(frozen=True)
class Scenario:
    name: str
    commit: str
    lookup_fails: bool = False

    @property
    def expected_status(self):
        return "unknown" if self.lookup_fails else "created"

    @property
    def expected_posts(self):
        return 2 if self.commit == CREATE_IF_CLIENT_WAITS else 1


SCENARIOS = [
    Scenario("created at receipt, found", CREATE_ON_RECEIPT),
    Scenario("created after the delay, found", CREATE_AFTER_DELAY),
    Scenario("dropped with its client, sent once more", CREATE_IF_CLIENT_WAITS),
    Scenario("lookup fails (503), unknown", CREATE_ON_RECEIPT, lookup_fails=True),
]


@dataclass
class Outcome:
    scenario: Scenario
    request_id: int
    email: str
    status: str
    posts: int
    settle_seconds: float
    holder: str
    problems: list


@pytest.fixture(scope="module")
def cluster(cluster_factory):
    return cluster_factory(3, **SETTINGS)


def serving(cluster):
    """Instances answering now (a restarted one may still be starting)."""
    ready = []
    for instance in cluster.alive():
        try:
            if instance.health().status_code == 200:
                ready.append(instance)
        except Exception:  # noqa: BLE001, S112 - still starting: not serving yet
            continue
    return ready


def send_create_and_kill_its_holder(cluster, row, via):
    """Approve `row` through `via`; once its create reaches fake Zoom, SIGKILL the sender."""
    posts_before = len(cluster.zoom.account_posts)
    assert cluster.react(via, APPROVER, row).status_code == 200
    post = wait_until(
        lambda: next(
            (p for p in cluster.zoom.account_posts[posts_before:] if p.body["email"] == row.email),
            None,
        ),
        timeout=10,
        interval=0.005,
        what=f"the create of request {row.id}",
    )
    holder = wait_until(
        lambda: cluster.instance_sending_from(post.client_port),
        timeout=SLOW_CREATE_SECONDS * 0.8,
        interval=0.005,
        what="the instance holding the in-flight create",
    )
    holder.kill()
    answered = [answer for answer in cluster.zoom.answered if answer.email == row.email]
    assert answered == [], "killed too late: Zoom had already answered (a slow machine?)"
    return holder


def crash_cycle(cluster, number, scenario):
    ready = wait_until(lambda: serving(cluster), timeout=30, what="a serving instance")
    row = cluster.submit_many(1, via=[ready[number % len(ready)]])[0]
    cluster.zoom.create_commit = scenario.commit
    cluster.zoom.delay_seconds = SLOW_CREATE_SECONDS
    lists_before = len(cluster.zoom.account_lists)
    if scenario.lookup_fails:
        cluster.zoom.queue_list_response(503, {"code": 503, "message": "Service unavailable."})

    holder = send_create_and_kill_its_holder(cluster, row, ready[(number + 1) % len(ready)])
    killed_at = time.monotonic()
    cluster.zoom.delay_seconds = 0.0
    holder.start()  # "start it again"; any instance may pick the job up once its lease lapses
    try:
        (final,) = cluster.wait_settled(
            [row.id], timeout=SETTLE_BOUND_SECONDS, statuses=("created", "unknown", "failed")
        )
    except AssertionError:
        final = cluster.request(row.id)
    settle_seconds = time.monotonic() - killed_at
    outcome = Outcome(
        scenario=scenario,
        request_id=row.id,
        email=row.email,
        status=final.status,
        posts=cluster.posts_per_email()[row.email],
        settle_seconds=settle_seconds,
        holder=holder.name,
        problems=check_cycle(cluster, scenario, final, lists_before),
    )
    holder.wait_healthy()
    return outcome


def check_cycle(cluster, scenario, row, lists_before):
    """Everything wrong with this cycle's outcome (empty when it went as the reading says)."""
    problems = []
    kinds = cluster.event_kinds(row.id)
    account = cluster.zoom.created_accounts.get(row.email)

    def expect(condition, text):
        if not condition:
            problems.append(text)

    expect(row.status == scenario.expected_status, f"status {row.status}")
    expect(cluster.posts_per_email()[row.email] == scenario.expected_posts, "POSTs")
    expect(account is not None, "no account at Zoom")
    expect(len(cluster.zoom.account_lists) > lists_before, "Zoom was never asked")
    expect(kinds.count("reconciled") == (0 if scenario.lookup_fails else 1), f"events {kinds}")
    expect(kinds.count("zoom_called") == scenario.expected_posts, f"events {kinds}")
    replies = cluster.thread_replies(row)
    if scenario.lookup_fails:
        told = [text for text in replies if "could not be asked whether it worked" in text]
        expect(len(told) == 1 and "may or may not have been created" in told[0], "channel")
        expect(all("does not understand" not in text for text in told), "dishonest message")
        expect(row.zoom_account_id is None, "an id without an answer")
    else:
        expect(account is not None and row.zoom_account_id == account["id"], "account id")
        told = [text for text in replies if "*Created*" in text]
        expect(len(told) == 1 and account is not None and account["id"] in told[0], "channel")
    if scenario.commit == CREATE_IF_CLIENT_WAITS:
        expect(cluster.zoom.lost_creates.count(row.email) == 1, "the first create was not lost")
    expect(row.password_ciphertext is None and row.claimed_by is None, "job not finished")
    return problems


def test_twenty_kill_and_restart_cycles_leave_no_duplicate_and_nothing_stuck(cluster):
    outcomes = [
        crash_cycle(cluster, number, SCENARIOS[number % len(SCENARIOS)]) for number in range(CYCLES)
    ]

    failed = {o.request_id: (o.scenario.name, o.problems) for o in outcomes if o.problems}
    stuck = [o.request_id for o in outcomes if o.status not in ("created", "unknown")]
    posts = cluster.posts_per_email()
    resent = sum(o.posts - 1 for o in outcomes)
    conflicts = cluster.answers("POST")[409]
    created_201 = Counter(
        answer.email for answer in cluster.zoom.answered if answer.status == 201 and answer.email
    )
    assert stuck == []
    assert conflicts == 0
    assert failed == {}
    assert max(posts.values()) <= 2
    assert len(cluster.zoom.created_accounts) == CYCLES
    # Exactly one create per email was answered 201 (even when the killed instance never read
    # that answer); a second one would have been a 409.
    assert len(created_201) == CYCLES
    assert set(created_201.values()) == {1}
    secrets_checked = cluster.assert_no_secrets()
    record_figures(
        "2 crash recovery",
        cycles=len(outcomes),
        kills=sum(instance.kills for instance in cluster.instances),
        restarts=sum(instance.starts - 1 for instance in cluster.instances),
        by_scenario=dict(Counter(o.scenario.name for o in outcomes)),
        statuses=dict(Counter(o.status for o in outcomes)),
        max_creates_answered_201_per_email=max(created_201.values()),
        conflicts_409=conflicts,
        resent_after_lookup_found_nothing=resent,
        stuck=len(stuck),
        max_seconds_kill_to_outcome=round(max(o.settle_seconds for o in outcomes), 2),
        bound_seconds=SETTLE_BOUND_SECONDS,
        holders=dict(Counter(o.holder for o in outcomes)),
        secrets_checked=secrets_checked,
    )


@pytest.fixture(scope="module")
def lone(cluster_factory):
    """One instance: only its own restart can pick the interrupted job up."""
    return cluster_factory(1, **SETTINGS)


def test_a_lone_instance_killed_mid_create_reconciles_it_once_restarted(lone):
    (instance,) = lone.instances
    (row,) = lone.submit_many(1)
    lone.zoom.delay_seconds = SLOW_CREATE_SECONDS

    send_create_and_kill_its_holder(lone, row, instance)
    lone.zoom.delay_seconds = 0.0
    time.sleep(LEASE_SECONDS * 2)
    assert lone.request(row.id).status == "provisioning"  # nobody else to pick it up
    instance.start()
    (final,) = lone.wait_settled([row.id], timeout=SETTLE_BOUND_SECONDS)

    assert final.zoom_account_id == lone.zoom.created_accounts[row.email]["id"]
    assert lone.posts_per_email()[row.email] == 1
    assert lone.event_kinds(row.id).count("reconciled") == 1
    lone.assert_no_secrets()


def test_zoom_unreachable_during_reconciliation_gives_unknown_and_tells_the_channel(lone):
    (instance,) = lone.instances
    instance.wait_healthy()
    (row,) = lone.submit_many(1)
    lone.zoom.delay_seconds = SLOW_CREATE_SECONDS

    send_create_and_kill_its_holder(lone, row, instance)
    lone.zoom.delay_seconds = 0.0
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    instance.start(ZOOM_API_URL=f"{dead}/v2", ZOOM_OAUTH_URL=f"{dead}/oauth/token")
    (final,) = lone.wait_settled(
        [row.id], timeout=SETTLE_BOUND_SECONDS, statuses=("unknown", "created")
    )

    assert final.status == "unknown"
    assert lone.posts_per_email()[row.email] == 1  # not sent again
    (told,) = [text for text in lone.thread_replies(final) if "could not be asked" in text]
    assert "may or may not have been created" in told
    assert "ZoomUnreachable" in told
    assert "does not understand" not in told  # no answer came at all
    (origin,) = [text for text in lone.channel_posts(final.channel_id) if f"#{row.id}:" in text]
    assert "may or may not have been created" in origin
    assert row.email in lone.zoom.created_accounts  # so `unknown`, not `failed`, is the truth
    lone.assert_no_secrets()
    instance.stop()
    instance.start()
    instance.wait_healthy()

"""Issue 4, point 4: Zoom trouble. A rate limit shared by three instances against a fake Zoom
that throttles hard (429 + Retry-After past its own limit); 5xx and timeouts that leave the
outcome unknown and say so; an expired token refreshed without re-sending a create."""

import time
from collections import Counter

import pytest

from tests.harness import APPROVER
from tests.reliability.cluster import max_in_window, record_figures

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

RATE_PER_SECOND = 10
ZOOM_TIMEOUT_SECONDS = 2.0
# Tolerance of the rate check. The bot spaces calls exactly 1/rate apart, so the (rate+1)th
# call sits on the edge of a 1-second window: the first call arriving a few ms late (a thread
# woken late on a busy 2-core machine) brings it inside. So calls are counted over windows one
# slot (100 ms at 10/s) shorter than a second; the raw 1-second maximum is reported as well.
JITTER_TOLERANCE_SECONDS = 0.1
# Each instance's first create waits this long for its token, so all approvals are recorded
# before any create goes out: what is timed is the bot's pacing, not the burst of 50 approvals
# competing for the test machine's two cores.
TOKEN_HOLD_SECONDS = 1.5


@pytest.fixture(scope="module")
def cluster(cluster_factory):
    return cluster_factory(
        3,
        zoom_rate_limit_per_second=RATE_PER_SECOND,
        zoom_timeout_seconds=ZOOM_TIMEOUT_SECONDS,
        provision_lease_seconds=1,
        provision_poll_seconds=0.1,
    )


@pytest.fixture(autouse=True)
def zoom_behaves(cluster):
    yield
    cluster.zoom.rate_limit_per_second = None
    cluster.zoom.delay_seconds = 0.0
    cluster.zoom.token_delay_seconds = 0.0


def post_times(cluster, rows):
    emails = {row.email for row in rows}
    return [post.at for post in cluster.zoom.account_posts if post.body["email"] in emails]


def created_once_each(cluster, rows):
    """Fake Zoom keeps one account per email and answers 409 to a second create of it."""
    accounts = cluster.zoom.created_accounts
    return 409 not in cluster.answers("POST") and all(
        row.zoom_account_id == accounts[row.email]["id"] for row in rows
    )


def statuses_for(cluster, rows):
    """How fake Zoom answered the creates of `rows`: 201 once each, and what else it said."""
    emails = {row.email for row in rows}
    return Counter(a.status for a in cluster.zoom.answered if is_post(a) and a.email in emails)


def posts_answers(cluster, email):
    """Statuses fake Zoom answered to the creates for `email`, in the order it answered."""
    answers = sorted(cluster.zoom.answered, key=lambda answer: answer.at)
    return [answer.status for answer in answers if is_post(answer) and answer.email == email]


def is_post(answer):
    return answer.method == "POST" and answer.path == "/v2/accounts"


def run_batch(cluster, count, *, zoom_limit):
    cluster.zoom.rate_limit_per_second = zoom_limit
    cluster.zoom.token_delay_seconds = TOKEN_HOLD_SECONDS
    cluster.zoom.expire_tokens()  # a token held from an earlier test is refused (401), renewed
    throttled_before = cluster.zoom.throttled
    rows = cluster.submit_many(count)
    started = time.monotonic()
    cluster.approve_all(rows, via=cluster.instances)
    final = cluster.wait_settled([row.id for row in rows], timeout=120)
    elapsed = time.monotonic() - started
    times = post_times(cluster, rows)
    return final, times, elapsed, cluster.zoom.throttled - throttled_before


def test_fifty_requests_under_a_shared_rate_limit_are_created_once_within_the_rate(cluster):
    final, times, elapsed, throttled = run_batch(cluster, 50, zoom_limit=RATE_PER_SECOND)

    assert [row.status for row in final] == ["created"] * 50
    assert created_once_each(cluster, final)
    assert len({row.zoom_account_id for row in final}) == 50
    assert 409 not in cluster.answers("POST")
    # The rate seen at Zoom is a measured figure, not an assertion: the fake stamps a POST when
    # its handler thread runs, in a test process that shares two cores with three instances, so
    # a stall there bunches timestamps. The spacing the bot itself keeps is asserted without a
    # clock in tests/unit/provisioning/test_ratelimit.py.
    tolerant = max_in_window(times, 1.0 - JITTER_TOLERANCE_SECONDS)
    # Zoom's window is strict, so jitter may still draw the odd 429; each one costs a retry
    # that waits for a slot of its own, never a burst. (401s: a token held from before.)
    statuses = statuses_for(cluster, final)
    assert statuses[201] == 50
    assert set(statuses) <= {201, 401, 429}
    assert sum(statuses.values()) == len(times)
    cluster.assert_no_secrets()
    record_figures(
        "4 rate limit (fake Zoom limit = bot limit)",
        requests=50,
        created=sum(row.status == "created" for row in final),
        set_rate_per_second=RATE_PER_SECOND,
        max_posts_in_any_1s_window=max_in_window(times, 1.0),
        max_posts_in_any_900ms_window=tolerant,
        answered_429=throttled,
        duplicates_409=cluster.answers("POST")[409],
        answers=dict(statuses),
        seconds_first_to_last_post=round(max(times) - min(times), 2),
        seconds_approval_to_all_created=round(elapsed, 2),
    )


def test_a_zoom_stricter_than_the_bot_throttles_but_every_request_is_created_once(cluster):
    zoom_limit = RATE_PER_SECOND // 2
    final, times, elapsed, throttled = run_batch(cluster, 20, zoom_limit=zoom_limit)

    assert [row.status for row in final] == ["created"] * 20
    assert throttled > 0  # the point of this test: Zoom did say 429
    assert created_once_each(cluster, final)
    assert 409 not in cluster.answers("POST")
    requeued = sum(cluster.event_kinds(row.id).count("requeued") for row in final)
    cluster.assert_no_secrets()
    record_figures(
        "4 rate limit (fake Zoom limit = half the bot limit)",
        requests=20,
        created=sum(row.status == "created" for row in final),
        fake_zoom_limit_per_second=zoom_limit,
        answered_429=throttled,
        jobs_requeued_after_429=requeued,
        max_posts_in_any_1s_window=max_in_window(times, 1.0),
        seconds_approval_to_all_created=round(elapsed, 2),
    )


def provision_one(cluster):
    (row,) = cluster.submit_many(1)
    assert cluster.react(cluster.instances[0], APPROVER, row).status_code == 200
    (final,) = cluster.wait_settled([row.id], timeout=30, statuses=("created", "failed", "unknown"))
    return final


def test_a_429_outlasting_the_client_retries_requeues_the_job_and_creates_once(cluster):
    for _ in range(4):  # the first try and the client's three retries
        cluster.zoom.queue_response(
            429, {"code": 429, "message": "Too many requests."}, {"Retry-After": "0.1"}
        )

    row = provision_one(cluster)

    assert row.status == "created"
    assert posts_answers(cluster, row.email) == [429, 429, 429, 429, 201]
    kinds = cluster.event_kinds(row.id)
    assert kinds.count("requeued") == 1
    assert "reconciled" not in kinds  # a 429 created nothing: nothing to look up
    assert sum("*Created*" in text for text in cluster.thread_replies(row)) == 1
    assert not [text for text in cluster.thread_replies(row) if "did not confirm" in text]
    cluster.assert_no_secrets()


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_leaves_the_request_unknown_and_says_so_honestly(cluster, status):
    cluster.zoom.queue_response(status, {"code": status, "message": "Internal server error."})

    row = provision_one(cluster)

    assert row.status == "unknown"
    assert row.zoom_http_status == status
    assert cluster.posts_per_email()[row.email] == 1  # never re-sent blindly
    (told,) = [text for text in cluster.thread_replies(row) if "did not confirm" in text]
    assert "Zoom had an internal error" in told
    assert "may or may not have been created" in told
    assert f"HTTP {status}" in told
    cluster.assert_no_secrets()


def test_a_timeout_leaves_the_request_unknown_and_says_so_honestly(cluster):
    cluster.zoom.delay_seconds = ZOOM_TIMEOUT_SECONDS + 1.5

    row = provision_one(cluster)

    assert row.status == "unknown"
    assert cluster.posts_per_email()[row.email] == 1
    (told,) = [text for text in cluster.thread_replies(row) if "did not confirm" in text]
    assert "Zoom did not answer in time" in told
    assert "may or may not have been created" in told
    # Fake Zoom created it while the bot gave up waiting: "unknown" is the honest status.
    assert row.email in cluster.zoom.created_accounts
    cluster.assert_no_secrets()


def tokens_fetched(cluster):
    return {
        instance.name: instance.output().count("Fetched a Zoom access token")
        for instance in cluster.instances
    }


def test_an_expired_token_is_refreshed_and_the_create_is_not_sent_again(cluster):
    cluster.zoom.queue_response(401, {"code": 124, "message": "Invalid access token."})
    fetched_before = tokens_fetched(cluster)

    row = provision_one(cluster)
    time.sleep(1.5)  # a lease and more: time for any stray re-send to show

    assert row.status == "created"
    assert row.zoom_account_id == cluster.zoom.created_accounts[row.email]["id"]
    # The refused POST and its one replay with a new token; nothing after the 201.
    assert cluster.posts_per_email()[row.email] == 2
    assert posts_answers(cluster, row.email) == [401, 201]
    fetched = {
        name: count - fetched_before[name] for name, count in tokens_fetched(cluster).items()
    }
    (runner,) = [name for name, count in fetched.items() if count]
    # One new token for the refresh (plus the first one, if that instance had none yet).
    assert fetched[runner] == 1 + (fetched_before[runner] == 0)
    assert sum("*Created*" in text for text in cluster.thread_replies(row)) == 1
    cluster.assert_no_secrets()
    record_figures(
        "4 token refresh (401/124)",
        posts_for_the_request=cluster.posts_per_email()[row.email],
        answers=posts_answers(cluster, row.email),
        tokens_fetched=fetched[runner],
    )

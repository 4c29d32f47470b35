"""The bot as the Procfile runs it: a `web:` process (gunicorn 'app:wsgi()', role WEB: verify,
write, ack, owe Slack messages as `slack_outbox` rows) and any number of `worker:` processes
(`python app.py worker`: deliver the rows, beat a heartbeat). All of them real processes on one
PostgreSQL database, fake Slack in the test process.

1. A web process with no worker answers, stores and acks, says on /healthz that no worker is
   alive, and leaves the outbox row pending; a worker started later posts it, once.
2. A worker killed with SIGKILL while Slack holds back the answer to the approval post it
   made: the other worker takes the row over once the holder's heartbeat is stale, finds the
   message by its metadata (conversations.history) and does not post it again.
3. Three workers and a burst of requests: every approval message is posted once and every
   outbox row is delivered once.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections import Counter
from contextlib import suppress
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.db.models import RequestEvent, SlackOutbox, WorkerHeartbeat
from tests.harness import APPROVAL_CHANNEL
from tests.reliability.cluster import (
    APP,
    ROOT,
    START_TIMEOUT_SECONDS,
    Cluster,
    Instance,
    all_at_once,
    free_port,
    record_figures,
    wait_until,
)

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

METADATA_TYPE = "zoombot_outbox"  # what bot/delivery/posting.py tags its posts with
HEALTHY = {"status": "ok", "database": "ok", "worker": "ok", "outbox": "ok"}
# A worker's first heartbeat comes before it claims anything (bot/delivery/worker.py).
WORKER_START_TIMEOUT_SECONDS = START_TIMEOUT_SECONDS
# Long enough for the web process to have handed the row to a worker, were it (wrongly) one:
# its delivery loop, if any, would poll within a second (DeliveryWorker.poll_seconds).
NO_WORKER_WATCH_SECONDS = 3.0
# The holder's heartbeat lapses after heartbeats.HOLDER_SILENT_SECONDS (12 s); then a poll (1 s),
# a look-up and a commit. Generous, as CI machines are slow; it only bounds a failing run.
TAKEOVER_TIMEOUT_SECONDS = 60.0
BURST = 20


# -- processes as the Procfile starts them ------------------------------------------------------


def procfile_line(process_type: str) -> tuple[dict[str, str], list[str]]:
    """The Procfile's line for `process_type`, split as a shell would (without expansions):
    the variables it sets in front of the command (NAME=value), and the command."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            words = shlex.split(command)
            env = {}
            while words and "=" in words[0] and words[0].split("=")[0].isidentifier():
                variable, _, value = words.pop(0).partition("=")
                env[variable] = value
            return env, words
    raise AssertionError(f"the Procfile has no {process_type}: line")


def procfile_command(process_type: str) -> list[str]:
    return procfile_line(process_type)[1]


def run_release(cluster: Cluster) -> None:
    """The `release:` line, once, as a platform runs it before starting web and workers
    (which do not migrate: the Procfile sets AUTO_MIGRATE=false for them)."""
    env, words = procfile_line("release")
    assert words == ["alembic", "upgrade", "head"], words
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "alembic", *words[1:]],
        cwd=ROOT,
        env={**_base_env(cluster), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def web_command(port: int) -> list[str]:
    """The `web:` line with one gunicorn worker bound to loopback on `port`, run by this
    interpreter from the repository root (where `app` is importable)."""
    words = procfile_command("web")
    assert words[0] == "gunicorn", words
    assert words[-1] == "app:wsgi()", words
    command = [sys.executable, "-m", "gunicorn", "--chdir", str(ROOT)]
    rest = iter(words[1:])
    for word in rest:
        if word in ("--workers", "-w"):
            next(rest)
            command += [word, "1"]
        elif word in ("--bind", "-b"):
            next(rest)
            command += [word, f"127.0.0.1:{port}"]
        else:
            command.append(word)
    assert "--bind" in command or "-b" in command, command
    return command


def worker_command() -> list[str]:
    words = procfile_command("worker")
    assert words == ["python", "app.py", "worker"], words
    return [sys.executable, str(APP), "worker"]


def add_process(cluster: Cluster, name: str, command: list[str], port: int) -> Instance:
    """An instance of the cluster (so the cluster stops it) running `command`, with what the
    Procfile's line for it sets."""
    env = {**cluster.instances[0].env} if cluster.instances else _base_env(cluster)
    env.update(procfile_line(name.rstrip("0123456789"))[0])
    env["PORT"] = str(port)
    instance = Instance(name=name, port=port, env=env, workdir=cluster.workdir, command=command)
    cluster.instances.append(instance)
    return instance


def _base_env(cluster: Cluster) -> dict[str, str]:
    # As Cluster._instance builds it: only these, so nothing of the test run leaks in.
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(cluster.workdir),
        "LANG": "C.UTF-8",
        **cluster.settings,
    }


def start_web(cluster: Cluster) -> Instance:
    port = free_port()
    web = add_process(cluster, "web", web_command(port), port)
    web.start()
    wait_until(
        lambda: _answers(web),
        timeout=START_TIMEOUT_SECONDS,
        interval=0.1,
        what=f"the web process to answer /healthz:\n{web.output()[-3000:]}",
    )
    return web


def _answers(instance: Instance) -> bool:
    """Whether /healthz answers at all (503 included); fails at once if the process died."""
    if not instance.alive():
        raise AssertionError(f"{instance.name} exited:\n{instance.output()[-3000:]}")
    with suppress(httpx.TransportError):
        instance.health()
        return True
    return False


def start_workers(cluster: Cluster, count: int) -> list[Instance]:
    first = sum(instance.name.startswith("worker") for instance in cluster.instances) + 1
    workers = [
        add_process(cluster, f"worker{number}", worker_command(), free_port())
        for number in range(first, first + count)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        wait_until(
            lambda worker=worker: _beating(cluster, worker),
            timeout=WORKER_START_TIMEOUT_SECONDS,
            interval=0.1,
            what=f"{worker.name} to write its first heartbeat",
        )
    return workers


def _beating(cluster: Cluster, worker: Instance) -> bool:
    if not worker.alive():
        raise AssertionError(f"{worker.name} exited:\n{worker.output()[-3000:]}")
    return worker.pid in heartbeats(cluster).values()


def stop_all(cluster: Cluster) -> None:
    for instance in cluster.instances:
        instance.stop()


# -- reading the database and fake Slack ---------------------------------------------------


def heartbeats(cluster: Cluster) -> dict[str, int]:
    """worker_id → pid of every heartbeat row."""
    with cluster.sessions() as session:
        return {beat.worker_id: beat.pid for beat in session.scalars(select(WorkerHeartbeat))}


def outbox_rows(cluster: Cluster, **where: Any) -> list[SlackOutbox]:
    query = select(SlackOutbox).filter_by(**where).order_by(SlackOutbox.id)
    with cluster.sessions() as session:
        return list(session.scalars(query))


def approval_row(cluster: Cluster, request_id: int) -> SlackOutbox:
    rows = outbox_rows(cluster, request_id=request_id, kind="request_post")
    assert len(rows) == 1, [(row.id, row.status) for row in rows]
    return rows[0]


def delivery_results(cluster: Cluster) -> dict[int, Counter[str]]:
    """outbox_id → how many slack_delivery events of each result it has."""
    with cluster.sessions() as session:
        details = session.scalars(
            select(RequestEvent.detail).where(RequestEvent.kind == "slack_delivery")
        ).all()
    results: dict[int, Counter[str]] = {}
    for detail in details:
        results.setdefault(int(detail["outbox_id"]), Counter())[str(detail["result"])] += 1
    return results


def outbox_id_of(metadata: Any) -> int | None:
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    if not isinstance(metadata, dict) or metadata.get("event_type") != METADATA_TYPE:
        return None
    payload = metadata.get("event_payload") or {}
    return payload.get("outbox_id")


def messages_of(cluster: Cluster, outbox_id: int) -> list[dict[str, Any]]:
    """The messages in fake Slack's workspace tagged as posts of outbox row `outbox_id`."""
    return [
        message
        for message in cluster.slack.messages_with_metadata(METADATA_TYPE)
        if outbox_id_of(message["metadata"]) == outbox_id
    ]


def posts_of(cluster: Cluster, outbox_id: int) -> list[Any]:
    """chat.postMessage calls fake Slack received for outbox row `outbox_id` (any answer)."""
    return [
        call
        for call in cluster.slack.calls_to("chat.postMessage")
        if outbox_id_of(call.params.get("metadata")) == outbox_id
    ]


def wait_delivered(cluster: Cluster, outbox_id: int, timeout: float) -> SlackOutbox:
    def delivered() -> SlackOutbox | None:
        (row,) = outbox_rows(cluster, id=outbox_id)
        assert row.status != "failed", (row.id, row.last_error)
        return row if row.status == "delivered" else None

    result: SlackOutbox = wait_until(
        delivered, timeout=timeout, interval=0.1, what=f"outbox row {outbox_id} to be delivered"
    )
    return result


def assert_posted_once(cluster: Cluster, request_id: int) -> dict[str, Any]:
    """The request's approval message exists once in the approval channel, was posted by one
    chat.postMessage, and is the message the request names; returns it."""
    post = approval_row(cluster, request_id)
    found = messages_of(cluster, post.id)
    assert len(found) == 1, (request_id, found)
    (message,) = found
    assert message["channel"] == APPROVAL_CHANNEL
    assert message["thread_ts"] is None
    assert len(posts_of(cluster, post.id)) == 1, (request_id, posts_of(cluster, post.id))
    in_channel = [
        item
        for item in cluster.slack.channel_messages(APPROVAL_CHANNEL)
        if outbox_id_of(item.get("metadata")) == post.id
    ]
    assert [item["ts"] for item in in_channel] == [message["ts"]]
    request = cluster.request(request_id)
    assert request.approval_channel_id == APPROVAL_CHANNEL
    assert request.approval_ts == message["ts"]
    assert post.slack_ts == message["ts"]
    return message


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def cluster(cluster_factory):
    """Fakes and a fresh database, no bot process yet (each test starts its own)."""
    made = cluster_factory(0)
    run_release(made)
    try:
        yield made
    finally:
        stop_all(made)


@pytest.fixture
def slow_cluster(cluster_factory):
    """As `cluster`, the Slack Web API timeout long enough to outlast the kill."""
    made = cluster_factory(0, slack_timeout_seconds=20)
    run_release(made)
    try:
        yield made
    finally:
        stop_all(made)


@pytest.fixture
def fast_cluster(cluster_factory):
    """As `cluster`, posts paced at Slack's 50 a second (a burst then takes under a second)."""
    made = cluster_factory(0, slack_posts_per_second=50)
    run_release(made)
    try:
        yield made
    finally:
        stop_all(made)


# -- 1. web alone, then a worker ----------------------------------------------------------


def test_web_alone_stores_and_acks_and_a_later_worker_posts_once(cluster):
    web = start_web(cluster)

    health = web.health()
    assert health.status_code == 503, health.text
    body = health.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["worker"] == "no worker alive"

    request_id = cluster.submit_ok(web)
    request = cluster.request(request_id)
    assert request.status == "pending_approval"
    assert request.approval_ts is None
    post = approval_row(cluster, request_id)
    assert post.channel_id == APPROVAL_CHANNEL

    time.sleep(NO_WORKER_WATCH_SECONDS)  # give a (wrong) delivery loop in web its chance
    (post,) = outbox_rows(cluster, id=post.id)
    assert (post.status, post.claimed_by, post.attempts, post.maybe_sent) == (
        "pending",
        None,
        0,
        False,
    )
    assert cluster.slack.calls_to("chat.postMessage") == []
    assert heartbeats(cluster) == {}
    assert web.health().status_code == 503

    (worker,) = start_workers(cluster, 1)
    wait_delivered(cluster, post.id, timeout=30)
    message = assert_posted_once(cluster, request_id)
    health = wait_until(
        lambda: (answer := web.health()).status_code == 200 and answer,
        timeout=30,
        interval=0.2,
        what="/healthz to answer 200 once a worker beats",
    )
    assert health.json() == HEALTHY
    assert web.alive()
    assert worker.alive()
    assert_posted_once(cluster, request_id)
    assert delivery_results(cluster)[post.id] == Counter(delivered=1)
    cluster.assert_no_secrets()
    record_figures(
        "worker process: web alone, then a worker",
        healthz_without_worker=body,
        approval_posts=len(posts_of(cluster, post.id)),
        approval_ts=message["ts"],
    )


# -- 2. the worker holding a post is killed -----------------------------------------------


def test_worker_killed_mid_post_is_taken_over_without_a_second_post(slow_cluster):
    cluster = slow_cluster
    web = start_web(cluster)
    workers = start_workers(cluster, 2)
    # The first post takes effect in Slack at once; its answer would come only after 30 s,
    # longer than the bot's 20 s timeout: the holder is still waiting when it is killed.
    cluster.slack.stall_next("chat.postMessage", seconds=30, acted=True)

    request_id = cluster.submit_ok(web)
    post = approval_row(cluster, request_id)
    stalled = wait_until(
        lambda: [
            call
            for call in cluster.slack.calls_to("chat.postMessage")
            if call.answered == "stalled"
        ],
        timeout=30,
        interval=0.05,
        what="the approval post to reach fake Slack",
    )
    assert [outbox_id_of(call.params.get("metadata")) for call in stalled] == [post.id]
    assert len(messages_of(cluster, post.id)) == 1  # Slack acted; the bot does not know yet

    (held,) = outbox_rows(cluster, id=post.id)
    assert held.status == "pending"
    assert held.maybe_sent, "the attempt is committed before the post leaves"
    pid = heartbeats(cluster).get(held.claimed_by or "")
    holder = next((worker for worker in workers if worker.pid == pid), None)
    assert holder is not None, (held.claimed_by, pid, heartbeats(cluster))
    survivor = next(worker for worker in workers if worker is not holder)
    history_before = len(cluster.slack.calls_to("conversations.history"))
    holder.kill()

    wait_delivered(cluster, post.id, timeout=TAKEOVER_TIMEOUT_SECONDS)
    message = assert_posted_once(cluster, request_id)
    lookups = cluster.slack.calls_to("conversations.history")[history_before:]
    assert any(call.params.get("channel") == APPROVAL_CHANNEL for call in lookups), lookups
    assert f"outbox row {post.id} was posted before: not posting again" in survivor.output()
    assert delivery_results(cluster)[post.id] == Counter(delivered=1)
    (done,) = outbox_rows(cluster, id=post.id)
    assert done.slack_ts == message["ts"]
    assert survivor.alive()
    assert web.health().status_code == 200
    cluster.assert_no_secrets()
    record_figures(
        "worker process: holder killed mid-post",
        killed=holder.name,
        took_over=survivor.name,
        approval_posts=len(posts_of(cluster, post.id)),
        messages_in_channel=len(messages_of(cluster, post.id)),
        history_lookups=len(lookups),
        attempts=done.attempts,
    )


# -- 3. any number of workers -------------------------------------------------------------


def test_three_workers_deliver_a_burst_each_row_once(fast_cluster):
    cluster = fast_cluster
    web = start_web(cluster)
    start_workers(cluster, 3)

    # Released together: the rows are owed, and the workers woken, within a moment.
    ids = all_at_once([lambda: cluster.submit_ok(web)] * BURST)
    assert len(set(ids)) == BURST

    def all_delivered() -> list[SlackOutbox] | None:
        rows = outbox_rows(cluster)
        failed = [(row.id, row.kind, row.last_error) for row in rows if row.status == "failed"]
        assert not failed, failed
        posted = all(cluster.request(request_id).approval_ts for request_id in ids)
        return rows if posted and all(row.status == "delivered" for row in rows) else None

    rows = wait_until(all_delivered, timeout=90, interval=0.2, what="every outbox row delivered")
    for request_id in ids:
        assert_posted_once(cluster, request_id)
    results = delivery_results(cluster)
    not_once = {
        row.id: (row.kind, dict(results.get(row.id, {})))
        for row in rows
        if results.get(row.id, Counter())["delivered"] != 1
    }
    assert not_once == {}
    kinds = Counter(row.kind for row in rows)
    assert kinds["request_post"] == BURST
    assert len(cluster.slack.messages_with_metadata(METADATA_TYPE)) == len(
        cluster.slack.calls_to("chat.postMessage")
    )
    assert web.health().json() == HEALTHY
    record_figures(
        "worker process: three workers, a burst",
        requests=BURST,
        outbox_rows=len(rows),
        rows_by_kind=dict(kinds),
        chat_post_message_calls=len(cluster.slack.calls_to("chat.postMessage")),
        workers_beating=len(heartbeats(cluster)),
    )

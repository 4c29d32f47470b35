"""The web process only acks; a child process does the background work (bot/background_process.py).

Real processes: `python app.py` with BACKGROUND_PROCESS=true, and the Procfile's web line
(gunicorn, whose workers start a child each by default), against the fakes and PostgreSQL.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
from pathlib import Path

import pytest

from tests.harness import APPROVER, REQUESTER
from tests.reliability.cluster import (
    ROOT,
    Cluster,
    _tcp_inodes,
    free_port,
    unique_email,
    wait_until,
)
from tests.reliability.conftest import ClusterFactory

CHILD_MODULE = "bot.background_process"


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def background_children(pid: int) -> list[int]:
    return [child for child in children(pid) if CHILD_MODULE in command_line(child)]


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def one_child(pid: int) -> int:
    found: list[int] = wait_until(
        lambda: background_children(pid) or None, timeout=30, what="the background process"
    )
    assert len(found) == 1, found
    return found[0]


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def create_one(cluster: Cluster) -> int:
    bot = cluster.instances[0]
    request_id = cluster.submit_ok(bot, email=unique_email("child"))
    row = cluster.wait_posted(request_id)
    assert cluster.react(bot, APPROVER, row).status_code == 200
    cluster.wait_settled([request_id], timeout=30)
    return request_id


@pytest.fixture(scope="module")
def cluster(cluster_factory: ClusterFactory) -> Cluster:
    return cluster_factory(1, background_process="true")


def test_the_background_work_runs_in_the_child_not_in_the_web_process(cluster: Cluster) -> None:
    bot = cluster.instances[0]
    assert bot.pid is not None
    child = one_child(bot.pid)
    cluster.zoom.delay_seconds = 2.0  # the create stays in flight while its socket is examined
    try:
        request_id = cluster.submit_ok(bot, email=unique_email("child"))
        row = cluster.wait_posted(request_id)
        posts_before = len(cluster.zoom.account_posts)
        assert cluster.react(bot, APPROVER, row).status_code == 200
        post = wait_until(
            lambda: cluster.zoom.account_posts[posts_before:] and cluster.zoom.account_posts[-1],
            timeout=10,
            interval=0.01,
            what="the create to reach Zoom",
        )
        zoom_port = int(cluster.zoom.origin.rsplit(":", 1)[1])
        connection = _tcp_inodes(local_port=post.client_port, remote_port=zoom_port)

        # Zoom is being called over a connection the child holds, not the web process.
        assert connection
        assert connection & socket_inodes(child)
        assert not connection & socket_inodes(bot.pid)
    finally:
        cluster.zoom.delay_seconds = 0.0
    cluster.wait_settled([request_id], timeout=30)


def test_a_slash_command_opens_the_modal_from_the_child(cluster: Cluster) -> None:
    bot = cluster.instances[0]
    before = len(cluster.slack.calls_to("views.open"))

    response = cluster.sender(bot).slash(user_id=REQUESTER)

    assert response.status_code == 200
    wait_until(
        lambda: len(cluster.slack.calls_to("views.open")) > before or None,
        timeout=10,
        what="views.open",
    )


def test_a_killed_background_process_is_started_again(cluster: Cluster) -> None:
    bot = cluster.instances[0]
    assert bot.pid is not None
    victim = one_child(bot.pid)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: not running(victim) or None, timeout=10, what="the child to die")

    create_one(cluster)

    replacement = one_child(bot.pid)
    assert replacement != victim


def test_the_background_process_ends_with_its_web_process(cluster_factory: ClusterFactory) -> None:
    cluster = cluster_factory(1, background_process="true")
    bot = cluster.instances[0]
    assert bot.pid is not None
    child = one_child(bot.pid)

    bot.kill()  # kill -9: no shutdown code runs in the web process

    wait_until(lambda: not running(child) or None, timeout=30, what="the orphaned child to exit")


def test_without_the_setting_python_app_py_runs_everything_in_one_process(
    cluster_factory: ClusterFactory,
) -> None:
    cluster = cluster_factory(1)
    bot = cluster.instances[0]
    assert bot.pid is not None

    create_one(cluster)

    assert background_children(bot.pid) == []


def procfile_web_argv(port: int) -> list[str]:
    """The Procfile's web line word for word, but gunicorn run by this interpreter on loopback."""
    line = next(
        line.split(":", 1)[1]
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    words = shlex.split(line.replace("0.0.0.0:${PORT:-3000}", f"127.0.0.1:{port}"))
    assert words[0] == "gunicorn", words
    return [sys.executable, "-m", "gunicorn", *words[1:]]


def test_the_procfile_web_line_runs_a_background_process_per_worker(
    cluster_factory: ClusterFactory,
) -> None:
    cluster = cluster_factory(1)
    bot = cluster.instances[0]
    bot.stop()
    bot.port = free_port()
    bot.command = procfile_web_argv(bot.port)
    bot.env["PYTHONPATH"] = str(ROOT)
    bot.start()
    bot.wait_healthy()
    assert bot.pid is not None
    workers = wait_until(
        lambda: found if len(found := children(bot.pid or 0)) == 2 else None,
        timeout=30,
        what="two gunicorn workers",
    )

    for worker in workers:
        one_child(worker)
    create_one(cluster)

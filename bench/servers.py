"""The servers under test: the Procfile's `web:` gunicorn command, bound to 127.0.0.1 on a free
port, serving either the bot (`app:wsgi()`) or the bare Bolt app; beside each bot, one
`worker:` process (`python app.py worker`) with the same settings; plus readiness and idleness
checks read from /proc."""

from __future__ import annotations

import ctypes
import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROCFILE = PROJECT_ROOT / "Procfile"
BOT_APP = "app:wsgi()"
BARE_APP = "bench.bare_app:wsgi()"
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


def procfile_command(kind: str, procfile: Path = PROCFILE) -> str:
    for line in procfile.read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return line.removeprefix(f"{kind}:").strip()
    raise RuntimeError(f"{procfile} has no {kind}: line")


def procfile_web_command(procfile: Path = PROCFILE) -> str:
    return procfile_command("web", procfile)


def command_words(kind: str, procfile: Path = PROCFILE) -> list[str]:
    """The Procfile's command without its leading `NAME=value` settings: the Procfile's
    `AUTO_MIGRATE=false` is left out, as each bench server migrates its fresh database at start
    (what the release step would have done)."""
    words = shlex.split(procfile_command(kind, procfile))
    while words and "=" in words[0] and not words[0].startswith("-"):
        words.pop(0)
    return words


def worker_argv(procfile: Path = PROCFILE) -> list[str]:
    """The Procfile's worker command, word for word, except `python` is this venv's and the
    script is named by its path (the servers run in the work directory, not the project)."""
    words = command_words("worker", procfile)
    if Path(words[0]).name not in ("python", "python3"):
        raise RuntimeError(f"the Procfile's worker: line does not run python: {words[0]}")
    argv = [sys.executable]
    for word in words[1:]:
        script = PROJECT_ROOT / word
        argv.append(str(script) if word.endswith(".py") and script.exists() else word)
    return argv


def gunicorn_argv(*, port: int, app_target: str, procfile: Path = PROCFILE) -> list[str]:
    """The Procfile's web command, word for word, except the bind address and the app."""
    words = command_words("web", procfile)
    if words[0] != "gunicorn":
        raise RuntimeError(f"the Procfile's web: line does not run gunicorn: {words[0]}")
    argv = [str(Path(sys.executable).with_name("gunicorn"))]
    replace_next_with: str | None = None
    for word in words[1:]:
        if replace_next_with is not None:
            argv.append(replace_next_with)
            replace_next_with = None
        elif word in ("--bind", "-b"):
            argv.append(word)
            replace_next_with = f"127.0.0.1:{port}"
        elif word.startswith("--bind="):
            argv.append(f"--bind=127.0.0.1:{port}")
        elif word == BOT_APP:
            argv.append(app_target)
        else:
            argv.append(word)
    if BOT_APP in words and app_target not in argv:
        raise RuntimeError("could not substitute the app in the Procfile's command")
    if f"127.0.0.1:{port}" not in " ".join(argv):
        raise RuntimeError("the Procfile's web: line has no --bind to replace")
    return argv


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    # If the benchmark is killed, its servers must not outlive it.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Server:
    name: str
    port: int
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    # Bots only: the Procfile's `worker:` process beside gunicorn (Slack outbox, Zoom jobs).
    worker: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    worker_log_path: Path | None = None

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def pids(self) -> list[int]:
        """The gunicorn master, its workers, and the bot's worker process."""
        pids = [self.process.pid, *_children(self.process.pid)]
        if self.worker is not None:
            pids += [self.worker.pid, *_children(self.worker.pid)]
        return pids

    def worker_pids(self) -> list[int]:
        return _children(self.process.pid)

    def cpu_ticks(self) -> int:
        return sum(cpu_ticks(pid) for pid in self.pids())

    def stop(self, timeout_seconds: float = 20.0) -> None:
        processes = [p for p in (self.process, self.worker) if p is not None and p.poll() is None]
        for process in processes:  # both at once: each stops its own loops
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout_seconds)


def _spawn(
    argv: list[str], *, env: dict[str, str], cwd: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(  # noqa: S603 - argv from the Procfile, no shell
            argv,
            cwd=cwd,  # not the project: no .env there; PYTHONPATH finds the app
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,  # the access log (`--access-logfile -`) goes here, as to a log drain
            stderr=log,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads run yet in this process
        )


def start_server(
    name: str, *, app_target: str, env: dict[str, str], log_dir: Path, with_worker: bool = False
) -> Server:
    """gunicorn serving `app_target`; with `with_worker` (the bots), also the Procfile's
    `worker:` process with the same settings, the same directory and the same database: the
    web process's /healthz answers 503 until a worker has written its heartbeat."""
    port = free_port()
    argv = gunicorn_argv(port=port, app_target=app_target)
    log_path = log_dir / f"{name}.log"
    process = _spawn(argv, env={**env, "PORT": str(port)}, cwd=log_dir, log_path=log_path)
    server = Server(name=name, port=port, argv=argv, log_path=log_path, process=process)
    if with_worker:
        server.worker_log_path = log_dir / f"{name}-worker.log"
        try:
            server.worker = _spawn(
                worker_argv(), env=env, cwd=log_dir, log_path=server.worker_log_path
            )
        except BaseException:
            server.stop()
            raise
    return server


def wait_ready(server: Server, *, workers: int, timeout_seconds: float = 90.0) -> None:
    """Until /healthz answers 200 (for a bot: its worker process has written a heartbeat) and
    every gunicorn worker has booted and gone quiet."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited at start; see {server.log_path}")
        if server.worker is not None and server.worker.poll() is not None:
            raise RuntimeError(
                f"{server.name}'s worker exited at start; see {server.worker_log_path}"
            )
        if _healthz(server.port) and len(server.worker_pids()) >= workers:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError(f"{server.name} was not ready in {timeout_seconds}s")
    # A worker loads the app after it forks: busy CPU means one is still importing or migrating.
    if not wait_idle([server], timeout_seconds=max(1.0, deadline - time.monotonic())):
        raise RuntimeError(f"{server.name} did not settle after start")


def wait_idle(
    servers: list[Server], *, quiet_seconds: float = 0.6, timeout_seconds: float = 120.0
) -> bool:
    """Until the servers' processes use (almost) no CPU for `quiet_seconds`: background work
    queued by the last run has finished. False on timeout."""
    window_seconds = 0.2
    allowed_ticks = max(1, round(0.05 * window_seconds * CLOCK_TICKS_PER_SECOND))
    needed = max(1, round(quiet_seconds / window_seconds))
    quiet = 0
    deadline = time.monotonic() + timeout_seconds
    before = sum(server.cpu_ticks() for server in servers)
    while time.monotonic() < deadline:
        time.sleep(window_seconds)
        after = sum(server.cpu_ticks() for server in servers)
        quiet = quiet + 1 if after - before <= allowed_ticks else 0
        before = after
        if quiet >= needed:
            return True
    return False


def _healthz(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _children(pid: int) -> list[int]:
    """Direct children, from every process's parent id (no /proc/*/children on every kernel)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def cpu_ticks(pid: int) -> int:
    """User + system CPU a process has used, in clock ticks."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    # utime and stime are fields 14 and 15 of stat(5); index 0 here is field 3 (state).
    return int(fields[11]) + int(fields[12])

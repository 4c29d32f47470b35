"""Tasks crossing to the background process: owners by name, the pipe, the bounded intake."""

from __future__ import annotations

import threading
from multiprocessing.connection import Connection, Pipe

import pytest

from bot import background_process
from bot.background import BackgroundTasks
from bot.background_process import ChildProcess, ProcessTasks, TaskOwners, serve_tasks


class Greeter:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.started = 0
        self.done = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def greet(self, name: str, *, punctuation: str = "!") -> None:
        self.started += 1
        self.release.wait(10)
        self.seen.append((name, punctuation))
        self.done.set()


class PipeChild(ChildProcess):
    """A "child" that is a pipe read in this process by serve_tasks."""

    def __init__(self, writer: Connection) -> None:
        super().__init__(argv=[])
        self._pipe_writer = writer

    def writer(self) -> Connection:
        return self._pipe_writer


def test_a_registered_owners_method_is_described_by_names() -> None:
    owners, greeter = TaskOwners(), Greeter()
    owners.register(greeter=greeter)

    assert owners.describe(greeter.greet) == ("greeter", "greet")
    assert owners.resolve("greeter", "greet") == greeter.greet


def test_anything_else_is_not_described() -> None:
    owners = TaskOwners()
    owners.register(greeter=Greeter())

    assert owners.describe(Greeter().greet) is None  # another instance
    assert owners.describe(lambda: None) is None
    assert owners.describe(print) is None


def test_a_task_crosses_the_pipe_and_runs_with_its_arguments() -> None:
    owners, greeter = TaskOwners(), Greeter()
    owners.register(greeter=greeter)
    reader, writer = Pipe(duplex=False)
    receiving = BackgroundTasks(max_workers=2)
    server = threading.Thread(target=serve_tasks, args=(reader, owners, receiving))
    server.start()
    sending = ProcessTasks(owners, PipeChild(writer))

    sending.submit(greeter.greet, "Ada", punctuation="?")
    writer.close()
    server.join(10)

    assert greeter.seen == [("Ada", "?")]
    assert not server.is_alive()  # the write end closed: it stopped once the task was done


def test_an_unregistered_or_unpicklable_task_runs_locally() -> None:
    owners, greeter = TaskOwners(), Greeter()
    owners.register(greeter=greeter)
    reader, writer = Pipe(duplex=False)
    tasks = ProcessTasks(owners, PipeChild(writer))
    local = Greeter()

    tasks.submit(local.greet, "local")
    tasks.submit(greeter.greet, "unpicklable", punctuation=threading.Lock())  # type: ignore[arg-type]
    assert tasks.wait_idle(10)

    assert local.seen == [("local", "!")]
    assert len(greeter.seen) == 1  # ran here, on the local pool
    assert not reader.poll(0)  # nothing crossed the pipe


def test_the_intake_stops_reading_while_the_queue_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(background_process, "MAX_QUEUED_TASKS", 2)
    owners, greeter = TaskOwners(), Greeter()
    greeter.release.clear()
    owners.register(greeter=greeter)
    reader, writer = Pipe(duplex=False)
    receiving = BackgroundTasks(max_workers=4)
    server = threading.Thread(target=serve_tasks, args=(reader, owners, receiving))
    server.start()
    sending = ProcessTasks(owners, PipeChild(writer))
    for number in range(5):
        sending.submit(greeter.greet, f"n{number}")

    try:
        # Two taken (both blocked in the task), the rest left in the pipe: backpressure.
        for _ in range(500):
            if greeter.started >= 2:
                break
            threading.Event().wait(0.01)
        threading.Event().wait(0.2)  # room for a wrongly unbounded intake to read the rest
        assert greeter.started == 2
        assert reader.poll(0)
        assert greeter.seen == []
    finally:
        greeter.release.set()
        writer.close()
        server.join(10)

    assert sorted(name for name, _ in greeter.seen) == ["n0", "n1", "n2", "n3", "n4"]

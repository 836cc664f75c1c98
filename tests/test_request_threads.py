"""`remotedbg run`'s request threads: each serves request after request, never one at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from remotedbg.cli.request_threads import ReusedThreads

from servers import APPS, free_port, remotedbg_run


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_calls_one_after_another_share_one_thread() -> None:
    threads = ReusedThreads()
    seen: list[int] = []

    def note(done: threading.Event) -> None:
        seen.append(threading.get_ident())
        done.set()

    for _ in range(20):
        done = threading.Event()
        threads.submit(note, done)
        assert done.wait(10)
        wait_for(lambda: threads._idle == 1)
    assert len(set(seen)) == 1


def test_a_call_never_waits_for_a_busy_thread() -> None:
    """Ten calls that block until all ten run: each gets a thread of its own."""
    threads = ReusedThreads()
    barrier = threading.Barrier(11)
    for _ in range(10):
        threads.submit(barrier.wait, 10)
    barrier.wait(10)  # would time out (BrokenBarrierError) if a call were queued


def test_an_idle_thread_leaves_after_its_linger() -> None:
    threads = ReusedThreads(linger=0.1)
    done = threading.Event()
    threads.submit(done.set)
    assert done.wait(10)
    wait_for(lambda: threads._idle == 1)
    wait_for(lambda: threads._idle == 0)
    again = threading.Event()
    threads.submit(again.set)
    assert again.wait(10), "a new thread serves once the old one left"


def test_every_call_runs_once_while_threads_come_and_go() -> None:
    """Calls handed over while idle threads give up waiting: none lost, none run twice."""
    threads = ReusedThreads(linger=0.002)
    ran: list[int] = []
    lock = threading.Lock()

    def record(n: int) -> None:
        with lock:
            ran.append(n)

    for n in range(2000):
        threads.submit(record, n)
        if n % 50 == 0:
            time.sleep(0.003)  # let idle threads reach their linger
    wait_for(lambda: len(ran) == 2000)
    assert sorted(ran) == list(range(2000))


def test_a_failing_call_leaves_its_thread_serving() -> None:
    threads = ReusedThreads()
    threads.submit(lambda: 1 / 0)
    wait_for(lambda: threads._idle == 1)
    done = threading.Event()
    threads.submit(done.set)
    assert done.wait(10)


def test_remotedbg_run_serves_requests_on_kept_threads(tmp_path: Path) -> None:
    server = remotedbg_run(str(APPS / "flask_app.py"), tmp_path, "--dap-port", str(free_port()))
    try:
        # A thread is idle again only once its response is out: a request that comes right
        # after may find it still finishing, and get a second thread. Hence the pauses; a
        # thread per request would give six names whatever the pauses.
        names = set()
        for _ in range(6):
            names.add(server.get("/thread-name", source="127.0.0.2").body)
            time.sleep(0.2)
        assert len(names) <= 2, names
        assert server.get("/slow", source="127.0.0.2").body == b"slow done"
    finally:
        server.stop()

"""Several worker processes behind one door: the IDE attaches once, and every one of the
developer's requests stops, whichever worker serves it; visitors never stop; a worker that
dies leaves the session and the next one joins with the breakpoints set."""

from __future__ import annotations

import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dap_client import DAPClient, initialize_arguments
from ide import attach, pause_request, top_frame
from servers import APPS, Server, children, free_port, listening_ports, marker_line, port_open

pytestmark = pytest.mark.e2e


@pytest.fixture
def gunicorn4(tmp_path: Path) -> Iterator[tuple[Server, int, Path]]:
    http_port, dap_port = free_port(), free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "-w", "4", "-k", "sync", "--timeout", "120",
        "--bind", f"127.0.0.1:{http_port}", "wsgi_app:app",
    ]  # fmt: skip
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port), "REMOTEDBG_TTL": "2m"}
    server = Server(argv, http_port=http_port, env=env, cwd=APPS, log_path=tmp_path / "log")
    server.wait_ready()
    yield server, dap_port, APPS / "wsgi_app.py"
    server.stop()


def two_at_once(client: DAPClient, http_port: int, line: int) -> set[int]:
    """Two of the developer's requests paused together: while the first holds its worker,
    a sync worker cannot take the second, so another one does (the kernel may otherwise
    hand every request to the worker that just finished). Both stop; both are continued."""
    first = pause_request(client, http_port, timeout=30)
    second = pause_request(client, http_port, timeout=30)
    assert (first.frame["line"], second.frame["line"]) == (line, line)
    pids = {thread_pid(client, first.thread_id), thread_pid(client, second.thread_id)}
    for paused in (first, second):
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().status == 200
    return pids


def thread_pid(client: DAPClient, thread_id: int) -> int:
    threads = client.request("threads")["body"]["threads"]
    [name] = [t["name"] for t in threads if t["id"] == thread_id]
    found = re.match(r"pid (\d+): ", name)
    assert found, name
    return int(found[1])


def test_every_request_stops_whichever_worker_serves_it(
    gunicorn4: tuple[Server, int, Path],
) -> None:
    server, dap_port, app_file = gunicorn4
    assert server.get("/health").status == 200
    line = marker_line(app_file, "BREAK: index")
    pids = set()
    with DAPClient(("127.0.0.1", dap_port), timeout=30) as client:
        assert attach(client, breakpoints={app_file: [line]})["success"]
        pids |= two_at_once(client, server.http_port, line)
        for _ in range(12):
            paused = pause_request(client, server.http_port, timeout=30)
            assert paused.frame["line"] == line
            assert paused.local_vars["visitor"] == "'tester'"
            pids.add(thread_pid(client, paused.thread_id))
            # Stepping and evaluating reach the worker that owns the thread and the frame.
            client.request("next", {"threadId": paused.thread_id})
            stepped = client.wait_event("stopped", timeout=30)["body"]
            assert (stepped["reason"], stepped["threadId"]) == ("step", paused.thread_id)
            frame, _ = top_frame(client, paused.thread_id)
            value = client.request("evaluate", {"expression": "message", "frameId": frame["id"]})
            assert value["body"]["result"] == "'hello tester'"
            client.request("continue", {"threadId": paused.thread_id})
            assert paused.request.result().body == b"hello tester"
            # Visitors on every worker pass the same breakpoint without stopping.
            for _ in range(4):
                assert server.get("/", source="127.0.0.2", timeout=10).status == 200
            with pytest.raises(TimeoutError):
                client.wait_event("stopped", timeout=0.2)
    assert len(pids) >= 2, pids


#: The issue's matrix of servers: argv after the interpreter, and the app.
SERVERS = {
    "gunicorn-gthread": (
        ["-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "--timeout", "120",
         "--bind", "127.0.0.1:{port}", "wsgi_app:app"],
        "wsgi_app.py",
    ),
    "gunicorn-preload": (
        ["-m", "gunicorn", "-w", "2", "--preload", "--timeout", "120",
         "--bind", "127.0.0.1:{port}", "wsgi_app:app"],
        "wsgi_app.py",
    ),
    "gunicorn-max-requests": (
        ["-m", "gunicorn", "-w", "2", "--max-requests", "6", "--timeout", "120",
         "--bind", "127.0.0.1:{port}", "wsgi_app:app"],
        "wsgi_app.py",
    ),
    "uvicorn-workers": (
        ["-m", "uvicorn", "--workers", "4", "--port", "{port}", "fastapi_app:app"],
        "fastapi_app.py",
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_twelve_requests_stop_on_several_workers(kind: str, tmp_path: Path) -> None:
    """Attached once: 12 of the developer's requests all stop and answer 200, served by more
    than one worker (the status page's pid says which); 20 visitors' requests never stop.
    Under --max-requests the workers are recycled on the way, and their successors join."""
    template, app = SERVERS[kind]
    http_port, dap_port = free_port(), free_port()
    argv = [sys.executable, *(part.format(port=http_port) for part in template)]
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port), "REMOTEDBG_TTL": "2m"}
    server = Server(argv, http_port=http_port, env=env, cwd=APPS, log_path=tmp_path / "log")
    server.wait_ready()
    try:
        server.get("/health")
        app_file = APPS / app
        line = marker_line(app_file, "BREAK: index")
        pids = set()
        with DAPClient(("127.0.0.1", dap_port), timeout=30) as client:
            assert attach(client, breakpoints={app_file: [line]})["success"]
            if kind.startswith("gunicorn"):
                # (Not under uvicorn: a worker's paused request holds the loop its other
                # developer requests run on, until it is continued.)
                pids |= two_at_once(client, server.http_port, line)
            for _ in range(12):
                paused = pause_request(client, server.http_port, timeout=30)
                assert paused.frame["line"] == line
                pids.add(thread_pid(client, paused.thread_id))
                client.request("continue", {"threadId": paused.thread_id})
                answer = paused.request.result()
                assert (answer.status, answer.body[:12]) == (200, b"hello tester")
                pids.add(server.get("/__remotedbg__").json()["pid"])
            for _ in range(20):
                assert server.get("/", source="127.0.0.2", timeout=10).status == 200
            with pytest.raises(TimeoutError):
                client.wait_event("stopped", timeout=0.5)
        assert len(pids) >= 2, (pids, server.log)
    finally:
        server.stop()


def test_a_dead_worker_leaves_and_the_next_joins_with_the_breakpoints(
    gunicorn4: tuple[Server, int, Path],
) -> None:
    server, dap_port, app_file = gunicorn4
    server.get("/health")
    line = marker_line(app_file, "BREAK: index")
    with DAPClient(("127.0.0.1", dap_port), timeout=30) as client:
        assert attach(client, breakpoints={app_file: [line]})["success"]
        paused = pause_request(client, server.http_port, timeout=30)
        victim = thread_pid(client, paused.thread_id)
        os.kill(victim, signal.SIGKILL)  # paused, then killed: gunicorn starts another
        deadline = time.monotonic() + 15
        while True:  # "started" events of other workers may come first
            event = client.wait_event("thread", timeout=deadline - time.monotonic())["body"]
            if event["reason"] == "exited":
                break
        assert event == {"reason": "exited", "threadId": paused.thread_id}
        for _ in range(6):
            again = pause_request(client, server.http_port, timeout=30)
            assert again.frame["line"] == line
            assert thread_pid(client, again.thread_id) != victim
            client.request("continue", {"threadId": again.thread_id})
            assert again.request.result().status == 200


def test_when_the_window_ends_no_process_keeps_a_debugger_socket(tmp_path: Path) -> None:
    http_port, dap_port = free_port(), free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "-w", "3", "--bind", f"127.0.0.1:{http_port}",
        "wsgi_app:app",
    ]  # fmt: skip
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port), "REMOTEDBG_TTL": "3s"}
    server = Server(argv, http_port=http_port, env=env, cwd=APPS, log_path=tmp_path / "log")
    server.wait_ready()
    try:
        for _ in range(6):
            server.get("/health")
        assert port_open(dap_port)
        time.sleep(5)
        assert not port_open(dap_port)
        for pid in [server.process.pid, *children(server.process.pid)]:
            assert dap_port not in listening_ports(pid)
        assert "door_closed" in server.log
    finally:
        server.stop()


def test_the_shared_door_demands_the_token(tmp_path: Path) -> None:
    """The door of several workers applies the same rules as a single process's: no token,
    no session, and nothing reaches a worker."""
    token = secrets.token_urlsafe(24)
    http_port, dap_port = free_port(), free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "-w", "2", "--bind", f"127.0.0.1:{http_port}",
        "wsgi_app:app",
    ]  # fmt: skip
    env = {
        "REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port), "REMOTEDBG_TOKEN": token,
    }  # fmt: skip
    server = Server(argv, http_port=http_port, env=env, cwd=APPS, log_path=tmp_path / "log")
    server.wait_ready()
    try:
        server.get("/health")
        with DAPClient(("127.0.0.1", dap_port)) as client:
            client.request("initialize", initialize_arguments())
            refused = client.request("attach", {})
            assert refused["success"] is False
            assert refused["body"]["error"]["remotedbgRefusal"] == "token"
        app_file = APPS / "wsgi_app.py"
        line = marker_line(app_file, "BREAK: index")
        with DAPClient(("127.0.0.1", dap_port)) as client:
            answer = attach(
                client, breakpoints={app_file: [line]}, arguments={"remotedbgToken": token}
            )
            assert answer["success"]
            paused = pause_request(client, server.http_port, timeout=30)
            assert paused.frame["line"] == line
            client.request("continue", {"threadId": paused.thread_id})
            assert paused.request.result().status == 200
    finally:
        server.stop()


def test_the_door_goes_when_the_server_does(tmp_path: Path) -> None:
    """A door with no worker left (the server stopped) closes its port and exits, long
    before its window would have ended."""
    http_port, dap_port = free_port(), free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "-w", "2", "--bind", f"127.0.0.1:{http_port}",
        "wsgi_app:app",
    ]  # fmt: skip
    env = {
        "REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port), "REMOTEDBG_TTL": "1h",
        "_REMOTEDBG_TEST_DOOR_GRACE": "1",
    }  # fmt: skip
    server = Server(argv, http_port=http_port, env=env, cwd=APPS, log_path=tmp_path / "log")
    server.wait_ready()
    try:
        server.get("/health")
        door = int(server.wait_for_log(r"event=door_started pid=(\d+)")[1])
        assert port_open(dap_port)
    finally:
        server.stop()
    deadline = time.monotonic() + 15
    while Path(f"/proc/{door}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{door}").exists(), "the door outlived its server"
    assert not port_open(dap_port)

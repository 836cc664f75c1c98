"""The ASGI hook under real ASGI servers (uvicorn, hypercorn), driven by a real DAP client.

On an ASGI server every request of a worker shares the event loop's thread; the developer's
requests run on a loop of their own, so only they stop, and visitors keep being served
while the developer is paused.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dap_client import DAPClient
from ide import attach, pause_request, top_frame
from servers import APPS, Server, free_port, marker_line, port_open

pytestmark = pytest.mark.e2e

SERVERS = {
    "uvicorn": ["-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}", "{app}:app"],
    "hypercorn": ["-m", "hypercorn", "--bind", "127.0.0.1:{port}", "{app}:app"],
}


@pytest.fixture(
    params=[("uvicorn", "fastapi_app"), ("uvicorn", "asgi_app"), ("hypercorn", "asgi_app")],
    ids=lambda param: "-".join(param),
)
def asgi_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Server, int, Path]]:
    kind, app = request.param
    http_port, dap_port = free_port(), free_port()
    argv = [sys.executable] + [part.format(port=http_port, app=app) for part in SERVERS[kind]]
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port)}
    server = Server(argv, http_port=http_port, env=env, cwd=APPS, log_path=tmp_path / "log")
    server.wait_ready()
    yield server, dap_port, APPS / f"{app}.py"
    server.stop()


def test_arms_only_for_allowlisted(asgi_server: tuple[Server, int, Path]) -> None:
    """A visitor or a spoofed header leaves the port closed; a local request opens it."""
    server, dap_port, _ = asgi_server
    assert server.get("/health", source="127.0.0.2").status == 200
    assert server.get("/health", headers={"X-Forwarded-For": "127.0.0.1"}).status == 200
    assert not port_open(dap_port)
    assert server.get("/__remotedbg__", source="127.0.0.2").status == 404
    status = server.get("/__remotedbg__").json()
    assert status["armed"] is True
    assert status["dap_port"] == dap_port
    assert port_open(dap_port)


def test_breakpoint_and_exception(asgi_server: tuple[Server, int, Path]) -> None:
    """A breakpoint with locals while visitors are served; then an error stops once, then 500."""
    server, dap_port, app_file = asgi_server
    server.get("/health")
    line = marker_line(app_file, "BREAK: index")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client, breakpoints={app_file: [line]})["success"]
        paused = pause_request(client, server.http_port)
        assert paused.frame["line"] == line
        assert paused.local_vars["visitor"] == "'tester'"
        # The server's loop is not the paused one: visitors are answered meanwhile, and
        # their requests pass the same breakpoint without stopping.
        assert server.get("/", source="127.0.0.2", timeout=10).status == 200
        assert server.get("/health", source="127.0.0.2", timeout=10).body == b"ok"
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body.startswith(b"hello tester")

        paused = pause_request(client, server.http_port, "/boom")
        assert paused.stopped["reason"] == "exception"
        raising = ("boom", marker_line(app_file, "RAISE: boom"))
        assert (paused.frame["name"], paused.frame["line"]) == raising
        assert paused.local_vars["secret_number"] == "42"
        assert paused.request.response is None  # the 500 waits for the developer
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().status == 500
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=1.0)
        # A visitor's error is the server's to answer, and never stops.
        assert server.get("/boom", source="127.0.0.2").status == 500
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=1.0)
    assert server.get("/health").body == b"ok"


@pytest.fixture
def fastapi_server(tmp_path: Path) -> Iterator[tuple[Server, int, Path]]:
    http_port, dap_port = free_port(), free_port()
    argv = [sys.executable, "-m", "uvicorn", "--port", str(http_port), "fastapi_app:app"]
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port)}
    server = Server(argv, http_port=http_port, env=env, cwd=APPS, log_path=tmp_path / "log")
    server.wait_ready()
    yield server, dap_port, APPS / "fastapi_app.py"
    server.stop()


def test_step_over_an_await(fastapi_server: tuple[Server, int, Path]) -> None:
    """`next` over an ``await`` lands on the following line of the same coroutine."""
    server, dap_port, app_file = fastapi_server
    server.get("/health")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client, breakpoints={app_file: [marker_line(app_file, "BREAK: index")]})
        paused = pause_request(client, server.http_port)
        client.request("next", {"threadId": paused.thread_id})
        stopped = client.wait_event("stopped")["body"]
        assert stopped["reason"] == "step"
        frame, local_vars = top_frame(client, stopped["threadId"])
        assert frame["line"] == marker_line(app_file, "AFTER: index")
        assert local_vars["waited"] == "'awaited'"
        client.request("continue", {"threadId": stopped["threadId"]})
        assert paused.request.result().body == b"hello tester awaited"


def test_sync_endpoints_stop_for_the_developer_only(
    fastapi_server: tuple[Server, int, Path],
) -> None:
    """Sync endpoints run on worker threads the hook never sees: the developer's stop, a
    visitor's never do, even on a worker thread that served visitors before the window."""
    server, dap_port, app_file = fastapi_server
    for _ in range(3):  # worker threads exist before the window opens
        assert server.get("/sync", source="127.0.0.2").status == 200
    server.get("/health")
    line = marker_line(app_file, "BREAK: sync")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client, breakpoints={app_file: [line]})["success"]
        for _ in range(3):
            assert server.get("/sync", source="127.0.0.2", timeout=10).body == b"hello sync"
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=0.5)
        paused = pause_request(client, server.http_port, "/sync")
        assert (paused.frame["line"], paused.local_vars["kind"]) == (line, "'sync'")
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body == b"hello sync"

        paused = pause_request(client, server.http_port, "/sync-boom")
        assert paused.stopped["reason"] == "exception"
        assert paused.local_vars["secret_number"] == "43"
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().status == 500
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=1.0)
        assert server.get("/sync-boom", source="127.0.0.2").status == 500
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=1.0)

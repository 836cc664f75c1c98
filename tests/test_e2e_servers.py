"""The hook under other servers: gunicorn's workers (with and without --preload), waitress,
and Flask's reloader."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dap_client import DAPClient
from ide import attach, pause_request
from servers import APPS, Server, free_port, marker_line, port_open

pytestmark = pytest.mark.e2e


def start(argv: list[str], tmp_path: Path, http_port: int, env: dict[str, str]) -> Server:
    server = Server(argv, http_port=http_port, env=env, cwd=APPS, log_path=tmp_path / "log")
    server.wait_ready()
    return server


#: How each server is started: argv after the interpreter, with {port} and {app} filled in.
SERVERS = {
    "gunicorn-sync": ["-m", "gunicorn", "-w", "1", "-k", "sync", "--timeout", "120"],
    # --preload loads the app in the master, which then forks: nothing may have started a
    # thread there (one caught inside an import deadlocks the worker for good).
    "gunicorn-preload-gthread": [
        "-m", "gunicorn", "--preload", "-w", "1", "-k", "gthread", "--threads", "4",
        "--timeout", "120",
    ],
    "gunicorn-preload-sync": ["-m", "gunicorn", "--preload", "-w", "1", "--timeout", "120"],
}  # fmt: skip


def server_argv(kind: str, app: str, http_port: int) -> list[str]:
    if kind == "waitress":
        return [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{http_port}", f"{app}:app"]
    return [sys.executable, *SERVERS[kind], "--bind", f"127.0.0.1:{http_port}", f"{app}:app"]


@pytest.fixture(
    params=[
        ("gunicorn-sync", "wsgi_app"),
        ("gunicorn-sync", "flask_ext_app"),
        ("gunicorn-preload-gthread", "flask_ext_app"),
        ("gunicorn-preload-sync", "wsgi_app"),
        ("waitress", "wsgi_app"),
    ],
    ids=lambda param: "-".join(param),
)
def gunicorn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, int, Path]]:
    """A production server serving an app hooked with the middleware or the extension."""
    kind, app = request.param
    http_port, dap_port = free_port(), free_port()
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port)}
    server = start(server_argv(kind, app, http_port), tmp_path, http_port, env)
    yield server, dap_port, APPS / f"{app}.py"
    server.stop()


def test_gunicorn_arms_only_for_allowlisted(gunicorn: tuple[Server, int, Path]) -> None:
    """Under gunicorn, a spoofed or foreign request leaves the port closed; a local one opens it."""
    server, dap_port, _ = gunicorn
    assert server.get("/health", source="127.0.0.2").status == 200
    assert server.get("/health", headers={"X-Forwarded-For": "127.0.0.1"}).status == 200
    assert not port_open(dap_port)
    assert server.get("/health").status == 200
    assert port_open(dap_port)


def test_gunicorn_breakpoint_and_exception(gunicorn: tuple[Server, int, Path]) -> None:
    """Under gunicorn: a breakpoint with locals, then an uncaught error stopping once and a 500."""
    server, dap_port, app_file = gunicorn
    server.get("/health")
    line = marker_line(app_file, "BREAK: index")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client, breakpoints={app_file: [line]})["success"]
        paused = pause_request(client, server.http_port)
        assert paused.frame["line"] == line
        assert paused.local_vars["visitor"] == "'tester'"
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body == b"hello tester"

        paused = pause_request(client, server.http_port, "/boom")
        assert paused.stopped["reason"] == "exception"
        raising = ("boom", marker_line(app_file, "RAISE: boom"))
        assert (paused.frame["name"], paused.frame["line"]) == raising
        assert paused.local_vars["secret_number"] == "42"
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().status == 500
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=1.0)
    assert server.get("/health").body == b"ok"


def test_non_debugging_errors_are_left_to_the_server(gunicorn: tuple[Server, int, Path]) -> None:
    """A foreign client's error is gunicorn's (or Flask's) to answer, as without remotedbg."""
    server, _, _ = gunicorn
    assert server.get("/boom", source="127.0.0.2").status == 500
    assert server.get("/health", source="127.0.0.2").body == b"ok"


def test_reloader_parent_never_arms(tmp_path: Path) -> None:
    """Under `flask run --reload`, only the serving child arms, never the reloader parent."""
    http_port, dap_port = free_port(), free_port()
    argv = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "flask_ext_app",
        "run",
        "--reload",
        "--no-debugger",
        "--port",
        str(http_port),
    ]
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port)}
    server = start(argv, tmp_path, http_port, env)
    try:
        status = server.get("/__remotedbg__").json()
        assert status["armed"] is True
        assert status["pid"] != server.process.pid
        assert server.log.count("DEBUGGER ARMED") == 1
    finally:
        server.stop()

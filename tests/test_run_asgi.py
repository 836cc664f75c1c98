"""`remotedbg run` on ASGI apps: served by uvicorn, driven by a real DAP client.

Also what `run` says, in one line and exit code 2, when APP is neither WSGI nor ASGI, or
is ASGI without uvicorn installed; and a hook installed twice (the app's own inside run's).
"""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotedbg.cli import cli

from dap_client import DAPClient
from ide import attach, pause_request
from servers import APPS, DevServers, Server, free_port, marker_line, port_open

# -- what run refuses, in one line --------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module holding things that are not apps, and an ASGI app, on a clean sys.path."""
    (tmp_path / "run_kinds.py").write_text(
        "import os\n"
        "name = 'not an app'\n"
        "def one(request):\n    return request\n"
        "class Asgi2:\n"
        "    def __init__(self, scope):\n        self.scope = scope\n"
        "    async def __call__(self, receive, send):\n        pass\n"
        "async def asgi(scope, receive, send):\n    pass\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "run_kinds", raising=False)
    return tmp_path


def run_app(spec: str) -> t.Any:
    return CliRunner().invoke(cli, ["run", spec, "--port", "0", "--dap-port", "0"], env={})


def one_line(result: t.Any) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return str(lines[0])


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize(
    ("attr", "found"),
    [
        ("name", "found a str, which is not a WSGI app or an ASGI app"),
        ("os", "found a module, which is not a WSGI app or an ASGI app"),
        ("one", "found a function taking 1 argument, which is not a WSGI app or an ASGI app"),
        ("Asgi2", "found the class Asgi2, an ASGI 2 app, which remotedbg cannot serve"),
    ],
)
def test_neither_wsgi_nor_asgi_is_one_line(attr: str, found: str) -> None:
    """What APP names, and what is expected, in one line, exit 2, before any banner."""
    line = one_line(run_app(f"run_kinds:{attr}"))
    assert line.startswith(f"Error: APP 'run_kinds:{attr}': {found}; ")
    if attr == "Asgi2":
        assert "guarantee_single_callable(Asgi2)" in line
    elif attr == "os":
        assert line.endswith("name the app in it, like os:app")
    else:
        assert line.endswith(
            "name a WSGI app (a callable taking environ, start_response) or an ASGI app "
            "(an async callable taking scope, receive, send)"
        )


@pytest.mark.usefixtures("project")
def test_asgi_without_uvicorn_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ASGI app with uvicorn missing says how to install it; nothing is served."""
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` fails
    line = one_line(run_app("run_kinds:asgi"))
    assert line == (
        "Error: APP is a plain ASGI app, which `remotedbg run` serves with uvicorn, and "
        "uvicorn is not installed; pip install 'remotedbg[asgi]'"
    )


# -- served by uvicorn, end to end ---------------------------------------------------------

#: The apps, and the environment they run in. fastapi_app installs the hook itself, switched
#: on here: run's hook wraps it and the inner one steps aside.
ASGI_APPS = {
    "fastapi_app": {"REMOTEDBG_ENABLE": "1"},
    "asgi_plain_app": {},
}


@pytest.fixture(params=list(ASGI_APPS))
def asgi_run(request: pytest.FixtureRequest, dev_server: DevServers) -> tuple[Server, int, Path]:
    """`remotedbg run APP` on an ASGI app, with its debugger port and source file."""
    dap_port = free_port()
    app_file = APPS / f"{request.param}.py"
    env = ASGI_APPS[request.param]
    server = dev_server(str(app_file), "--dap-port", str(dap_port), env=env)
    return server, dap_port, app_file


@pytest.mark.e2e
def test_serves_with_uvicorn_and_arms_for_allowlisted(asgi_run: tuple[Server, int, Path]) -> None:
    """The banner, then uvicorn; a visitor never arms or sees the status page; we do."""
    server, dap_port, app_file = asgi_run
    assert server.get("/health", source="127.0.0.2").body == b"ok"
    assert server.get("/__remotedbg__", source="127.0.0.2").status == 404
    assert not port_open(dap_port)
    status = server.get("/__remotedbg__").json()
    assert (status["armed"], status["error"]) == (True, None)
    assert (status["dap_port"], status["pid"]) == (dap_port, server.process.pid)
    assert status["app_root"] == str(APPS)
    assert port_open(dap_port)
    server.wait_for_log("event=armed")
    log = server.log
    assert f"serving on http://127.0.0.1:{server.http_port}/ with debugging for" in log
    assert f"attach your IDE to 127.0.0.1:{dap_port}" in log
    assert log.index("serving on") < log.index("Started server process")  # uvicorn's
    assert log.count("DEBUGGER ARMED") == 1
    assert "could not arm" not in log
    if app_file.stem == "fastapi_app":
        assert "Application startup complete" in log  # lifespan "auto" ran it
    else:
        assert "'lifespan' protocol appears unsupported" in log


@pytest.mark.e2e
def test_breakpoint_locals_continue_while_visitors_are_served(
    asgi_run: tuple[Server, int, Path],
) -> None:
    """Stop in an async endpoint, read a local; a visitor is answered meanwhile."""
    server, dap_port, app_file = asgi_run
    server.get("/health")
    line = marker_line(app_file, "BREAK: index")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client, breakpoints={app_file: [line]})["success"]
        paused = pause_request(client, server.http_port)
        assert paused.stopped["reason"] == "breakpoint"
        assert paused.frame["line"] == line
        assert paused.local_vars["visitor"] == "'tester'"
        assert server.get("/", source="127.0.0.2", timeout=10).status == 200
        assert server.get("/health", source="127.0.0.2", timeout=10).body == b"ok"
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=0.5)  # the visitor passed the breakpoint
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body.startswith(b"hello tester")
    assert "could not arm" not in server.log


@pytest.mark.e2e
def test_an_error_stops_once_then_500(asgi_run: tuple[Server, int, Path]) -> None:
    """The developer's error stops once at the raise, then is a 500; a visitor's never stops."""
    server, dap_port, app_file = asgi_run
    server.get("/health")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client)["success"]
        paused = pause_request(client, server.http_port, "/boom")
        assert paused.stopped["reason"] == "exception"
        assert (paused.frame["name"], paused.frame["line"]) == (
            "boom",
            marker_line(app_file, "RAISE: boom"),
        )
        assert paused.local_vars["secret_number"] == "42"
        assert paused.request.response is None  # the 500 waits for the developer
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().status == 500
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=1.0)
        assert server.get("/boom", source="127.0.0.2").status == 500
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=1.0)
    assert server.get("/health").body == b"ok"


@pytest.mark.e2e
def test_sync_endpoint_stops_for_the_developer(dev_server: DevServers) -> None:
    """A FastAPI sync endpoint (on a worker thread) stops for us, never for a visitor."""
    dap_port = free_port()
    app_file = APPS / "fastapi_app.py"
    server = dev_server(str(app_file), "--dap-port", str(dap_port))
    server.get("/health")
    line = marker_line(app_file, "BREAK: sync")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client, breakpoints={app_file: [line]})["success"]
        assert server.get("/sync", source="127.0.0.2", timeout=10).body == b"hello sync"
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=0.5)
        paused = pause_request(client, server.http_port, "/sync")
        assert (paused.frame["line"], paused.local_vars["kind"]) == (line, "'sync'")
        assert server.get("/health", source="127.0.0.2", timeout=10).body == b"ok"
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body == b"hello sync"


# -- a hook installed twice ------------------------------------------------------------------


@pytest.mark.e2e
def test_a_wsgi_app_hooked_itself_is_debugged_by_runs_hook(dev_server: DevServers) -> None:
    """wsgi_app applies RemoteDebugMiddleware itself, switched on: under `remotedbg run` the
    inner hook steps aside silently, with no false "port in use" naming its own pid."""
    dap_port = free_port()
    app_file = APPS / "wsgi_app.py"
    env = {"REMOTEDBG_ENABLE": "1"}
    server = dev_server(str(app_file), "--dap-port", str(dap_port), env=env)
    status = server.get("/__remotedbg__").json()
    assert (status["armed"], status["error"]) == (True, None)
    line = marker_line(app_file, "BREAK: index")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client, breakpoints={app_file: [line]})["success"]
        paused = pause_request(client, server.http_port)
        assert paused.local_vars["visitor"] == "'tester'"
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body == b"hello tester"
    server.wait_for_log("event=armed")
    assert server.log.count("event=armed") == 1
    assert "could not arm" not in server.log
    assert "arm_failed" not in server.log

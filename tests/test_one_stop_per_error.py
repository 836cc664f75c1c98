"""An unhandled view error stops the IDE once, then the client gets its 500, with VS Code's
"Uncaught" filter alone and with "User Uncaught" ticked too, on every framework."""

from __future__ import annotations

import sys
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from dap_client import DAPClient
from ide import attach, pause_request
from servers import APPS, TESTS, Server, free_port, marker_line, remotedbg_argv

pytestmark = pytest.mark.e2e

FILTERS = [("uncaught",), ("uncaught", "userUnhandled")]


def _uvicorn(app: str, http_port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "--port", str(http_port), f"{app}:app"]


#: How each framework is served: argv, the working directory, the app file.
SERVED: dict[str, tuple[t.Callable[[int], list[str]], Path, str]] = {
    "flask-run": (lambda port: remotedbg_argv("apps.flask_app:app", port), TESTS, "flask_app"),
    "fastapi-uvicorn": (lambda port: _uvicorn("fastapi_app", port), APPS, "fastapi_app"),
    "asgi-uvicorn": (lambda port: _uvicorn("asgi_app", port), APPS, "asgi_app"),
}


@pytest.fixture(params=sorted(SERVED))
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, int, Path]]:
    argv_for, cwd, app = SERVED[request.param]
    http_port, dap_port = free_port(), free_port()
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port)}
    server = Server(
        [*argv_for(http_port), *(["--dap-port", str(dap_port)] if cwd == TESTS else [])],
        http_port=http_port,
        env=env,
        cwd=cwd,
        log_path=tmp_path / "log",
    )
    server.wait_ready()
    yield server, dap_port, APPS / f"{app}.py"
    server.stop()


@pytest.mark.parametrize("filters", FILTERS, ids="+".join)
def test_an_error_stops_once_then_500(
    served: tuple[Server, int, Path], filters: tuple[str, ...]
) -> None:
    server, dap_port, app_file = served
    server.get("/health")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client, exception_filters=filters)["success"]
        paused = pause_request(client, server.http_port, "/boom")
        assert paused.stopped["reason"] == "exception"
        assert paused.frame["line"] == marker_line(app_file, "RAISE: boom"), paused.frame
        assert paused.local_vars["secret_number"] == "42"
        client.request("continue", {"threadId": paused.thread_id})
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=1.5)
        assert paused.request.result().status == 500

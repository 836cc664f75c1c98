"""The Django middleware under real servers, driven by a real DAP client.

The same project (tests/apps/django_project) four ways: gunicorn over WSGI, where the
middleware traces the developer's request in its thread; uvicorn over ASGI, where it runs
the rest of the stack on the debug loop, so visitors are served while the developer is
paused; and `remotedbg run` (WSGI, ASGI), where the runner's hook is outside Django's and
the middleware steps aside.
"""

from __future__ import annotations

import sys
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from dap_client import DAPClient
from ide import attach, pause_request, top_frame
from servers import APPS, Server, free_port, marker_line, port_open, remotedbg_argv

pytestmark = pytest.mark.e2e

PROJECT = APPS / "django_project"
VIEWS = PROJECT / "mysite" / "views.py"


def _runner_serves_asgi() -> bool:
    """Whether `remotedbg run` serves ASGI apps (being added to remotedbg/cli/ meanwhile)."""
    cli = Path(__file__).resolve().parent.parent / "remotedbg" / "cli"
    return any("asgi" in path.read_text().lower() for path in cli.glob("*.py"))


MODES = [
    pytest.param("gunicorn", id="gunicorn-wsgi"),
    pytest.param("uvicorn", id="uvicorn-asgi"),
    pytest.param("run-wsgi", id="run-wsgi"),
    pytest.param(
        "run-asgi",
        id="run-asgi",
        marks=pytest.mark.skipif(
            not _runner_serves_asgi(), reason="`remotedbg run` does not serve ASGI apps yet"
        ),
    ),
]


class Django(t.NamedTuple):
    mode: str
    server: Server
    dap_port: int

    @property
    def concurrent(self) -> bool:
        """Whether a visitor is answered while the developer is paused (not one sync worker)."""
        return self.mode != "gunicorn"

    @property
    def runner(self) -> bool:
        return self.mode.startswith("run-")


def django_argv(mode: str, http_port: int, dap_port: int) -> list[str]:
    if mode == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", "-w", "1", "-k", "sync", "--timeout", "120",
            "--bind", f"127.0.0.1:{http_port}", "mysite.wsgi",
        ]  # fmt: skip
    if mode == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(http_port),
            "mysite.asgi:application",
        ]  # fmt: skip
    app = "mysite.wsgi:application" if mode == "run-wsgi" else "mysite.asgi:application"
    return remotedbg_argv(app, http_port, "--dap-port", str(dap_port))


@pytest.fixture(params=MODES)
def django(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Django]:
    mode = request.param
    http_port, dap_port = free_port(), free_port()
    # Under `remotedbg run` the middleware is switched on too, on the same port: were it to
    # arm a second gate, the log would say the port is in use.
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port)}
    server = Server(
        django_argv(mode, http_port, dap_port),
        http_port=http_port,
        env=env,
        cwd=PROJECT,
        log_path=tmp_path / "log",
    )
    try:
        server.wait_ready()
        yield Django(mode, server, dap_port)
    finally:
        server.stop()
        print(server.log)
    if mode.startswith("run-"):
        assert server.log.count("DEBUGGER ARMED") <= 1, server.log
        assert "in use" not in server.log, server.log


def no_stop(client: DAPClient, timeout: float = 1.0) -> None:
    with pytest.raises(TimeoutError):
        client.wait_event("stopped", timeout=timeout)


def test_arms_only_for_allowlisted(django: Django) -> None:
    """A visitor or a forged header leaves the port closed; the status page is the
    developer's only, and a local request arms."""
    server = django.server
    assert server.get("/health", source="127.0.0.2").body == b"ok"
    assert server.get("/health", headers={"X-Forwarded-For": "127.0.0.1"}).body == b"ok"
    forged = {"X-Forwarded-For": "127.0.0.1"}
    assert server.get("/health", source="127.0.0.2", headers=forged).body == b"ok"
    assert server.get("/__remotedbg__", source="127.0.0.2").status == 404
    assert not port_open(django.dap_port)
    status = server.get("/__remotedbg__")
    headers = {name.lower(): value for name, value in status.headers.items()}
    assert headers["cache-control"] == "no-store"
    assert status.json()["armed"] is True
    assert status.json()["dap_port"] == django.dap_port
    assert status.json()["app_root"] == str(PROJECT)
    assert port_open(django.dap_port)
    assert server.get("/__remotedbg__", source="127.0.0.2").status == 404
    assert server.log.count("DEBUGGER ARMED") == 1


def test_breakpoints_sync_async_and_streaming(django: Django) -> None:
    """Breakpoints in a sync view, an async view and a streaming body stop the developer's
    requests with their locals; visitors pass the same lines without stopping."""
    server = django.server
    server.get("/health")
    lines = {name: marker_line(VIEWS, f"BREAK: {name}") for name in ("index", "async", "stream")}
    with DAPClient(("127.0.0.1", django.dap_port)) as client:
        assert attach(client, breakpoints={VIEWS: list(lines.values())})["success"]
        paused = pause_request(client, server.http_port)
        assert (paused.frame["line"], paused.local_vars["visitor"]) == (lines["index"], "'tester'")
        if django.concurrent:
            assert server.get("/", source="127.0.0.2", timeout=10).body == b"hello tester"
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body == b"hello tester"

        paused = pause_request(client, server.http_port, "/async")
        assert paused.frame["line"] == lines["async"]
        assert paused.local_vars["visitor"] == "'async tester'"
        if django.concurrent:
            visitor = server.get("/async", source="127.0.0.2", timeout=10)
            assert visitor.body == b"hello async tester awaited"
            assert server.get("/health", source="127.0.0.2", timeout=10).body == b"ok"
        thread_id = paused.thread_id
        if django.mode == "uvicorn":
            client.request("next", {"threadId": thread_id})
            stopped = client.wait_event("stopped")["body"]
            assert stopped["reason"] == "step"
            frame, local_vars = top_frame(client, stopped["threadId"])
            assert frame["line"] == marker_line(VIEWS, "AFTER: async")
            assert local_vars["waited"] == "'awaited'"
            thread_id = stopped["threadId"]
        client.request("continue", {"threadId": thread_id})
        assert paused.request.result().body == b"hello async tester awaited"

        paused = pause_request(client, server.http_port, "/stream")
        assert (paused.frame["line"], paused.local_vars["number"]) == (lines["stream"], "0")
        client.request("setBreakpoints", {"source": {"path": str(VIEWS)}, "breakpoints": []})
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body == b"chunk 0\nchunk 1\nchunk 2\n"

        client.request(
            "setBreakpoints",
            {"source": {"path": str(VIEWS)}, "breakpoints": [{"line": n} for n in lines.values()]},
        )
        for path in ("/", "/async", "/stream", "/health"):
            assert server.get(path, source="127.0.0.2", timeout=10).status == 200
        no_stop(client, 0.5)
    assert server.get("/health").body == b"ok"


@pytest.mark.parametrize(
    "filters", [("uncaught",), ("uncaught", "userUnhandled")], ids=["uncaught", "user"]
)
def test_view_errors_stop_once_then_500(
    django: Django, filters: tuple[str, ...], request: pytest.FixtureRequest
) -> None:
    """A sync or async view's error stops the developer once, in the raising frame, before
    Django answers 500; a visitor's error never stops."""
    server = django.server
    server.get("/health")
    with DAPClient(("127.0.0.1", django.dap_port)) as client:
        assert attach(client, exception_filters=filters)["success"]
        for path, marker, number in (("/boom", "boom", "42"), ("/async-boom", "async-boom", "43")):
            paused = pause_request(client, server.http_port, path)
            assert paused.stopped["reason"] == "exception"
            raising = (marker.replace("-", "_"), marker_line(VIEWS, f"RAISE: {marker}"))
            # pydevd names the frame of a user-unhandled stop "boom (Current frame)".
            name = paused.frame["name"].removesuffix(" (Current frame)")
            assert (name, paused.frame["line"]) == raising
            assert paused.local_vars["secret_number"] == number
            client.request("continue", {"threadId": paused.thread_id})
            assert paused.request.result().status == 500
            no_stop(client)
        assert server.get("/boom", source="127.0.0.2").status == 500
        assert server.get("/async-boom", source="127.0.0.2").status == 500
        no_stop(client)
    assert server.get("/health").body == b"ok"

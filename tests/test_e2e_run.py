"""`remotedbg run` end to end: real server, real debugpy, real DAP client, real sockets."""

from __future__ import annotations

import concurrent.futures
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from dap_client import DAPClient
from ide import Background, attach, pause_request
from servers import APPS, DevServers, Server, free_port, marker_line, port_open

pytestmark = pytest.mark.e2e

FLASK_APP = APPS / "flask_app.py"


def visit(srv: Server, path: str, times: int) -> None:
    """Requests from someone who is not debugging, one after another."""
    for _ in range(times):
        assert srv.get(path, source="127.0.0.2", timeout=10).status == 200


def announced_during(client: DAPClient, action: Callable[[], None]) -> set[int]:
    """Threads debugpy announced to the IDE while `action` ran, beyond those already known.

    Asking for the threads first makes debugpy announce every running one now, rather
    than in its own time, so that only new threads count.
    """
    known = {t["id"] for t in client.request("threads")["body"]["threads"]}
    seen = len(client.received)
    action()
    client.request("modules")  # a round trip: what debugpy sent before it has arrived
    events = [m for m in client.received[seen:] if m["type"] == "event"]
    assert [e["event"] for e in events if e["event"] != "thread"] == []
    return {e["body"]["threadId"] for e in events} - known


@pytest.fixture
def server(dev_server: DevServers) -> tuple[Server, int]:
    """`remotedbg run` on the Flask sample app, with its debugger port."""
    dap_port = free_port()
    return dev_server(str(FLASK_APP), "--dap-port", str(dap_port)), dap_port


def test_not_allowlisted_client_never_arms(server: tuple[Server, int]) -> None:
    """A request from 127.0.0.2 is served but leaves the debugger port closed."""
    srv, dap_port = server
    assert srv.get("/health", source="127.0.0.2").body == b"ok"
    assert not port_open(dap_port)
    assert "ARMED" not in srv.log


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "127.0.0.1"},
        {"Forwarded": "for=127.0.0.1"},
        {"X-Real-IP": "127.0.0.1"},
    ],
)
def test_spoofed_forwarding_headers_never_arm(
    server: tuple[Server, int], headers: dict[str, str]
) -> None:
    """Forwarding headers from an untrusted peer block arming, from outside and from loopback."""
    srv, dap_port = server
    assert srv.get("/health", source="127.0.0.2", headers=headers).status == 200
    assert srv.get("/health", source="127.0.0.1", headers=headers).status == 200
    assert not port_open(dap_port)


def test_status_page_is_hidden_from_others(server: tuple[Server, int]) -> None:
    """Only allowlisted clients see /__remotedbg__; others get the app's own 404."""
    srv, dap_port = server
    assert srv.get("/__remotedbg__", source="127.0.0.2").status == 404
    assert not port_open(dap_port)


def test_allowlisted_request_arms_before_its_response(server: tuple[Server, int]) -> None:
    """By the time the arming response arrives, the debugger port accepts connections."""
    srv, dap_port = server
    status = srv.get("/__remotedbg__").json()
    assert port_open(dap_port)
    assert status["armed"] is True
    assert status["dap_host"] == "127.0.0.1"
    assert status["dap_port"] == dap_port
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", status["expires_at"])
    assert status["app_root"] == str(APPS)
    assert status["pid"] == srv.process.pid
    banner = srv.wait_for_log(r"DEBUGGER ARMED by 127\.0\.0\.1 in pid (\d+)")
    assert int(banner.group(1)) == srv.process.pid
    assert "can run any code in this process" in srv.log
    assert re.search(r"event=armed client=127\.0\.0\.1", srv.log)


def test_breakpoint_variables_continue(server: tuple[Server, int]) -> None:
    """Attach, break in a view, read a local, continue, and the HTTP response arrives."""
    srv, dap_port = server
    srv.get("/health")
    line = marker_line(FLASK_APP, "BREAK: index")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client, breakpoints={FLASK_APP: [line]})["success"]
        paused = pause_request(client, srv.http_port)
        assert paused.stopped["reason"] == "breakpoint"
        assert (paused.frame["name"], paused.frame["line"]) == ("index", line)
        assert paused.local_vars["visitor"] == "'tester'"
        client.request("continue", {"threadId": paused.thread_id})
        response = paused.request.result()
        assert (response.status, response.body) == (200, b"hello tester")


def test_a_visitor_passes_the_breakpoint_the_debugging_client_stops_on(
    server: tuple[Server, int],
) -> None:
    """Other people's requests never stop, and are not announced to the IDE one by one.

    A paused visitor would hang their browser. A ``thread`` event for every visitor request
    would flood the IDE's thread list; debugpy's thread-start wrap sends one per new thread.
    (Its periodic check of live threads still names a visitor thread now and then.)
    """
    srv, dap_port = server
    srv.get("/health")
    line = marker_line(FLASK_APP, "BREAK: index")
    visits = 10
    with DAPClient(("127.0.0.1", dap_port)) as client:
        attach(client, breakpoints={FLASK_APP: [line]})
        announced = announced_during(client, lambda: visit(srv, "/", visits))
        assert len(announced) < visits
        paused = pause_request(client, srv.http_port)
        assert paused.local_vars["visitor"] == "'tester'"
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body == b"hello tester"


def test_unhandled_exception_stops_once_then_500(server: tuple[Server, int]) -> None:
    """An unhandled view error stops the IDE once, at the raising frame; the client gets a 500."""
    srv, dap_port = server
    srv.get("/health")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        attach(client)
        paused = pause_request(client, srv.http_port, "/boom")
        assert paused.stopped["reason"] == "exception"
        assert paused.stopped["text"] == "RuntimeError"
        raising = ("boom", marker_line(FLASK_APP, "RAISE: boom"))
        assert (paused.frame["name"], paused.frame["line"]) == raising
        assert paused.local_vars["secret_number"] == "42"
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().status == 500
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=1.0)
    assert srv.get("/health").body == b"ok"


def test_after_disconnect_the_app_serves_and_no_longer_stops(server: tuple[Server, int]) -> None:
    """Once the IDE disconnects, breakpoints are gone and requests complete normally."""
    srv, dap_port = server
    srv.get("/health")
    line = marker_line(FLASK_APP, "BREAK: index")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        attach(client, breakpoints={FLASK_APP: [line]})
        assert client.request("disconnect", {"terminateDebuggee": False})["success"]
    assert srv.get("/", timeout=10).body == b"hello tester"
    assert srv.get("/boom", timeout=10).status == 500
    assert srv.get("/health").body == b"ok"


def test_exception_without_ide_is_a_500(server: tuple[Server, int]) -> None:
    """With passthrough errors on and nobody attached, an error is still a 500, not a drop."""
    srv, _ = server
    assert srv.get("/boom", source="127.0.0.2").status == 500
    assert srv.get("/boom").status == 500
    assert srv.get("/health").body == b"ok"


def test_fifty_concurrent_first_requests_arm_once(server: tuple[Server, int]) -> None:
    """Fifty simultaneous first requests start exactly one listener and all get their page."""
    srv, dap_port = server
    sources = [f"127.0.0.{1 + i % 2}" for i in range(50)]
    srv_allow = sources.count("127.0.0.1")
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda s: srv.get("/health", source=s), sources))
    assert [r.body for r in responses] == [b"ok"] * 50
    assert port_open(dap_port)
    srv.wait_for_log("event=armed")
    assert srv.log.count("event=armed") == 1
    assert srv.log.count("DEBUGGER ARMED") == 1
    assert srv_allow == 25


def test_busy_debugger_port_is_one_line_and_the_app_goes_on(dev_server: DevServers) -> None:
    """If the debugger port is taken, arming fails in one logged line; nothing hangs."""
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        srv = dev_server(str(FLASK_APP), "--dap-port", str(busy))
        status = srv.get("/__remotedbg__", timeout=20).json()
        assert status["armed"] is False
        assert "in use" in status["error"]
        assert srv.get("/health", timeout=10).body == b"ok"
        assert srv.get("/health", timeout=10).body == b"ok"
        srv.wait_for_log("could not arm")
        assert srv.log.count("could not arm the debugger") == 1
        assert "Traceback" not in srv.log


def test_until_in_the_past_refuses_to_start() -> None:
    """`remotedbg run` with a past REMOTEDBG_UNTIL says it would never arm, exit 2."""
    result = subprocess.run(
        [sys.executable, "-m", "remotedbg", "run", str(FLASK_APP), "--until", "2020-01-01T00:00Z"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: --until='2020-01-01T00:00Z': has passed, so the debugger would never arm; "
        "set a later time, or leave it unset"
    )


def test_until_passed_while_serving_never_arms(dev_server: DevServers) -> None:
    """Once REMOTEDBG_UNTIL passes, even an allowlisted request does not arm."""
    dap_port = free_port()
    soon = datetime.now(timezone.utc) + timedelta(seconds=2)
    srv = dev_server(str(FLASK_APP), "--dap-port", str(dap_port), "--until", soon.isoformat())
    time.sleep(max(0.0, (soon - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    assert srv.get("/__remotedbg__").json()["armed"] is False
    assert not port_open(dap_port)
    srv.wait_for_log("REMOTEDBG_UNTIL has passed")


def test_a_new_window_after_expiry_debugs_again(dev_server: DevServers) -> None:
    """After a window ends, the IDE is told, and a new window stops on breakpoints again."""
    dap_port = free_port()
    # Long enough to attach and step on a loaded CI machine; short enough to wait out twice.
    srv = dev_server(str(FLASK_APP), "--dap-port", str(dap_port), "--ttl", "5s")
    line = marker_line(FLASK_APP, "BREAK: index")
    for window in range(2):
        assert srv.get("/__remotedbg__").json()["armed"] is True
        with DAPClient(("127.0.0.1", dap_port)) as client:
            attach(client, breakpoints={FLASK_APP: [line]})
            paused = pause_request(client, srv.http_port)
            assert paused.frame["line"] == line
            client.request("continue", {"threadId": paused.thread_id})
            assert paused.request.result().body == b"hello tester"
            output = client.wait_event("output", timeout=20)
            assert "window" in output["body"]["output"]
            client.wait_event("terminated", timeout=10)
        srv.wait_for_log("event=expired", count=window + 1)
        assert not port_open(dap_port)
        assert srv.get("/health", source="127.0.0.2").body == b"ok"


def test_visitors_are_served_while_the_debugging_client_is_paused(
    server: tuple[Server, int],
) -> None:
    """A paused breakpoint holds only its own request: other visitors still get answers."""
    srv, dap_port = server
    srv.get("/health")
    line = marker_line(FLASK_APP, "BREAK: index")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        attach(client, breakpoints={FLASK_APP: [line]})
        paused = Background(srv.http_port, "/")
        stopped = client.wait_event("stopped")["body"]
        assert stopped["allThreadsStopped"] is False
        # Only the debugging client is traced (3.12+: only its threads are switched on in
        # pydevd's monitoring), so a visitor passes the breakpoint line itself.
        assert srv.get("/", source="127.0.0.2", timeout=10).body == b"hello tester"
        # While paused, debugpy must not sweep for live threads every few milliseconds:
        # each sweep shows the IDE whichever visitor threads are running at that moment.
        visits = 20
        assert len(announced_during(client, lambda: visit(srv, "/health", visits))) < visits // 2
        client.request("continue", {"threadId": stopped["threadId"]})
        assert paused.result().body == b"hello tester"


def test_the_ide_may_still_ask_to_stop_every_thread(server: tuple[Server, int]) -> None:
    """An IDE that sets stopAllThreadsOnSuspend gets its choice; the bridge only fills a gap."""
    srv, dap_port = server
    srv.get("/health")
    line = marker_line(FLASK_APP, "BREAK: index")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        attach(
            client,
            breakpoints={FLASK_APP: [line]},
            arguments={"stopAllThreadsOnSuspend": True},
        )
        paused = Background(srv.http_port, "/")
        stopped = client.wait_event("stopped")["body"]
        assert stopped["allThreadsStopped"] is True
        client.request("continue", {"threadId": stopped["threadId"]})
        assert paused.result().body == b"hello tester"

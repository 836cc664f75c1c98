"""`remotedbg bridge` in front of a plain `python -m debugpy --listen` process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dap_client import DAPClient, initialize_arguments
from ide import attach, pause_request
from servers import APPS, Server, free_port, marker_line, port_open

pytestmark = pytest.mark.e2e

TOKEN = "standalone-bridge-token-0123456789"
APP = APPS / "plain_server.py"


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[tuple[Server, int]]:
    """A debugpy-launched app, and `remotedbg bridge` guarding its debugger port."""
    http_port, debugpy_port, bridge_port = free_port(), free_port(), free_port()
    debuggee = Server(
        [
            sys.executable,
            "-m",
            "debugpy",
            "--listen",
            f"127.0.0.1:{debugpy_port}",
            str(APP),
            str(http_port),
        ],
        http_port=http_port,
        log_path=tmp_path / "debuggee.log",
    )
    debuggee.wait_ready()
    bridge = Server(
        [
            sys.executable,
            "-m",
            "remotedbg",
            "bridge",
            "--listen",
            f"127.0.0.1:{bridge_port}",
            "--upstream",
            f"127.0.0.1:{debugpy_port}",
            "--allow",
            "127.0.0.1",
            "--token",
            TOKEN,
            "--ttl",
            "5m",
        ],
        http_port=bridge_port,
        log_path=tmp_path / "bridge.log",
    )
    bridge.wait_ready()
    yield debuggee, bridge_port
    bridge.stop()
    debuggee.stop()
    assert "Traceback" not in bridge.log


def test_breakpoint_through_standalone_bridge(guarded: tuple[Server, int]) -> None:
    """With the token, the IDE stops at a breakpoint in the debugpy-launched app."""
    debuggee, bridge_port = guarded
    line = marker_line(APP, "BREAK: handler")
    with DAPClient(("127.0.0.1", bridge_port)) as client:
        response = attach(client, breakpoints={APP: [line]}, arguments={"remotedbgToken": TOKEN})
        assert response["success"], response
        paused = pause_request(client, debuggee.http_port, timeout=20)
        assert paused.frame["line"] == line
        assert "self" in paused.local_vars
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body == b"answer 42"


def test_standalone_bridge_refuses_foreign_peer_and_wrong_token(
    guarded: tuple[Server, int],
) -> None:
    """The standalone bridge applies the same peer and token checks."""
    _, bridge_port = guarded
    with DAPClient(("127.0.0.1", bridge_port), source="127.0.0.2") as foreign:
        assert foreign.recv_raw(timeout=5) == b""
    with DAPClient(("127.0.0.1", bridge_port)) as client:
        assert client.request("initialize", initialize_arguments())["success"]
        response = client.request("attach", {"remotedbgToken": "wrong-token-0123456789"})
        assert response["success"] is False
        assert "wrong" in response["message"]
        assert client.wait_closed(5)
    assert port_open(bridge_port)

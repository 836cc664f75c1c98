"""REMOTEDBG_BACKEND=pycharm: arming connects out to PyCharm's debug server, and only then.

PyCharm cannot run here, so a TCP listener plays its debug server: it accepts pydevd's
connection and sends CMD_RUN (101), as PyCharm does.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from servers import APPS, remotedbg_run

pytestmark = pytest.mark.e2e

pydevd_pycharm = pytest.importorskip("pydevd_pycharm")


class FakePyCharm:
    """Accepts debugger connections and records when each one opens and closes."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connected = threading.Event()
        self.closed = threading.Event()
        self.peers: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, peer = self.server.accept()
        self.peers.append(peer[0])
        self.connected.set()
        conn.sendall(b"101\t1\t\n")  # CMD_RUN: let the debuggee go on
        conn.settimeout(60)
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass
        self.closed.set()
        conn.close()
        self.server.close()


def test_arming_connects_out_and_expiry_disconnects(tmp_path: Path) -> None:
    """A foreign request connects nothing; a local one connects to the IDE; expiry hangs up."""
    ide = FakePyCharm()
    env = {"REMOTEDBG_BACKEND": "pycharm", "REMOTEDBG_IDE": f"127.0.0.1:{ide.port}"}
    server = remotedbg_run(str(APPS / "flask_app.py"), tmp_path, "--ttl", "3s", env=env)
    try:
        assert server.get("/health", source="127.0.0.2").body == b"ok"
        assert not ide.connected.wait(0.5)
        status = server.get("/__remotedbg__", timeout=30).json()
        assert status["armed"] is True
        assert status["backend"] == "pycharm"
        assert ide.connected.wait(10)
        assert ide.closed.wait(20), "the window ended but the IDE connection stayed open"
        server.wait_for_log("event=expired")
        assert "connected out to PyCharm" in server.log
        assert server.get("/health").body == b"ok"
    finally:
        server.stop()


def test_ide_not_listening_is_one_line(tmp_path: Path) -> None:
    """With no debug server at REMOTEDBG_IDE, arming fails in one line and the app serves."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    env = {"REMOTEDBG_BACKEND": "pycharm", "REMOTEDBG_IDE": f"127.0.0.1:{dead_port}"}
    server = remotedbg_run(str(APPS / "flask_app.py"), tmp_path, env=env)
    try:
        status = server.get("/__remotedbg__", timeout=30).json()
        assert status["armed"] is False
        assert "does not answer" in status["error"]
        assert server.get("/health").body == b"ok"
        assert "Traceback" not in server.log
    finally:
        server.stop()

"""`remotedbg run` as a real process: where it serves is checked before it says it serves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from servers import APPS, TESTS, Server, http_get


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("REMOTEDBG_")}
    return subprocess.run(
        [sys.executable, "-m", "remotedbg", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=TESTS,
        env=env,
        check=False,
    )


def test_busy_port_is_one_line_and_exit_2() -> None:
    """A port another program listens on is one line naming --port, exit 2, nothing before."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_cli("run", str(APPS / "wsgi_app.py"), "--port", str(port), "--dap-port", "0")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: --port={port}: already in use by another program (Address already in use); "
        "choose another --port, or stop that program\n"
    )


def test_unknown_host_is_one_line_and_exit_2() -> None:
    """A --host that does not resolve is one line naming --host, exit 2, nothing before."""
    result = run_cli("run", str(APPS / "wsgi_app.py"), "--host", "not-a-real-host.invalid")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Error: --host='not-a-real-host.invalid': cannot be resolved")
    assert len(result.stderr.splitlines()) == 1


def test_port_zero_announces_the_port_it_serves_on(tmp_path: Path) -> None:
    """With --port 0 the banner gives the port the OS picked, and the app answers there."""
    argv = [
        sys.executable,
        "-m",
        "remotedbg",
        "run",
        f"{APPS / 'wsgi_app.py'}:bare_app",
        "--port",
        "0",
    ]
    server = Server([*argv, "--dap-port", "0"], http_port=0, log_path=tmp_path / "server.log")
    try:
        match = server.wait_for_log(r"serving on http://127\.0\.0\.1:(\d+)/")
        port = int(match[1])
        assert port != 0
        assert http_get(port, "/").status == 200
    finally:
        server.stop()

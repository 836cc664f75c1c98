"""Real servers in subprocesses for end-to-end tests, in the manner of Werkzeug's DevServerClient.

Each server runs on free loopback ports and is waited for until it answers. Requests can be
sent from any 127.0.0.0/8 source address, which is how tests play a second client.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import typing as t
from pathlib import Path

import pytest

from remotedbg.audit import AUDIT_LOGGER

TESTS = Path(__file__).resolve().parent
APPS = TESTS / "apps"


_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on, never one this test run handed out already (the kernel
    may give the same ephemeral port twice in a row, and an HTTP and a DAP port collide)."""
    while True:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def marker_line(path: Path, marker: str) -> int:
    """The 1-based line holding `# marker` in `path`: tests name lines, not numbers."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if f"# {marker}" in line:
            return number
    raise LookupError(f"{marker!r} not in {path}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux, from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on, from /proc: what any local process can reach."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class Response(t.NamedTuple):
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> t.Any:
        return json.loads(self.body)


def http_get(
    port: int,
    path: str = "/",
    *,
    source: str = "127.0.0.1",
    headers: t.Mapping[str, str] | t.Iterable[tuple[str, str]] = (),
    timeout: float = 30.0,
) -> Response:
    """GET `path` from `source`; `headers` as a mapping, or as lines with repeats kept."""
    lines = headers.items() if isinstance(headers, t.Mapping) else headers
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.putrequest("GET", path)
        for name, value in lines:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return Response(response.status, response.read(), dict(response.getheaders()))
    finally:
        conn.close()


class AuditCapture(logging.Handler):
    """The fields (``record.remotedbg``) of every event on the ``remotedbg.audit`` logger."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger(AUDIT_LOGGER)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def levels(self) -> list[int]:
        return [record.levelno for record in list(self.records)]

    def events(self, name: str | None = None) -> list[dict[str, t.Any]]:
        """The events so far, all or those called `name`."""
        fields = [dict(record.__dict__["remotedbg"]) for record in list(self.records)]
        return [e for e in fields if name is None or e["event"] == name]

    def wait_for(self, event: str, timeout: float = 10.0, **fields: object) -> dict[str, t.Any]:
        """The first `event` whose fields include `fields` (str values: as substrings)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for found in self.events(event):
                if all(_matches(found.get(k), v) for k, v in fields.items()):
                    return found
            time.sleep(0.02)
        raise AssertionError(f"no {event} {fields} in {self.events()}")


def _matches(value: object, expected: object) -> bool:
    if isinstance(expected, str) and isinstance(value, str):
        return expected in value
    return value == expected


class Server:
    """A server subprocess with its log captured to a file."""

    def __init__(
        self,
        argv: list[str],
        *,
        http_port: int,
        env: dict[str, str] | None = None,
        cwd: Path = TESTS,
        log_path: Path,
    ) -> None:
        self.argv = argv
        self.http_port = http_port
        self.log_path = log_path
        self._log = log_path.open("wb")
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        for key in [k for k in full_env if k.startswith("REMOTEDBG_") and k not in (env or {})]:
            del full_env[key]
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=full_env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log}")
            if port_open(self.http_port):
                return
            time.sleep(0.05)
        raise TimeoutError(f"server not ready after {timeout}s:\n{self.log}")

    def get(self, path: str = "/", **kwargs: t.Any) -> Response:
        return http_get(self.http_port, path, **kwargs)

    @property
    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 15.0, count: int = 1) -> re.Match[str]:
        """The last of the first `count` matches of `pattern` in the log, waiting for them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            matches = list(re.finditer(pattern, self.log))
            if len(matches) >= count:
                return matches[count - 1]
            time.sleep(0.05)
        raise TimeoutError(f"{pattern!r} not {count}x in log after {timeout}s:\n{self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def remotedbg_argv(app: str, http_port: int, *args: str) -> list[str]:
    """`remotedbg run APP` serving HTTP on `http_port`, with more options after."""
    return [sys.executable, "-m", "remotedbg", "run", app, "--port", str(http_port), *args]


def remotedbg_run(
    app: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Server:
    http_port = free_port()
    argv = remotedbg_argv(app, http_port, *args)
    server = Server(argv, http_port=http_port, env=env, log_path=tmp_path / "server.log")
    server.wait_ready()
    return server


class DevServers:
    """Servers started for one test, all stopped at its end (the `dev_server` fixture).

    Each log goes to its own file in `tmp_path` and is printed at teardown, so a failing
    test shows what its servers wrote.
    """

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.servers: list[Server] = []

    def __call__(
        self, app: str, *args: str, env: dict[str, str] | None = None, cwd: Path = TESTS
    ) -> Server:
        """`remotedbg run APP *args` on a free port, answering."""
        http_port = free_port()
        return self.start(
            remotedbg_argv(app, http_port, *args), http_port=http_port, env=env, cwd=cwd
        )

    def start(
        self,
        argv: list[str],
        *,
        http_port: int,
        env: dict[str, str] | None = None,
        cwd: Path = TESTS,
    ) -> Server:
        """Any server command (gunicorn, waitress...) that serves HTTP on `http_port`, answering."""
        name = "server.log" if not self.servers else f"server-{len(self.servers)}.log"
        server = Server(argv, http_port=http_port, env=env, cwd=cwd, log_path=self.tmp_path / name)
        self.servers.append(server)
        server.wait_ready()
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()
            print(f"--- {shlex.join(server.argv)} ---\n{server.log}")


def spawn_attach(
    url: str, local_root: Path, log: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """`remotedbg attach URL` in a subprocess on a free local port, its output to `log`."""
    local_port = free_port()
    argv = [
        sys.executable, "-m", "remotedbg", "attach", url,
        "--local-port", str(local_port), "--local-root", str(local_root), *extra,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
        )
    return process, local_port


def run_script(body: str, timeout: float = 60) -> dict[str, t.Any]:
    """Run `body` in a fresh interpreter; it prints one JSON object as its last line."""
    prelude = textwrap.dedent(
        """
        import json, os, socket, sys, time
        from remotedbg.debuggee.gate import Gate
        from remotedbg.settings import Settings
        """
    )
    script = prelude + textwrap.dedent(body)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=TESTS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return t.cast("dict[str, t.Any]", json.loads(result.stdout.strip().splitlines()[-1]))


#: A DAP client in one file, for running as another user: initialize, then attach.
CLIENT = textwrap.dedent(
    """
    import json, re, socket, sys, time
    def frame(obj):
        body = json.dumps(obj).encode()
        return b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body
    source = (sys.argv[3], 0) if len(sys.argv) > 3 else None
    sock = socket.create_connection(
        ("127.0.0.1", int(sys.argv[1])), timeout=5, source_address=source
    )
    arguments = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    sock.sendall(
        frame({"seq": 1, "type": "request", "command": "initialize",
               "arguments": {"adapterID": "debugpy"}})
        + frame({"seq": 2, "type": "request", "command": "attach", "arguments": arguments})
    )
    data, deadline = b"", time.monotonic() + 5
    while not re.search(rb'"command": ?"attach"', data) and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    sock.close()
    print(data.decode(errors="replace"))
    """
)


def attach_answer(received: str) -> dict[str, t.Any] | None:
    """The response to ``attach`` among the frames a raw client printed, if any."""
    for body in re.split(r"Content-Length: \d+\r?\n\r?\n", received)[1:]:
        message = json.loads(body)
        if message.get("type") == "response" and message.get("command") == "attach":
            return t.cast("dict[str, t.Any]", message)
    return None


def python_for(user: str) -> str:
    """An interpreter `user` may run (the venv's may sit under a private home)."""
    for candidate in (sys.executable, "/usr/bin/python3", shutil.which("python3")):
        if candidate is None:
            continue
        try:
            probe = subprocess.run(
                [candidate, "-c", "pass"], user=user, capture_output=True, timeout=30, check=False
            )
        except PermissionError:
            continue
        if probe.returncode == 0:
            return candidate
    raise pytest.skip.Exception(f"no Python interpreter that {user} may run")


def run_client(
    port: int,
    user: str | None = None,
    arguments: dict[str, t.Any] | None = None,
    source: str | None = None,
) -> str:
    """A raw DAP client, as `user` (from `source`): initialize and attach; what it read."""
    python = python_for(user) if user is not None else sys.executable
    result = subprocess.run(
        [
            python,
            "-c",
            CLIENT,
            str(port),
            json.dumps(arguments or {}),
            *([source] if source else []),
        ],
        user=user,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

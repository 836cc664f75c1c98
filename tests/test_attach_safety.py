"""`remotedbg attach` against a hostile or racing world: where the token goes, who may use the
relay, stopping by signal, and the window's end.

The server is played by two fakes on loopback: a status page (a tiny http.server in a
thread) and a DAP bridge that records every byte it receives, so a test can tell whether
the token ever reached it.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
import typing as t
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from remotedbg.sansio.dap_codec import Decoder, Event, Request, Response, encode

from dap_client import DAPClient, initialize_arguments
from servers import port_open, run_client, spawn_attach

pytestmark = pytest.mark.e2e

TOKEN = "safety-test-token-0123456789abcdef"
STOPPED = "remotedbg attach: stopped"


def iso(moment: float) -> str:
    """`moment` as the server writes expires_at: whole seconds, UTC."""
    return datetime.fromtimestamp(int(moment), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(
    dap_port: int, *, dap_host: str = "127.0.0.1", expires_at: float = 0.0
) -> dict[str, t.Any]:
    return {
        "armed": True,
        "pid": 4242,
        "dap_host": dap_host,
        "dap_port": dap_port,
        "expires_at": iso(expires_at or time.time() + 120),
        "app_root": "/srv/shop",
        "token_required": True,
        "backend": "debugpy",
        "error": None,
    }


class StatusPage:
    """Answers ``GET /__remotedbg__`` with `page`, after `delay` seconds (cut short by close)."""

    def __init__(self, page: dict[str, t.Any], *, delay: float = 0.0) -> None:
        self.requested = threading.Event()
        self._release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requested.set()
                outer._release.wait(delay)
                body = json.dumps(page).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: t.Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class FakeBridge:
    """The server's DAP bridge, played: records every byte and answers every request.

    With `end_at` (a time.time()), each session is then ended as the server ends it when
    the window closes: an ``output`` event saying so, ``terminated``, and the close.
    """

    def __init__(self, host: str = "127.0.0.1", *, end_at: float | None = None) -> None:
        self.listener = socket.create_server((host, 0))
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.end_at = end_at
        self.connections = 0
        self._received = bytearray()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def received(self) -> bytes:
        with self._lock:
            return bytes(self._received)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._session, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _session(self, conn: socket.socket) -> None:
        send_lock = threading.Lock()
        ender = None
        if self.end_at is not None:
            ender = threading.Timer(
                max(0.0, self.end_at - time.time()), self._end, args=(conn, send_lock)
            )
            ender.start()
        decoder, seq = Decoder(), 0
        conn.settimeout(0.1)
        with conn:
            while not self._closed.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                with self._lock:
                    self._received += data
                decoder.receive_data(data)
                while isinstance(message := decoder.next_message(), Request | Response | Event):
                    if isinstance(message, Request):
                        seq += 1
                        with send_lock:
                            conn.sendall(encode(Response(seq, message.seq, True, message.command)))
                if not data:
                    break
        if ender is not None:
            ender.cancel()

    @staticmethod
    def _end(conn: socket.socket, send_lock: threading.Lock) -> None:
        output = {"category": "important", "output": "remotedbg: the armed window ended\n"}
        try:
            with send_lock:
                conn.sendall(encode(Event(9001, "output", output)))
                conn.sendall(encode(Event(9002, "terminated", {})))
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self._closed.set()
        self.listener.close()
        for thread in self._threads:
            thread.join(5)


@pytest.fixture
def bridge() -> Iterator[FakeBridge]:
    """A fake bridge on 127.0.0.1 that answers and records."""
    fake = FakeBridge()
    yield fake
    fake.close()


class Attach(t.NamedTuple):
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_port(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if port_open(self.port):
                return
            if self.process.poll() is not None:
                raise AssertionError(f"attach exited {self.process.returncode}: {self.output}")
            time.sleep(0.05)
        raise AssertionError(f"attach never listened: {self.output}")


@pytest.fixture
def start_attach(tmp_path: Path) -> Iterator[t.Callable[..., Attach]]:
    """Starts `remotedbg attach URL` with the token in its environment; kills what is left."""
    started: list[Attach] = []

    def start(url: str, *extra: str, env: dict[str, str] | None = None) -> Attach:
        log = tmp_path / f"attach-{len(started)}.log"
        env = {"REMOTEDBG_TOKEN": TOKEN, **(env or {})}
        process, port = spawn_attach(url, tmp_path, log, *extra, env=env)
        started.append(Attach(process, port, log))
        return started[-1]

    yield start
    for attach in started:
        if attach.process.poll() is None:
            attach.process.kill()
            attach.process.wait(10)


def ide_attach(client: DAPClient) -> dict[str, t.Any]:
    """`initialize` and `attach`, as an IDE sends them; returns the attach response."""
    assert client.request("initialize", initialize_arguments())["success"]
    return client.request("attach", {"justMyCode": True})


# -- 1. the token goes only to the URL's host ------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[FakeBridge]:
    """A listener on 127.0.0.2, a host the URL does not name, recording what it gets."""
    fake = FakeBridge("127.0.0.2")
    yield fake
    fake.close()


def test_status_page_cannot_send_the_token_elsewhere(
    elsewhere: FakeBridge, start_attach: t.Callable[..., Attach]
) -> None:
    """A status page naming another dap_host is refused in one line, exit 2; nothing reaches it."""
    page = StatusPage(status(elsewhere.port, dap_host="127.0.0.2", expires_at=time.time() + 5))
    try:
        attach = start_attach(page.url)
        deadline = time.monotonic() + 20
        while attach.process.poll() is None and time.monotonic() < deadline:
            if port_open(attach.port):  # it relays after all: play the IDE, as an attacker hopes
                with DAPClient(("127.0.0.1", attach.port)) as client:
                    ide_attach(client)
                break
            time.sleep(0.05)
        code = attach.process.wait(20)
    finally:
        page.close()
    lines = attach.output.strip().splitlines()
    assert elsewhere.connections == 0
    assert TOKEN.encode() not in elsewhere.received
    assert code == 2, attach.output
    assert len(lines) == 1, attach.output
    assert "127.0.0.2" in lines[0]
    assert "URL's host 127.0.0.1" in lines[0]
    assert "REMOTEDBG_DAP_HOST" in lines[0]


# -- 2. the relay is this user's only (Linux) -------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peer owners come from /proc")
def test_relay_refuses_another_users_connection(
    bridge: FakeBridge, start_attach: t.Callable[..., Attach]
) -> None:
    """A connection from another local user gets a refusal and no session; our own is relayed."""
    if os.getuid() != 0:
        pytest.skip("needs root, to run a client as another user")
    try:
        nobody = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no user called nobody")
    page = StatusPage(status(bridge.port))
    try:
        attach = start_attach(page.url)
        attach.wait_port()
        refused = run_client(attach.port, user="nobody")
        assert bridge.connections == 0
        assert TOKEN.encode() not in bridge.received
        assert '"success":false' in refused, refused
        assert f"not for uid {nobody}" in refused
        assert f"refused a connection from uid {nobody}" in attach.output
        assert attach.process.poll() is None  # one refusal does not end the relay

        relayed = run_client(attach.port)  # the positive control: the same client, as us
        assert relayed.count('"success":true') == 2, relayed
        assert TOKEN.encode() in bridge.received
        assert bridge.connections == 1
    finally:
        page.close()
    assert "Traceback" not in attach.output


# -- 3. SIGTERM and Ctrl-C end it cleanly at any moment ----------------------------------

FAKE_SSH = textwrap.dedent(
    """\
    #!{python}
    import os, sys, time
    open({pid_file!r}, "w").write(str(os.getpid()))
    time.sleep(60)  # never opens the -L port: attach waits for it
    """
)


def gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie counts: it runs nothing and holds no port)."""
    try:
        with open(f"/proc/{pid}/stat") as proc:
            return proc.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("moment", ["status fetch", "ssh tunnel", "relaying"])
def test_signal_ends_cleanly(
    moment: str,
    sig: signal.Signals,
    bridge: FakeBridge,
    start_attach: t.Callable[..., Attach],
    tmp_path: Path,
) -> None:
    """SIGTERM or Ctrl-C, at any step, ends attach with one line and exit 0, the tunnel closed."""
    if signal.getsignal(sig) is signal.SIG_IGN:
        pytest.skip(f"{sig.name} is ignored here, so attach inherits it ignored and keeps it so")
    page = StatusPage(status(bridge.port), delay=30 if moment == "status fetch" else 0)
    client = None
    try:
        if moment == "ssh tunnel":
            bin_dir, pid_file = tmp_path / "bin", tmp_path / "ssh.pid"
            bin_dir.mkdir()
            fake_ssh = bin_dir / "ssh"
            fake_ssh.write_text(FAKE_SSH.format(python=sys.executable, pid_file=str(pid_file)))
            fake_ssh.chmod(fake_ssh.stat().st_mode | stat.S_IEXEC)
            env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
            attach = start_attach(page.url, "--ssh", "dev@staging", env=env)
            deadline = time.monotonic() + 20
            while not pid_file.exists() or not pid_file.read_text():
                assert time.monotonic() < deadline, attach.output
                time.sleep(0.05)
        elif moment == "status fetch":
            attach = start_attach(page.url)
            assert page.requested.wait(20), attach.output
        else:
            attach = start_attach(page.url)
            attach.wait_port()
            client = DAPClient(("127.0.0.1", attach.port))
            assert ide_attach(client)["success"]
        time.sleep(0.2)
        attach.process.send_signal(sig)
        code = attach.process.wait(20)
    finally:
        if client is not None:
            client.close()
        page.close()
    assert "Traceback" not in attach.output
    assert code == 0, attach.output
    assert attach.output.strip().splitlines()[-1] == STOPPED
    if moment == "status fetch":
        assert attach.output.strip() == STOPPED
    if moment == "ssh tunnel":
        assert gone(int(pid_file.read_text())), "the ssh tunnel outlived remotedbg attach"


# -- 4. the window's end: the server's last words reach the IDE ---------------------------


def window_ending_soon() -> float:
    """A whole-second expires_at about two seconds ahead, as the server writes it."""
    return float(int(time.time()) + 3)


# The server ends sessions a little after the whole-second expires_at; the relay's old
# one-second tick sometimes outlived 0.5 s and never 1.5 s, so both are checked.
@pytest.mark.parametrize("late", [0.5, 1.5])
def test_ide_gets_the_servers_last_words(
    late: float, start_attach: t.Callable[..., Attach]
) -> None:
    """Past the local expiry the session runs on until the server ends it; its events arrive."""
    expires_at = window_ending_soon()
    late_bridge = FakeBridge(end_at=expires_at + late)
    page = StatusPage(status(late_bridge.port, expires_at=expires_at))
    try:
        attach = start_attach(page.url)
        attach.wait_port()
        with DAPClient(("127.0.0.1", attach.port), timeout=15) as client:
            assert ide_attach(client)["success"]
            output = client.wait_event("output")
            client.wait_event("terminated")
            assert client.wait_closed()
        assert time.time() >= expires_at + late
        assert "the armed window ended" in output["body"]["output"]
        assert attach.process.wait(20) == 0
    finally:
        page.close()
        late_bridge.close()
    assert "Traceback" not in attach.output
    assert "the armed window ended" in attach.output.strip().splitlines()[-1]


def test_no_new_ide_after_the_window_ends(start_attach: t.Callable[..., Attach]) -> None:
    """Past the local expiry, new IDE connections are refused while the running one relays on."""
    expires_at = window_ending_soon()
    late_bridge = FakeBridge(end_at=expires_at + 2.0)
    page = StatusPage(status(late_bridge.port, expires_at=expires_at))
    try:
        attach = start_attach(page.url)
        attach.wait_port()
        with DAPClient(("127.0.0.1", attach.port), timeout=15) as client:
            assert ide_attach(client)["success"]
            time.sleep(max(0.0, expires_at + 0.7 - time.time()))
            assert not port_open(attach.port)
            assert client.request("threads")["success"]
            client.wait_event("terminated")
        assert attach.process.wait(20) == 0
    finally:
        page.close()
        late_bridge.close()
    assert "Traceback" not in attach.output

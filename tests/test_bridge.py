"""The DAP bridge against a real debugpy in a subprocess, over real loopback sockets."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from remotedbg.audit import Audit
from remotedbg.door.access import TOKEN_FIELD, AccessPolicy, Window
from remotedbg.door.bridge import Bridge
from remotedbg.door.session import adapter_capabilities
from remotedbg.sansio.addresses import AddressSet
from remotedbg.sansio.dap_codec import NEED_DATA, Decoder, Message, encode, message_to_dict

from dap_client import DAPClient, initialize_arguments
from servers import AuditCapture, http_get

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-token-4f1d2c"
WAIT = 10.0

#: The app under the debugger: an HTTP endpoint whose request can be paused in work().
#: With REMOTEDBG_TEST_TOKEN set it also runs a Bridge in-process, where pydevd can see it.
DEBUGGEE = """
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import debugpy


def work(n):
    doubled = n * 2
    return doubled  # BREAK


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(work(21)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_bridge(upstream):
    from remotedbg.door.access import AccessPolicy, Window
    from remotedbg.sansio.addresses import AddressSet
    from remotedbg.audit import Audit
    from remotedbg.door.bridge import Bridge

    class Policy(AccessPolicy):
        def check_peer(self, peer):
            return super().check_peer(peer)  # BRIDGE: runs on the bridge thread

    window = Window(ttl=600)
    window.open()
    token = os.environ["REMOTEDBG_TEST_TOKEN"]
    policy = Policy(AddressSet.parse(["127.0.0.1/32"]), token, window)
    bridge = Bridge(listen=("127.0.0.1", 0), upstream=upstream, policy=policy, audit=Audit())
    return bridge.start()[1]


ports = {}
if os.environ.get("REMOTEDBG_TEST_TOKEN"):
    # Started before debugpy, as the gate does: pydevd must skip an existing thread too.
    ports["bridge"] = start_bridge(lambda: ("127.0.0.1", ports["debug"]))
ports["debug"] = debugpy.listen(("127.0.0.1", 0), in_process_debug_adapter=True)[1]
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ports["http"] = server.server_address[1]
print(json.dumps(ports), flush=True)
server.serve_forever()
"""


class Debuggee(t.NamedTuple):
    process: subprocess.Popen[str]
    ports: dict[str, int]
    script: Path

    def line(self, marker: str = "BREAK") -> int:
        """The line marked `# marker`: tests name lines, not numbers."""
        lines = enumerate(DEBUGGEE.splitlines(), 1)
        return next(number for number, text in lines if f"# {marker}" in text)

    def breakpoint_arguments(self, *markers: str) -> dict[str, t.Any]:
        lines = [{"line": self.line(marker)} for marker in markers or ("BREAK",)]
        return {"source": {"path": str(self.script)}, "breakpoints": lines}


@contextlib.contextmanager
def run_debuggee(directory: Path, bridge_token: str | None = None) -> t.Iterator[Debuggee]:
    script = directory / "debuggee.py"
    script.write_text(DEBUGGEE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    if bridge_token is not None:
        env["REMOTEDBG_TEST_TOKEN"] = bridge_token
    command = [sys.executable, "-X", "frozen_modules=off", str(script)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        ports = json.loads(process.stdout.readline())
        yield Debuggee(process, ports, script)
    finally:
        process.kill()
        process.wait(WAIT)
        if process.stdout is not None:
            process.stdout.close()


class RecordingProxy:
    """A plain TCP relay between the bridge and debugpy that keeps what goes to debugpy."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self.sent = bytearray()
        self.connections = 0
        self._sockets: list[socket.socket] = [self.listener]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def recorded(self) -> bytes:
        with self._lock:
            return bytes(self.sent)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if record:
                    with self._lock:
                        self.sent += data
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:  # shutdown() wakes threads blocked in accept() and recv()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class FakeDebugger:
    """A scripted DAP server in debugpy's place, for what debugpy rarely sends on cue.

    ``big`` sends three 10 MB events in odd-sized pieces, a small event, then the response;
    ``half`` sends half a 10 MB event and holds the rest back until the next request;
    ``garbage`` sends a broken header.
    """

    SIZE = 10_000_000

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self.requests: list[dict[str, t.Any]] = []
        self.data = "x" * self.SIZE
        self.big = encode({"seq": 1, "type": "event", "event": "big", "body": {"data": self.data}})
        self._held = b""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join(WAIT)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        decoder = Decoder()
        while data := conn.recv(65536):
            decoder.receive_data(data)
            msg = decoder.next_message()
            while msg is not NEED_DATA and msg is not None:
                self._answer(conn, msg)
                msg = decoder.next_message()

    def _answer(self, conn: socket.socket, msg: Message) -> None:
        request = message_to_dict(msg)
        self.requests.append(request)
        conn.sendall(self._held)  # any request lets a held-back frame finish
        self._held = b""
        if request.get("command") == "garbage":
            conn.sendall(b"garbage\r\n\r\n")
            return
        if request.get("command") == "half":
            half = len(self.big) // 2
            conn.sendall(self.big[:half])
            self._held = self.big[half:]
            return
        if request.get("command") == "big":
            for _ in range(3):
                for start in range(0, len(self.big), 100_003):
                    conn.sendall(self.big[start : start + 100_003])
            conn.sendall(encode({"seq": 2, "type": "event", "event": "small", "body": {}}))
        response = {"seq": 3, "type": "response", "success": True, "body": {}}
        conn.sendall(encode({**response, "request_seq": msg.seq, "command": request["command"]}))


def wait_until(condition: t.Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class Peers:
    """Records on_attach / on_detach calls."""

    def __init__(self) -> None:
        self.attached: list[str] = []
        self.detached: list[str] = []


MakeBridge = t.Callable[..., Bridge]


@pytest.fixture(scope="module")
def debuggee(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Debuggee]:
    with run_debuggee(tmp_path_factory.mktemp("debuggee")) as running:
        yield running


@pytest.fixture
def proxy(debuggee: Debuggee) -> t.Iterator[RecordingProxy]:
    relay = RecordingProxy(("127.0.0.1", debuggee.ports["debug"]))
    yield relay
    relay.close()


@pytest.fixture
def fake() -> t.Iterator[FakeDebugger]:
    server = FakeDebugger()
    yield server
    server.close()


@pytest.fixture
def peers() -> Peers:
    return Peers()


@pytest.fixture
def make_bridge(audit_log: AuditCapture, peers: Peers) -> t.Iterator[MakeBridge]:
    bridges: list[Bridge] = []

    def make(
        upstream: tuple[str, int],
        *,
        allow: t.Sequence[str] = ("127.0.0.1/32",),
        open_window: bool = True,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        handshake_timeout: float = WAIT,
    ) -> Bridge:
        window = Window(ttl=600)
        if open_window:
            window.open()
        bridge = Bridge(
            listen=listen,
            upstream=lambda: upstream,
            policy=AccessPolicy(AddressSet.parse(allow), TOKEN, window),
            audit=Audit(audit_log.logger),
            handshake_timeout=handshake_timeout,
            on_attach=peers.attached.append,
            on_detach=peers.detached.append,
        )
        bridges.append(bridge)
        bridge.start()
        return bridge

    yield make
    for bridge in bridges:
        bridge.close("the test ended")


@pytest.fixture
def bridge(make_bridge: MakeBridge, proxy: RecordingProxy) -> Bridge:
    return make_bridge(proxy.address)


def address_of(bridge: Bridge) -> tuple[str, int]:
    assert bridge.address is not None
    return bridge.address


def attach(client: DAPClient, token: str | None = TOKEN, **arguments: t.Any) -> dict[str, t.Any]:
    """Initialize, then attach with `token` in the right field; the attach response."""
    assert client.request("initialize", initialize_arguments())["success"]
    if token is not None:
        arguments[TOKEN_FIELD] = token
    return client.request("attach", {"justMyCode": False, **arguments})


def configure(client: DAPClient, debuggee: Debuggee, *markers: str) -> None:
    """What VS Code does after `initialized`: breakpoints, then configurationDone."""
    client.wait_event("initialized")
    answer = client.request("setBreakpoints", debuggee.breakpoint_arguments(*markers))
    assert all(found["verified"] for found in answer["body"]["breakpoints"])
    assert client.request("configurationDone")["success"]


def pause_request(
    client: DAPClient, debuggee: Debuggee, pool: ThreadPoolExecutor
) -> tuple[Future[bytes], int]:
    """Send an HTTP request that stops at the breakpoint; its future and thread id."""
    port = debuggee.ports["http"]
    pending = pool.submit(lambda: http_get(port).body)
    stopped = client.wait_event("stopped")
    assert stopped["body"]["reason"] == "breakpoint"
    return pending, stopped["body"]["threadId"]


def detach(client: DAPClient) -> None:
    assert client.request("disconnect", {"terminateDebuggee": False})["success"]
    assert client.wait_closed()


def assert_refused_silently(address: tuple[str, int], source: str = "127.0.0.1") -> None:
    with DAPClient(address, source=source) as client:
        assert client.recv_raw(timeout=WAIT) == b""


# -- rule 1: the peer check at accept ---------------------------------------------------


def test_peer_off_the_allowlist_gets_no_bytes(bridge: Bridge, audit_log: AuditCapture) -> None:
    """A peer outside the allowlist is closed at accept without one DAP byte."""
    assert_refused_silently(address_of(bridge), source="127.0.0.2")
    audit_log.wait_for("refused", peer="127.0.0.2", reason="allowlist")


def test_no_armed_window_refuses(
    make_bridge: MakeBridge, proxy: RecordingProxy, audit_log: AuditCapture
) -> None:
    """An allowlisted peer is still refused while no window is open."""
    bridge = make_bridge(proxy.address, open_window=False)
    assert_refused_silently(address_of(bridge))
    audit_log.wait_for("refused", peer="127.0.0.1", reason="no armed window")
    assert proxy.connections == 0


def test_ipv6_listen_host(make_bridge: MakeBridge, proxy: RecordingProxy) -> None:
    """The bridge binds an IPv6 host and checks IPv6 peers against the allowlist."""
    try:
        bridge = make_bridge(proxy.address, listen=("::1", 0), allow=["::1/128"])
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with DAPClient(address_of(bridge)) as client:
        answer = client.request("initialize", initialize_arguments())
    assert answer["success"]
    assert address_of(bridge)[0] == "::1"


def test_busy_port_raises_in_start(make_bridge: MakeBridge, proxy: RecordingProxy) -> None:
    """start() binds in the caller, so a busy port raises OSError there and then."""
    first = make_bridge(proxy.address)
    second = Bridge(
        listen=address_of(first),
        upstream=lambda: proxy.address,
        policy=AccessPolicy(AddressSet.parse(["127.0.0.1/32"]), TOKEN, Window(ttl=60)),
        audit=Audit(logging.getLogger("remotedbg.audit.test-busy")),
    )
    with pytest.raises(OSError, match="in use"):
        second.start()
    assert second.address is None


# -- rule 2: the handshake ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("initialize_extra", "attach_extra", "expected"),
    [
        pytest.param({}, {}, f'no "{TOKEN_FIELD}"', id="no-token"),
        pytest.param({}, {TOKEN_FIELD: "wrong"}, "is wrong", id="wrong-token"),
        pytest.param({TOKEN_FIELD: TOKEN}, {}, f'no "{TOKEN_FIELD}"', id="token-in-initialize"),
        pytest.param({}, {"token": TOKEN}, f'no "{TOKEN_FIELD}"', id="token-as-token"),
        pytest.param({}, {TOKEN_FIELD: 1234}, "must be a string", id="token-not-a-string"),
    ],
)
def test_attach_without_the_right_token_fails_clearly(
    bridge: Bridge,
    proxy: RecordingProxy,
    audit_log: AuditCapture,
    initialize_extra: dict[str, t.Any],
    attach_extra: dict[str, t.Any],
    expected: str,
) -> None:
    """A missing, wrong or misplaced token fails the attach visibly and never reaches debugpy."""
    with DAPClient(address_of(bridge)) as client:
        initialized = client.request("initialize", {**initialize_arguments(), **initialize_extra})
        assert initialized["success"]
        answer = client.request("attach", attach_extra)
        assert client.wait_closed()
    assert answer["success"] is False
    assert expected in answer["message"]
    assert answer["body"]["error"] == {
        "id": 1,
        "format": answer["message"],
        "showUser": True,
        "remotedbgRefusal": "token",  # what code reads (remotedbg.sansio.refusals)
    }
    audit_log.wait_for("token_rejected", peer="127.0.0.1", reason=expected)
    assert proxy.connections == 0


def test_refusal_survives_pipelined_requests(bridge: Bridge, proxy: RecordingProxy) -> None:
    """An IDE that keeps sending after a refused attach still reads the refusal."""
    handshake = [
        {"seq": 1, "type": "request", "command": "initialize", "arguments": {}},
        {"seq": 2, "type": "request", "command": "attach", "arguments": {}},
    ]
    flood = encode({"seq": 3, "type": "request", "command": "threads"}) * 200_000  # ~11 MB

    def send_all(client: DAPClient) -> None:
        with contextlib.suppress(OSError):
            client.send_raw(b"".join(encode(request) for request in handshake) + flood)

    with DAPClient(address_of(bridge)) as client, ThreadPoolExecutor(1) as pool:
        sending = pool.submit(send_all, client)
        answer = client.wait_response(2)
        client.wait_closed()  # a reset now is fine: the answer was read
        sending.result(timeout=WAIT)
    assert answer["success"] is False
    assert f'no "{TOKEN_FIELD}"' in answer["message"]
    assert proxy.connections == 0


def test_five_wrong_tokens_slow_down_but_do_not_lock_out(
    make_bridge: MakeBridge, fake: FakeDebugger, audit_log: AuditCapture
) -> None:
    """After five wrong tokens from 127.0.0.1 the right one is admitted within 15 s."""
    bridge = make_bridge(fake.address)
    messages = []
    for _ in range(5):
        with DAPClient(address_of(bridge)) as client:
            messages.append(attach(client, token="wrong")["message"])
    assert not [m for m in messages if "locked out" in m or "tries left" in m]
    assert "slow down, then retry" in messages[-1]
    audit_log.wait_for("throttled", peer="127.0.0.1", reason="from this address")
    started = time.monotonic()
    with DAPClient(address_of(bridge), timeout=15) as client:
        assert attach(client)["success"]
        detach(client)
    assert time.monotonic() - started < 15
    assert not audit_log.events("refused")


def test_right_token_gets_in_within_15s_of_fifty_wrong_ones(
    make_bridge: MakeBridge, fake: FakeDebugger, audit_log: AuditCapture
) -> None:
    """Fifty wrong tokens fired from 127.0.0.1 only delay the right one, by seconds."""
    bridge = make_bridge(fake.address)
    wrong = [
        {"seq": 1, "type": "request", "command": "initialize", "arguments": {}},
        {"seq": 2, "type": "request", "command": "attach", "arguments": {TOKEN_FIELD: "wrong"}},
    ]
    for _ in range(50):  # as a guesser would: never waiting for the (delayed) verdict
        with DAPClient(address_of(bridge)) as client:
            client.send_raw(b"".join(encode(request) for request in wrong))
            assert client.wait_response(1)["success"]
    audit_log.wait_for("throttled", peer="127.0.0.1")
    started = time.monotonic()
    with DAPClient(address_of(bridge), timeout=15) as client:
        assert attach(client)["success"]
        detach(client)
    took = time.monotonic() - started
    assert 1.0 < took < 15, f"{took:.2f} s: the right token must wait, but not for long"


@pytest.mark.parametrize(
    ("requests", "expected"),
    [
        pytest.param(["initialize", "launch"], "remotedbg only supports attach", id="launch"),
        pytest.param(["threads"], "remotedbg only supports attach", id="threads-first"),
        pytest.param(["initialize", "evaluate"], "remotedbg only supports attach", id="evaluate"),
        pytest.param(["attach"], "send initialize before attach", id="attach-first"),
    ],
)
def test_requests_other_than_attach_are_refused(
    bridge: Bridge, proxy: RecordingProxy, requests: list[str], expected: str
) -> None:
    """Before a valid attach the bridge answers only initialize; anything else fails and closes."""
    with DAPClient(address_of(bridge)) as client:
        answers = [client.request(command, {TOKEN_FIELD: TOKEN}) for command in requests]
        assert client.wait_closed()
    assert answers[-1]["success"] is False
    assert expected in answers[-1]["message"]
    assert proxy.connections == 0


def test_handshake_timeout_closes_silent_and_stalled_clients(
    make_bridge: MakeBridge, proxy: RecordingProxy, audit_log: AuditCapture
) -> None:
    """A client that sends nothing, or stops after initialize, is closed after the timeout."""
    bridge = make_bridge(proxy.address, handshake_timeout=0.5)
    with DAPClient(address_of(bridge)) as silent:
        assert silent.wait_closed(timeout=WAIT)
    with DAPClient(address_of(bridge)) as stalled:
        assert stalled.request("initialize", initialize_arguments())["success"]
        assert stalled.wait_closed(timeout=WAIT)
    wait_until(lambda: len(audit_log.events("fault")) == 2)
    assert {e["reason"] for e in audit_log.events("fault")} == {"handshake timeout"}
    assert proxy.connections == 0


def test_idle_connections_cannot_keep_the_developer_out(
    make_bridge: MakeBridge, fake: FakeDebugger, audit_log: AuditCapture
) -> None:
    """Past the caps on connections before attach the oldest idle one goes, not the newcomer."""
    bridge = make_bridge(fake.address, allow=["127.0.0.0/24"])
    sources = [f"127.0.0.{n}" for n in range(2, 7)]
    idle = [DAPClient(address_of(bridge), source=s) for s in sources for _ in range(10)]
    try:
        audit_log.wait_for("dropped", peer="127.0.0.2", reason="from this address")
        audit_log.wait_for("dropped", reason="too many connections before attach")
        with DAPClient(address_of(bridge)) as client:
            assert attach(client)["success"]
            detach(client)
        assert idle[0].wait_closed(), "the oldest idle connection is dropped"
        assert idle[-1].request("initialize")["success"], "the newest is still served"
    finally:
        for client in idle:
            client.close()


def test_big_requests_wait_for_a_successful_attach(
    make_bridge: MakeBridge, fake: FakeDebugger, audit_log: AuditCapture
) -> None:
    """Before attach a frame over 64 KiB is refused at its header; once attached it passes."""
    bridge = make_bridge(fake.address)
    with DAPClient(address_of(bridge)) as client:
        client.send_raw(b"Content-Length: 4194304\r\n\r\n" + b"x" * 1000)
        assert client.wait_closed() in (True, False)
    audit_log.wait_for("fault", peer="127.0.0.1", reason="exceeds the 65536-byte cap")
    with DAPClient(address_of(bridge)) as client:
        assert attach(client)["success"]
        assert client.request("evaluate", {"expression": "x" * 1_000_000})["success"]
        detach(client)
    assert fake.requests[-2]["arguments"]["expression"] == "x" * 1_000_000


def test_a_connect_loop_does_not_flood_the_log(bridge: Bridge, audit_log: AuditCapture) -> None:
    """500 refused connections from one address write a handful of audit lines, not 500."""
    for _ in range(500):
        with socket.create_connection(address_of(bridge), source_address=("127.0.0.2", 0)):
            pass
    audit_log.wait_for("refused", peer="127.0.0.2")
    time.sleep(0.5)
    assert 1 <= len(audit_log.events("refused")) <= 5


# -- rule 3: a real session ---------------------------------------------------------------


def test_debugging_through_the_bridge_works_and_the_token_stays_out(
    bridge: Bridge,
    debuggee: Debuggee,
    proxy: RecordingProxy,
    audit_log: AuditCapture,
    peers: Peers,
) -> None:
    """Breakpoint, stack, scopes, variables and continue all work; debugpy never sees the token."""
    with DAPClient(address_of(bridge)) as client, ThreadPoolExecutor(1) as pool:
        assert attach(client)["success"]
        audit_log.wait_for("attached", peer="127.0.0.1")
        assert bridge.client == "127.0.0.1"
        configure(client, debuggee)
        pending, thread_id = pause_request(client, debuggee, pool)
        frame = client.request("stackTrace", {"threadId": thread_id})["body"]["stackFrames"][0]
        assert (frame["name"], frame["line"]) == ("work", debuggee.line())
        scopes = client.request("scopes", {"frameId": frame["id"]})["body"]["scopes"]
        reference = scopes[0]["variablesReference"]
        variables = client.request("variables", {"variablesReference": reference})["body"]
        assert {v["name"]: v["value"] for v in variables["variables"]}["doubled"] == "42"
        assert client.request("continue", {"threadId": thread_id})["success"]
        assert pending.result(timeout=WAIT) == b"42"
        detach(client)
    initialize_answers = [
        m for m in client.received if m["type"] == "response" and m["command"] == "initialize"
    ]
    assert [m["body"] for m in initialize_answers] == [adapter_capabilities()]
    recorded = proxy.recorded()
    assert b'"justMyCode"' in recorded  # the attach did go through the proxy
    assert TOKEN.encode() not in recorded
    audit_log.wait_for("detached", peer="127.0.0.1", reason="the IDE disconnected")
    wait_until(lambda: peers.detached == ["127.0.0.1"])
    assert peers.attached == ["127.0.0.1"]
    assert bridge.client is None


def test_unreachable_debugger_fails_the_attach(
    make_bridge: MakeBridge, audit_log: AuditCapture
) -> None:
    """With nothing listening upstream, attach fails with "not reachable" and a fault is audited."""
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))  # bound, never listening: connecting is refused
        bridge = make_bridge(placeholder.getsockname()[:2])
        with DAPClient(address_of(bridge)) as client:
            answer = attach(client)
            assert client.wait_closed()
    assert answer["success"] is False
    assert answer["message"].startswith("remotedbg: the debugger is not reachable (")
    audit_log.wait_for("fault", peer="127.0.0.1", reason="not reachable")


# -- rule 4: big bodies, forwarded as they arrive ---------------------------------------


def test_large_bodies_arrive_whole_and_in_order(
    make_bridge: MakeBridge, fake: FakeDebugger
) -> None:
    """10 MB bodies sent in odd-sized pieces reach the IDE intact, in order, with what follows."""
    bridge = make_bridge(fake.address)
    with DAPClient(address_of(bridge)) as client:
        assert attach(client)["success"]
        assert client.request("big", timeout=60)["success"]
        detach(client)
    events = [m["event"] for m in client.received if m["type"] == "event"]
    assert events == ["big", "big", "big", "small"]
    assert all(m["body"]["data"] == fake.data for m in client.received if m.get("event") == "big")


def test_close_mid_frame_waits_for_the_frame_boundary(
    make_bridge: MakeBridge, fake: FakeDebugger
) -> None:
    """close() while a 10 MB frame is half sent: the IDE gets it whole, then output, terminated."""
    bridge = make_bridge(fake.address)
    with DAPClient(address_of(bridge)) as client, ThreadPoolExecutor(1) as pool:
        assert attach(client)["success"]
        client.send("half")
        while not client.decoder.pending:
            client.read_some()
        # From another thread, as the expiry timer does: the IDE must go on reading.
        closing = pool.submit(bridge.close, "the armed window ended")
        assert client.wait_event("big", timeout=30)["body"]["data"] == fake.data
        client.wait_event("output")
        client.wait_event("terminated")
        assert client.wait_closed()
        closing.result(timeout=WAIT)
    commands = [r["command"] for r in fake.requests]
    assert commands[-2:] == ["continue", "disconnect"]
    assert fake.requests[-1]["arguments"] == {"terminateDebuggee": False}
    assert TOKEN not in json.dumps(fake.requests)


def test_garbage_from_the_debugger_ends_the_session_with_a_fault(
    make_bridge: MakeBridge, fake: FakeDebugger, audit_log: AuditCapture
) -> None:
    """A broken frame from the debugger closes the session, tells the IDE, and is audited."""
    bridge = make_bridge(fake.address)
    with DAPClient(address_of(bridge)) as client:
        assert attach(client)["success"]
        client.send("garbage")
        assert "no colon" in client.wait_event("output")["body"]["output"]
        client.wait_event("terminated")
        assert client.wait_closed()
    audit_log.wait_for("fault", peer="127.0.0.1", reason="no colon")
    audit_log.wait_for("detached", peer="127.0.0.1", reason="no colon")
    with DAPClient(address_of(bridge)) as client:
        assert attach(client)["success"]
        detach(client)


# -- rule 5: one client at a time -------------------------------------------------------------


def test_second_client_is_refused_and_reattach_works(
    bridge: Bridge, debuggee: Debuggee, proxy: RecordingProxy, peers: Peers, audit_log: AuditCapture
) -> None:
    """A second IDE is refused without learning who is attached; re-attach works after."""
    with DAPClient(address_of(bridge)) as first:
        assert attach(first)["success"]
        configure(first, debuggee)
        with DAPClient(address_of(bridge)) as second:
            answer = second.request("initialize", initialize_arguments())
            assert second.wait_closed()
        assert answer["success"] is False
        assert answer["message"] == "remotedbg: another IDE is already attached; detach it first"
        assert "127.0.0.1" not in json.dumps(answer)
        audit_log.wait_for("refused", reason="already attached", attached="127.0.0.1")
        assert first.request("threads")["success"]
        detach(first)
    wait_until(lambda: bridge.client is None)
    with DAPClient(address_of(bridge)) as again:
        assert attach(again)["success"]
        configure(again, debuggee)
        assert again.request("threads")["success"]
        detach(again)
    assert proxy.connections == 2
    wait_until(lambda: len(peers.detached) == 2)


# -- rule 6: faults stay small ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"garbage\r\n\r\n", "no colon", id="garbage"),
        pytest.param(b"Content-Length: 100\r\n\r\n{", "before EOF", id="half-frame"),
        pytest.param(b"Content-Length: 2\r\n\r\n[]", "not a JSON object", id="not-dap"),
    ],
)
def test_bad_bytes_before_attach_close_only_that_connection(
    bridge: Bridge, debuggee: Debuggee, audit_log: AuditCapture, data: bytes, reason: str
) -> None:
    """Malformed input is audited as a fault, and the next IDE attaches normally."""
    with DAPClient(address_of(bridge)) as client:
        client.send_raw(data)
        client.sock.shutdown(socket.SHUT_WR)
        client.wait_closed()  # a reset is fine too: we sent bytes the bridge never read
    audit_log.wait_for("fault", peer="127.0.0.1", reason=reason)
    with DAPClient(address_of(bridge)) as client:
        assert attach(client)["success"]
        configure(client, debuggee)
        assert client.request("threads")["success"]
        detach(client)


def test_client_vanishing_mid_message_resumes_the_paused_app(
    bridge: Bridge, debuggee: Debuggee, audit_log: AuditCapture, peers: Peers
) -> None:
    """An IDE dying mid-frame while the app is paused: fault audited, app resumed, bridge fine."""
    with ThreadPoolExecutor(1) as pool:
        with DAPClient(address_of(bridge)) as client:
            assert attach(client)["success"]
            configure(client, debuggee)
            pending, _ = pause_request(client, debuggee, pool)
            client.send_raw(b'Content-Length: 500\r\n\r\n{"seq": 9, "type": "req')
        assert pending.result(timeout=WAIT) == b"42"
    audit_log.wait_for("fault", peer="127.0.0.1", reason="before EOF")
    audit_log.wait_for("detached", peer="127.0.0.1")
    wait_until(lambda: peers.detached == ["127.0.0.1"])
    with DAPClient(address_of(bridge)) as client:
        assert attach(client)["success"]
        detach(client)


def test_debugger_dying_mid_session_closes_the_session_only(
    make_bridge: MakeBridge, tmp_path: Path, audit_log: AuditCapture
) -> None:
    """debugpy killed mid-session: the IDE is told, a fault is audited, the bridge accepts on."""
    with run_debuggee(tmp_path) as doomed:
        bridge = make_bridge(("127.0.0.1", doomed.ports["debug"]))
        with DAPClient(address_of(bridge)) as client:
            assert attach(client)["success"]
            configure(client, doomed)
            doomed.process.kill()
            doomed.process.wait(WAIT)
            client.wait_event("terminated")
            assert client.wait_closed()
    audit_log.wait_for("fault", peer="127.0.0.1")
    audit_log.wait_for("detached", peer="127.0.0.1")
    with DAPClient(address_of(bridge)) as client:
        answer = attach(client)
    assert answer["success"] is False
    assert "the debugger is not reachable" in answer["message"]


# -- rule 7: invisible to the debugger ------------------------------------------------------


def test_bridge_thread_is_hidden_from_the_debugger(tmp_path: Path) -> None:
    """A bridge inside the debuggee is not listed, not traced, and serves while all threads stop."""
    with contextlib.ExitStack() as stack:
        hosted = stack.enter_context(run_debuggee(tmp_path, bridge_token=TOKEN))
        pool = stack.enter_context(ThreadPoolExecutor(1))
        address = ("127.0.0.1", hosted.ports["bridge"])
        client = stack.enter_context(DAPClient(address))
        assert attach(client)["success"]
        # A breakpoint in code the bridge thread runs would freeze it, were it traced.
        configure(client, hosted, "BREAK", "BRIDGE")
        with DAPClient(address) as second:
            assert "already attached" in second.request("initialize")["message"]
        pending, thread_id = pause_request(client, hosted, pool)
        names = [th["name"] for th in client.request("threads")["body"]["threads"]]
        assert "MainThread" in names
        assert "remotedbg-bridge" not in names
        frames = client.request("stackTrace", {"threadId": thread_id})["body"]["stackFrames"]
        assert frames[0]["name"] == "work"
        assert client.request("continue", {"threadId": thread_id})["success"]
        assert pending.result(timeout=WAIT) == b"42"
        detach(client)


# -- rule 8: close() ----------------------------------------------------------------------------


def test_close_mid_session_tells_the_ide_and_resumes_the_app(
    bridge: Bridge, debuggee: Debuggee, audit_log: AuditCapture, peers: Peers
) -> None:
    """Expiry with a paused request: output and terminated reach the IDE, the request completes."""
    address = address_of(bridge)
    with DAPClient(address) as client, ThreadPoolExecutor(1) as pool:
        assert attach(client)["success"]
        configure(client, debuggee)
        pending, _ = pause_request(client, debuggee, pool)
        bridge.close("the armed window ended")
        output = client.wait_event("output")["body"]
        client.wait_event("terminated")
        assert client.wait_closed()
        assert pending.result(timeout=WAIT) == b"42"
    assert output["category"] in ("console", "important")
    assert "window ended (the armed window ended)" in output["output"]
    assert bridge.address is None
    assert bridge.client is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=WAIT).close()
    audit_log.wait_for("detached", peer="127.0.0.1", reason="the armed window ended")
    assert peers.detached == ["127.0.0.1"]
    bridge.close("again")  # idempotent


def test_start_after_close_serves_a_new_window(bridge: Bridge, debuggee: Debuggee) -> None:
    """close() then start() re-binds on the same thread and sessions work again."""
    bridge.close("first window over")
    threads = [th for th in threading.enumerate() if th.name == "remotedbg-bridge"]
    address = bridge.start()
    assert address == bridge.address
    with DAPClient(address) as client:
        assert attach(client)["success"]
        detach(client)
    assert [th for th in threading.enumerate() if th.name == "remotedbg-bridge"] == threads

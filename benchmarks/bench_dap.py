"""Debugger-side speed: stepping, arming and the bridge's own cost, each against a baseline.

Targets:
- stepping (issue 5): through remotedbg, every common request's median round trip <= 5 ms
  and >= 8x faster than plain `python -m debugpy --listen ... -m flask run` on the same app;
- arming (issue 5): from the first allowlisted request to a port that answers `initialize`,
  median <= 30 ms and >= 5x faster than `debugpy.listen()` with its adapter process;
- the bridge (issue 3): it adds <= 1 ms to a round trip, and moves a 10 MB body at >= 0.9x
  the speed of a direct connection.
Both sides of each comparison run in the same run, alternating.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from remotedbg.sansio.dap_codec import NEED_DATA, Decoder, encode

from benchlib import Row, print_table
from dap_client import DAPClient, initialize_arguments
from ide import Background, attach
from servers import Server, free_port, http_get, marker_line, port_open

HERE = Path(__file__).resolve().parent
APP = HERE / "dap_app.py"
#: In the order an IDE sends them. `threads` is asked twice, as VS Code asks after every stop:
#: first on a connection that was idle, then right after a step.
STEPS = ("threads", "stackTrace", "scopes+variables", "evaluate", "stepIn", "next",
         "threads after a step", "continue")  # fmt: skip


def ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


# -- stepping ---------------------------------------------------------------------------


class Target:
    """A served copy of the app with an IDE attached and a breakpoint on BREAK."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        http_port: int,
        dap_port: int,
        log: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.server = Server(argv, http_port=http_port, cwd=HERE, log_path=log, env=env)
        self.server.wait_ready()
        if name.startswith("remotedbg"):
            http_get(http_port, "/__remotedbg__")  # an allowlisted request arms it
        self.client = DAPClient(("127.0.0.1", dap_port), timeout=60)
        line = marker_line(APP, "BREAK")
        response = attach(self.client, breakpoints={APP: [line]})
        assert response["success"], response

    def round(self) -> dict[str, float]:
        """One request stopped at BREAK, stepped through, and continued to its response."""
        c = self.client
        request = Background(self.server.http_port, "/")
        thread_id = c.wait_event("stopped", timeout=60)["body"]["threadId"]
        times: dict[str, float] = {}
        start = time.perf_counter()
        c.request("threads")
        times["threads"] = ms(start)
        start = time.perf_counter()
        frames = c.request("stackTrace", {"threadId": thread_id})["body"]["stackFrames"]
        times["stackTrace"] = ms(start)
        start = time.perf_counter()
        scopes = c.request("scopes", {"frameId": frames[0]["id"]})["body"]["scopes"]
        c.request("variables", {"variablesReference": scopes[0]["variablesReference"]})
        times["scopes+variables"] = ms(start)
        start = time.perf_counter()
        c.request("evaluate", {"expression": "len(items)", "frameId": frames[0]["id"],
                               "context": "repl"})  # fmt: skip
        times["evaluate"] = ms(start)
        for step in ("stepIn", "next"):
            start = time.perf_counter()
            c.send(step, {"threadId": thread_id})
            c.wait_event("stopped", timeout=60)
            times[step] = ms(start)
        start = time.perf_counter()
        c.request("threads")
        times["threads after a step"] = ms(start)
        start = time.perf_counter()
        c.send("continue", {"threadId": thread_id})
        request.result(60)
        times["continue"] = ms(start)
        return times

    def stop(self) -> None:
        self.client.close()
        self.server.stop()


def stepping_rows(quick: bool, tmp: Path) -> list[Row]:
    rounds = 5 if quick else 15
    ours_http, ours_dap = free_port(), free_port()
    base_http, base_dap = free_port(), free_port()
    targets = [
        Target(
            "remotedbg",
            [sys.executable, "-m", "remotedbg", "run", str(APP), "--port", str(ours_http),
             "--dap-port", str(ours_dap)],
            ours_http, ours_dap, tmp / "ours.log",
        ),
        Target(
            "debugpy",
            [sys.executable, "-m", "debugpy", "--listen", f"127.0.0.1:{base_dap}", "-m", "flask",
             "--app", "dap_app", "run", "--no-reload", "--no-debugger", "--port", str(base_http)],
            base_http, base_dap, tmp / "base.log",
        ),
    ]  # fmt: skip
    samples: dict[str, dict[str, list[float]]] = {t.name: {s: [] for s in STEPS} for t in targets}
    try:
        for target in targets:
            target.round()  # warm-up
        for _ in range(rounds):
            for target in targets:
                for step, value in target.round().items():
                    samples[target.name][step].append(value)
    finally:
        for target in targets:
            target.stop()
    rows = []
    for step in STEPS:
        ours = statistics.median(samples["remotedbg"][step])
        base = statistics.median(samples["debugpy"][step])
        rows.append(
            Row(f"{step} round trip", ours, base, "ms", "<= 5 ms, >= 8x faster",
                ours <= 5.0 and base / ours >= 8.0)
        )  # fmt: skip
    return rows


# -- arming -----------------------------------------------------------------------------


def initialize_answered(port: int, timeout: float = 30) -> None:
    """Connect (no probing first: debugpy's adapter takes a probe for its one client)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client = DAPClient(("127.0.0.1", port), timeout=timeout)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)
    with client:
        assert client.request("initialize", initialize_arguments())["success"]


def arm_once(kind: str, tmp: Path) -> float:
    http_port, dap_port = free_port(), free_port()
    if kind == "remotedbg":
        argv = [sys.executable, "-m", "remotedbg", "run", str(APP), "--port", str(http_port),
                "--dap-port", str(dap_port)]  # fmt: skip
        path, env = "/__remotedbg__", None
    else:
        argv = [sys.executable, "-m", "flask", "--app", "dap_app", "run", "--no-reload",
                "--no-debugger", "--port", str(http_port)]  # fmt: skip
        path, env = "/arm", {"BENCH_DEBUGPY_PORT": str(dap_port)}
    server = Server(argv, http_port=http_port, env=env, cwd=HERE, log_path=tmp / f"arm-{kind}.log")
    try:
        server.wait_ready()
        # A developer arms a server that has been up a while, not one still importing:
        # let both settle (remotedbg preloads debugpy in the background at start-up).
        time.sleep(1.5)
        start = time.perf_counter()
        http_get(http_port, path)
        initialize_answered(dap_port)
        return ms(start)
    finally:
        server.stop()


def arming_row(quick: bool, tmp: Path) -> Row:
    rounds = 3 if quick else 7
    ours: list[float] = []
    base: list[float] = []
    for _ in range(rounds):
        ours.append(arm_once("remotedbg", tmp))
        base.append(arm_once("debugpy", tmp))
    o, b = statistics.median(ours), statistics.median(base)
    return Row("arming: request to initialize answered", o, b, "ms", "<= 30 ms, >= 5x faster",
               o <= 30.0 and b / o >= 5.0)  # fmt: skip


# -- the bridge's own cost --------------------------------------------------------------


def spawn_port(argv: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip().isdigit():
            return process, int(line)
    raise RuntimeError(f"{argv} printed no port")


# debugpy started another way, as `remotedbg bridge` guards it, with TCP_NODELAY set on its
# listener so that the bridge's own cost shows instead of being hidden in debugpy's 40 ms
# Nagle stalls. (In an armed app pydevd has no port: the bridge hands it a socket pair.)
DEBUGGEE = """
import os, socket, sys, time
os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
import debugpy
host, port = debugpy.listen(("127.0.0.1", 0), in_process_debug_adapter=True)
py_db = sys.modules["pydevd"].get_global_debugger()
listener = py_db._waiting_for_connection_thread._server_socket
listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print(port, flush=True)
while True:
    time.sleep(1)
"""


def bridge_process(upstream: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "remotedbg", "bridge", "--listen", f"127.0.0.1:{port}",
         "--upstream", f"127.0.0.1:{upstream}", "--ttl", "30m"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not port_open(port):
        assert time.monotonic() < deadline, "the bridge did not start"
        time.sleep(0.05)
    return process, port


def attached(port: int) -> DAPClient:
    client = DAPClient(("127.0.0.1", port), timeout=60)
    client.request("initialize", initialize_arguments())
    seq = client.send("attach", {})
    client.wait_event("initialized")
    client.request("configurationDone")
    client.wait_response(seq)
    return client


def round_trip_row(quick: bool) -> Row:
    """`threads` against two identical debuggees: one direct, one behind `remotedbg bridge`."""
    direct_proc, direct_port = spawn_port([sys.executable, "-c", DEBUGGEE])
    behind_proc, behind_port = spawn_port([sys.executable, "-c", DEBUGGEE])
    bridge_proc, bridge_port = bridge_process(behind_port)
    procs = [direct_proc, behind_proc, bridge_proc]
    try:
        direct, bridged = attached(direct_port), attached(bridge_port)
        per, rounds = (50, 5) if quick else (200, 11)
        times: dict[str, list[float]] = {"direct": [], "bridge": []}
        for round_ in range(rounds + 1):
            for name, client in (("direct", direct), ("bridge", bridged)):
                samples = []
                for _ in range(per):
                    start = time.perf_counter()
                    client.request("threads")
                    samples.append(ms(start))
                if round_:
                    times[name].append(statistics.median(samples))
        direct.close()
        bridged.close()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    ours, base = statistics.median(times["bridge"]), statistics.median(times["direct"])
    return Row(f"bridge: threads round trip (+{ours - base:.3f} ms)", ours, base, "ms",
               "+<= 1 ms", ours - base <= 1.0)  # fmt: skip


def fetch_big(sock: socket.socket, seq: int) -> None:
    sock.sendall(encode({"seq": seq, "type": "request", "command": "variables",
                         "arguments": {"variablesReference": 1}}))  # fmt: skip
    decoder = Decoder(max_message_size=64 * 1024 * 1024)
    while True:
        decoder.receive_data(sock.recv(1024 * 1024))
        body = decoder.next_body()
        if body is not NEED_DATA:
            assert body is not None
            return


def raw_attach(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(encode({"seq": 1, "type": "request", "command": "initialize",
                         "arguments": initialize_arguments()}))  # fmt: skip
    sock.sendall(encode({"seq": 2, "type": "request", "command": "attach", "arguments": {}}))
    decoder = Decoder()
    seen = 0
    while seen < 3:  # initialize response, attach response, initialized event
        decoder.receive_data(sock.recv(65536))
        while decoder.next_body() not in (NEED_DATA, None):
            seen += 1
    return sock


def transfer_row(quick: bool) -> Row:
    """A 10 MB body, direct and through the bridge running inside the server's process.

    That is where the bridge runs in an armed app: on its own thread beside debugpy.
    """
    size = 10 * 1024 * 1024
    server = subprocess.Popen(
        [sys.executable, str(HERE / "fake_dap.py"), str(size), "--bridge"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert server.stdout is not None
    fake_port, bridge_port = int(server.stdout.readline()), int(server.stdout.readline())
    try:
        direct, bridged = raw_attach(fake_port), raw_attach(bridge_port)
        rounds = 7 if quick else 21
        times: dict[str, list[float]] = {"direct": [], "bridge": []}
        for round_ in range(rounds + 1):
            for name, sock in (("direct", direct), ("bridge", bridged)):
                start = time.perf_counter()
                fetch_big(sock, 10 + round_)
                if round_:
                    times[name].append(time.perf_counter() - start)
        direct.close()
        bridged.close()
    finally:
        server.kill()
        server.wait()
    mb = size / 1e6
    ours = mb / statistics.median(times["bridge"])
    base = mb / statistics.median(times["direct"])
    return Row("bridge: 10 MB variables body", ours, base, "MB/s", ">= 0.9x", ours / base >= 0.9)


def rows(quick: bool = False) -> list[Row]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        return [
            *stepping_rows(quick, path),
            arming_row(quick, path),
            round_trip_row(quick),
            transfer_row(quick),
        ]


if __name__ == "__main__":
    print_table(rows("--quick" in sys.argv), "Debugger speed (DAP round trips, arming, bridge)")

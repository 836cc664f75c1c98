"""What a peer without the token can make the door hold: measured in a real server process."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import typing as t
from pathlib import Path

import pytest

from test_bridge import TOKEN, FakeDebugger, attach, detach

from dap_client import DAPClient

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
ATTACKERS = 150
#: What 150 attackers may cost the server, at most.
BUDGET_MIB = 64

#: A Bridge alone in a process, so its RSS is the door's own; it runs until stdin closes.
SERVER = textwrap.dedent(
    """
    import json, logging, sys
    from remotedbg.door.access import AccessPolicy, Window
    from remotedbg.sansio.addresses import AddressSet
    from remotedbg.audit import Audit
    from remotedbg.door.bridge import Bridge

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    window = Window(ttl=600)
    window.open()
    policy = AccessPolicy(AddressSet.parse(["127.0.0.1/32"]), sys.argv[1], window)
    upstream = ("127.0.0.1", int(sys.argv[2]))
    bridge = Bridge(
        listen=("127.0.0.1", 0), upstream=lambda: upstream, policy=policy, audit=Audit()
    )
    print(json.dumps({"port": bridge.start()[1]}), flush=True)
    sys.stdin.read()
    bridge.close("the test ended")
    """
)


class Memory(t.NamedTuple):
    rss: int  # MiB now
    peak: int  # MiB at most, ever (VmHWM)


def memory(pid: int) -> Memory:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return Memory(int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024)


@contextlib.contextmanager
def bridge_process(upstream: tuple[str, int], log: Path) -> t.Iterator[tuple[int, int]]:
    """A subprocess serving a Bridge; yields its pid and port."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER, TOKEN, str(upstream[1])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
        try:
            assert process.stdout is not None
            yield process.pid, json.loads(process.stdout.readline())["port"]
        finally:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            if process.stdout is not None:
                process.stdout.close()


def hold_partial_frame(address: tuple[str, int], announced: int) -> socket.socket:
    """Connect, announce an `announced`-byte request and send all of it but the last byte."""
    sock = socket.create_connection(address, timeout=5)
    with contextlib.suppress(OSError):  # the door may close on us: that is the point
        sock.sendall(b"Content-Length: %d\r\n\r\n" % announced + b"x" * (announced - 1))
    return sock


@pytest.mark.parametrize(
    "announced",
    [
        pytest.param(4 * 1024 * 1024, id="4MiB-over-the-pre-attach-cap"),
        pytest.param(60_000, id="60kB-under-the-cap"),
    ],
)
def test_partial_frames_from_150_peers_cost_little_and_the_developer_gets_in(
    tmp_path: Path, announced: int
) -> None:
    """150 token-less peers holding partial frames grow the server < 64 MiB; attach still works."""
    fake = FakeDebugger()
    log = tmp_path / "bridge.log"
    attackers: list[socket.socket] = []
    try:
        with bridge_process(fake.address, log) as (pid, port):
            address = ("127.0.0.1", port)
            with DAPClient(address) as client:  # warm up: imports, buffers, a session
                assert attach(client)["success"]
                detach(client)
            time.sleep(0.3)
            before = memory(pid)
            attackers = [hold_partial_frame(address, announced) for _ in range(ATTACKERS)]
            time.sleep(1.0)
            held = memory(pid)
            with DAPClient(address, timeout=15) as client:
                assert attach(client)["success"], log.read_text()
                detach(client)
            for sock in attackers:
                sock.close()
            time.sleep(1.0)
            after = memory(pid)
    finally:
        for sock in attackers:
            sock.close()
        fake.close()
    growth = {"held": held.rss - before.rss, "peak": held.peak - before.rss}
    print(f"RSS MiB before={before.rss} held={held.rss} peak={held.peak} after={after.rss}")
    assert max(growth.values()) < BUDGET_MIB, (growth, log.read_text()[-2000:])
    assert after.rss - before.rss < BUDGET_MIB

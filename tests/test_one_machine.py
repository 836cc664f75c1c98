"""The quickstart's "Try it on one machine", followed to the letter: demo, relay, config, stop.

The commands are read from the page, so the page and the test cannot drift apart. They use
the real default ports (5000 for the demo, 5678 for its debugger), because the collision of
the relay with the demo's debugger on 5678 is the point; the test is skipped when another
program holds one of them, and runs of it on one machine take turns.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import json5
import pytest

from remotedbg.door.access import AccessPolicy, Window
from remotedbg.sansio.addresses import AddressSet

from dap_client import DAPClient
from ide import attach, pause_request
from servers import Server, port_open

DOCS = Path(__file__).resolve().parent.parent / "docs"
SECTION = "## Try it on one machine"
#: The commands of the VS Code page's section, in order; the test runs what the page says.
COMMANDS = [
    "remotedbg demo",
    "remotedbg attach http://127.0.0.1:5000",
    "remotedbg config vscode --relay --port 5680 --write",
]
#: The port the page shows for the relay: what it takes when only the demo holds 5678.
SHOWN_PORT = "5680"
HTTP_PORT, DOOR_PORT = 5000, 5678


def section(page: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    """The lines of the fenced blocks of `language` in `text`, unindented, blank ones left out."""
    found = re.findall(rf"^ *```{language}\n(.*?)^ *```", text, re.M | re.S)
    return [line.strip() for block in found for line in block.splitlines() if line.strip()]


def argv(command: str) -> list[str]:
    """A `remotedbg ...` command line as run here: the same CLI, from this interpreter."""
    words = shlex.split(command)
    assert words[0] == "remotedbg"
    return [sys.executable, "-m", "remotedbg", *words[1:]]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("REMOTEDBG_")}


def test_the_page_lists_these_commands() -> None:
    """The VS Code section's shell blocks are exactly the commands this test runs, in order."""
    assert blocks(section("quickstart.md"), "sh") == COMMANDS


def test_the_pycharm_page_runs_the_same_demo_and_relay() -> None:
    """PyCharm's section starts the same two processes and uses the port the relay names."""
    pycharm = section("quickstart-pycharm.md")
    assert blocks(pycharm, "sh") == COMMANDS[:2]
    assert f"127.0.0.1:{SHOWN_PORT}" in pycharm
    assert f"remotedbg config pycharm --port {SHOWN_PORT}" in pycharm


@pytest.fixture
def default_ports() -> Iterator[None]:
    """The default ports, for this test alone: other runs of it wait, other programs skip it."""
    lock_path = Path(tempfile.gettempdir()) / "remotedbg-test-one-machine.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            busy = [port for port in (HTTP_PORT, DOOR_PORT) if port_open(port)]
            if busy:
                pytest.skip(f"another program listens on {busy}, which the page's commands use")
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def wait_for(log: Path, pattern: str, process: subprocess.Popen[bytes]) -> re.Match[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"), re.M)
        if found is not None:
            return found
        if process.poll() is not None:
            raise AssertionError(f"exited {process.returncode}: {log.read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} never appeared: {log.read_text()}")


@pytest.mark.e2e
def test_try_it_on_one_machine(default_ports: None, tmp_path: Path) -> None:
    """Demo, relay, the printed config command, attach: it stops, continues, and answers."""
    demo_cmd, attach_cmd, config_cmd = blocks(section("quickstart.md"), "sh")
    shown_line = blocks(section("quickstart.md"), "text")[0]

    # 1. The demo, in an empty folder.
    demo = Server(argv(demo_cmd), http_port=HTTP_PORT, cwd=tmp_path, log_path=tmp_path / "d.log")
    attach_log = tmp_path / "attach.log"
    relay: subprocess.Popen[bytes] | None = None
    try:
        demo.wait_ready()
        where = demo.wait_for_log(r"set a breakpoint in greet\(\), at\n\s+(.+):(\d+)\n")
        demo_file, line = Path(where[1]), int(where[2])
        assert demo_file == (tmp_path / "remotedbg-demo" / "demo_app.py").resolve()

        # 2. The relay, in a second terminal, in the same folder.
        with attach_log.open("wb") as out:
            relay = subprocess.Popen(
                argv(attach_cmd), cwd=tmp_path, env=clean_env(), stdout=out, stderr=out
            )
        port = wait_for(attach_log, r"the debugger is relayed from 127\.0\.0\.1:(\d+)$", relay)[1]
        said = attach_log.read_text()
        assert shown_line.replace(SHOWN_PORT, port) in said
        printed = wait_for(attach_log, r"^\s+(remotedbg config vscode .*)$", relay)[1]
        assert printed == config_cmd.replace(SHOWN_PORT, port)

        # 3. The command it printed, in a third terminal, in the same folder.
        subprocess.run(argv(printed), cwd=tmp_path, env=clean_env(), check=True, timeout=60)
        launch = json5.loads((tmp_path / ".vscode" / "launch.json").read_text())
        [config] = launch["configurations"]
        assert config["name"] == "remotedbg: attach (relay)"

        # 4 and 5. Start the configuration with a breakpoint in greet(), open the page.
        connect = config["connect"]
        sent = {k: v for k, v in config.items() if k not in ("name", "type", "request", "connect")}
        with DAPClient((connect["host"], connect["port"])) as client:
            assert attach(client, breakpoints={demo_file: [line]}, arguments=sent)["success"]
            paused = pause_request(client, HTTP_PORT, "/")
            assert paused.stopped["reason"] == "breakpoint"
            assert (paused.frame["source"]["path"], paused.frame["line"]) == (str(demo_file), line)
            assert paused.local_vars["name"] == "'world'"
            client.request("continue", {"threadId": paused.thread_id})
            response = paused.request.result()
            assert (response.status, response.body) == (200, b"Hello, world!\n")

        # Ctrl-C stops the relay (SIGTERM does the same), with exit code 0.
        relay.terminate()
        assert relay.wait(20) == 0, attach_log.read_text()
    finally:
        if relay is not None and relay.poll() is None:
            relay.kill()
            relay.wait(10)
        demo.stop()


def test_another_loopback_peer_is_not_told_to_add_what_is_allowed() -> None:
    """A refusal for 127.0.0.2 does not suggest adding 127.0.0.1 when it is already allowed."""
    window = Window(ttl=60)
    window.open()
    demo_allow = AccessPolicy(AddressSet.parse(["127.0.0.1", "::1"]), None, window)
    refused = demo_allow.check_peer("127.0.0.2")
    assert refused is not None
    assert "add it to REMOTEDBG_ALLOW to admit them" not in refused
    assert "admits 127.0.0.1 but not this loopback address" in refused
    elsewhere = AccessPolicy(AddressSet.parse(["10.0.0.0/8"]), None, window)
    assert "SSH tunnels arrive from 127.0.0.1" in (elsewhere.check_peer("127.0.0.2") or "")

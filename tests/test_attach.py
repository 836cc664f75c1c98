"""`remotedbg attach` against a real `remotedbg run`: token and path mappings added on the way."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotedbg.client.attach import (
    DEFAULT_LOCAL_PORT,
    FALLBACK_PORTS,
    AttachError,
    Remote,
    explain_refusal,
    open_listener,
    relay_config_command,
    remote_from_status,
    rewrite_attach,
)
from remotedbg.errors import RemotedbgError

from dap_client import DAPClient
from ide import attach, pause_request
from servers import APPS, Server, free_port, marker_line, port_open, remotedbg_run, spawn_attach

pytestmark = pytest.mark.e2e

TOKEN = "attach-test-token-0123456789abcdef"


@pytest.fixture
def checkouts(tmp_path: Path) -> tuple[Path, Path]:
    """The "server" copy of the app and the developer's local copy, in different folders."""
    remote, local = tmp_path / "srv" / "shop", tmp_path / "laptop" / "shop"
    for folder in (remote, local):
        folder.mkdir(parents=True)
        shutil.copy(APPS / "flask_app.py", folder / "shopapp.py")
    return remote, local


@pytest.fixture
def server(checkouts: tuple[Path, Path], tmp_path: Path) -> Iterator[Server]:
    """`remotedbg run` on the server copy, with a token."""
    remote, _ = checkouts
    srv = remotedbg_run(
        str(remote / "shopapp.py"), tmp_path, "--dap-port", str(free_port()), "--token", TOKEN
    )
    yield srv
    srv.stop()


def start_attach(
    url: str, local_root: Path, log: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    return spawn_attach(url, local_root, log, *extra, env={"REMOTEDBG_TOKEN": TOKEN, **(env or {})})


def wait_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    for _ in range(200):
        if port_open(port):
            return
        if process.poll() is not None:
            raise AssertionError(f"attach exited {process.returncode}: {log.read_text()}")
        subprocess.run(["sleep", "0.05"], check=True)
    raise AssertionError(f"attach never listened: {log.read_text()}")


def run_attach(url: str, local_root: Path, *extra: str, env: dict[str, str]) -> tuple[int, str]:
    argv = [sys.executable, "-m", "remotedbg", "attach", url, "--local-root", str(local_root)]
    result = subprocess.run(
        [*argv, "--local-port", str(free_port()), *extra],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_breakpoint_by_local_path_hits_remote_copy(
    server: Server, checkouts: tuple[Path, Path], tmp_path: Path
) -> None:
    """The IDE sends no token and no mappings, sets a breakpoint by local path, and stops there."""
    remote, local = checkouts
    log = tmp_path / "attach.log"
    process, local_port = start_attach(f"http://127.0.0.1:{server.http_port}", local, log)
    try:
        wait_port(process, local_port, log)
        local_file = local / "shopapp.py"
        line = marker_line(local_file, "BREAK: index")
        with DAPClient(("127.0.0.1", local_port)) as client:
            assert attach(client, breakpoints={local_file: [line]})["success"]
            paused = pause_request(client, server.http_port)
            assert paused.frame["source"]["path"] == str(local_file)
            assert paused.frame["line"] == line
            assert paused.local_vars["visitor"] == "'tester'"
            client.request("continue", {"threadId": paused.thread_id})
            assert paused.request.result().body == b"hello tester"
        assert f"attach to 127.0.0.1:{local_port}" in log.read_text()
        assert f"--local-port {local_port}" not in log.read_text()
        assert str(remote) in log.read_text()
    finally:
        process.terminate()
        process.wait(10)


def test_unreachable_url(tmp_path: Path) -> None:
    """Nothing at the URL: one line, exit 2."""
    code, output = run_attach(f"http://127.0.0.1:{free_port()}", tmp_path, env={})
    assert code == 2
    assert "could not connect" in output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("server_args", "expected"),
    [
        # A laptop outside the allowlist gets the app's 404, explained.
        (["--allow", "127.0.0.2"], ["404", "REMOTEDBG_ALLOW"]),
        # After the server's REMOTEDBG_UNTIL nothing arms (the server starts just before it).
        (["--until", "+2s"], ["did not arm"]),
    ],
)
def test_server_refuses_to_arm(
    tmp_path: Path, checkouts: tuple[Path, Path], server_args: list[str], expected: list[str]
) -> None:
    """When the server will not arm for this laptop, attach says why in one line, exit 2."""
    remote, local = checkouts
    if server_args[-1] == "+2s":
        soon = datetime.now(timezone.utc) + timedelta(seconds=2)
        server_args = [*server_args[:-1], soon.isoformat()]
    srv = remotedbg_run(str(remote / "shopapp.py"), tmp_path, *server_args)
    if server_args[0] == "--until":
        time.sleep(max(0.0, (soon - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    try:
        code, output = run_attach(f"http://127.0.0.1:{srv.http_port}", local, env={})
        assert code == 2
        for text in expected:
            assert text in output
        assert len(output.strip().splitlines()) == 1
    finally:
        srv.stop()


def test_missing_token_is_caught_before_the_ide(
    server: Server, checkouts: tuple[Path, Path]
) -> None:
    """When the server needs a token and none is given, attach stops at once and says where."""
    _, local = checkouts
    env = {k: v for k, v in os.environ.items() if k != "REMOTEDBG_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "remotedbg", "attach", f"http://127.0.0.1:{server.http_port}",
         "--local-root", str(local), "--local-port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "REMOTEDBG_TOKEN" in result.stderr


def test_token_refused(server: Server, checkouts: tuple[Path, Path], tmp_path: Path) -> None:
    """A wrong token: the IDE gets the bridge's message, and attach exits 2 saying so."""
    _, local = checkouts
    log = tmp_path / "attach.log"
    wrong = {"REMOTEDBG_TOKEN": "wrong-token-0123456789abcdef"}
    url = f"http://127.0.0.1:{server.http_port}"
    process, local_port = start_attach(url, local, log, env=wrong)
    try:
        wait_port(process, local_port, log)
        with DAPClient(("127.0.0.1", local_port)) as client:
            client.request("initialize", {"adapterID": "debugpy"})
            response = client.request("attach", {})
            assert response["success"] is False
            assert "wrong" in response["message"]
            # Told to whoever already uses the relay: where its token came from, not to use it.
            assert "or use `remotedbg attach`" not in response["message"]
            assert "REMOTEDBG_TOKEN" in response["message"]
        assert process.wait(20) == 2
        assert "refused the token" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()


def test_ssh_tunnel(server: Server, checkouts: tuple[Path, Path], tmp_path: Path) -> None:
    """--ssh runs `ssh -N -L ...` and relays through the tunnel it opens.

    No SSH server runs here, so a stand-in `ssh` on PATH records its arguments and forwards
    the -L port itself, as OpenSSH would.
    """
    _, local = checkouts
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_ssh = bin_dir / "ssh"
    fake_ssh.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import socket, sys, threading
            open({str(tmp_path / "ssh-argv")!r}, "w").write("\\n".join(sys.argv[1:]))
            spec = sys.argv[sys.argv.index("-L") + 1]
            bind, lport, host, rport = spec.rsplit(":", 3)
            server = socket.create_server((bind, int(lport)))
            def pipe(a, b):
                while data := a.recv(65536):
                    b.sendall(data)
                b.close()
            while True:
                conn, _ = server.accept()
                up = socket.create_connection((host, int(rport)))
                threading.Thread(target=pipe, args=(conn, up), daemon=True).start()
                threading.Thread(target=pipe, args=(up, conn), daemon=True).start()
            """
        )
    )
    fake_ssh.chmod(fake_ssh.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "attach.log"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    url = f"http://127.0.0.1:{server.http_port}"
    process, local_port = start_attach(url, local, log, "--ssh", "dev@staging", env=env)
    try:
        wait_port(process, local_port, log)
        with DAPClient(("127.0.0.1", local_port)) as client:
            assert attach(client)["success"]
            assert client.request("threads")["success"]
        argv = (tmp_path / "ssh-argv").read_text().splitlines()
        assert argv[0] == "-N"
        assert "ExitOnForwardFailure=yes" in argv
        assert argv[-1] == "dev@staging"
        tunnel_port = int(argv[argv.index("-L") + 1].split(":")[1])
        assert argv[argv.index("-L") + 1].endswith(":127.0.0.1:" + str(server_dap_port(server)))
        assert port_open(tunnel_port)
        process.terminate()  # SIGTERM, as `kill` or systemd would send
        assert process.wait(10) == 0
        for _ in range(100):  # the tunnel goes with it
            if not port_open(tunnel_port):
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert not port_open(tunnel_port), "the ssh tunnel outlived remotedbg attach"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def server_dap_port(server: Server) -> int:
    return int(server.get("/__remotedbg__").json()["dap_port"])


STATUS = {
    "armed": True,
    "dap_host": "127.0.0.1",
    "dap_port": 5678,
    "expires_at": "2030-01-01T00:00:00Z",
    "app_root": "/srv/shop",
    "token_required": True,
}


@pytest.mark.parametrize(
    ("url", "status", "ssh", "host"),
    [
        ("http://127.0.0.1:8000", STATUS, False, "127.0.0.1"),
        ("https://staging.example.com", {**STATUS, "dap_host": "0.0.0.0"}, False,
         "staging.example.com"),
        ("https://staging.example.com", STATUS, True, "127.0.0.1"),
        ("https://staging.example.com", {**STATUS, "dap_host": "::1"}, True, "::1"),
        # The page names the URL's own host, spelt another way.
        ("https://Staging.Example.com", {**STATUS, "dap_host": "staging.example.com."}, False,
         "staging.example.com"),
        ("http://10.1.2.3:8000", {**STATUS, "dap_host": "10.1.2.3"}, False, "10.1.2.3"),
        ("http://[::ffff:10.1.2.3]:8000", {**STATUS, "dap_host": "10.1.2.3"}, False,
         "::ffff:10.1.2.3"),
        ("https://staging.example.com", {**STATUS, "dap_host": "staging.example.com"}, True,
         "staging.example.com"),
        ("http://localhost:8000", STATUS, False, "127.0.0.1"),
        ("http://127.0.0.1:8000", {**STATUS, "dap_host": "::1"}, False, "::1"),
    ],
)  # fmt: skip
def test_where_the_bridge_is_reached(
    url: str, status: dict[str, object], ssh: bool, host: str
) -> None:
    """The bridge is reached on the URL's host (or this machine's loopback, or the tunnel's)."""
    remote = remote_from_status(url, status, ssh=ssh)
    assert isinstance(remote, Remote)
    assert (remote.host, remote.port, remote.app_root) == (host, 5678, "/srv/shop")


@pytest.mark.parametrize(
    ("url", "dap_host", "ssh"),
    [
        ("https://staging.example.com", "10.1.2.3", False),
        ("https://staging.example.com", "10.1.2.3", True),
        ("https://staging.example.com", "evil.example.net", False),
        ("http://10.1.2.3:8000", "10.1.2.4", False),
        ("http://127.0.0.1:8000", "127.0.0.2", False),
        ("http://127.0.0.1:8000", "10.1.2.3", False),
    ],
)
def test_the_page_cannot_choose_another_host(url: str, dap_host: str, ssh: bool) -> None:
    """A status page naming a host other than the URL's is refused, naming both and the fix."""
    url_host = url.split("//")[1].split(":")[0]
    with pytest.raises(RemotedbgError) as refused:
        remote_from_status(url, {**STATUS, "dap_host": dap_host}, ssh=ssh)
    message = str(refused.value)
    assert f"on {dap_host}, not on the URL's host {url_host}" in message
    assert "REMOTEDBG_DAP_HOST" in message
    assert "\n" not in message


def test_loopback_debugger_on_a_remote_box_needs_ssh() -> None:
    """A remote server's loopback debugger is unreachable without --ssh, and the error says so."""
    with pytest.raises(RemotedbgError, match="--ssh"):
        remote_from_status("https://staging.example.com", STATUS, ssh=False)


def test_rewrite_keeps_what_the_ide_sent() -> None:
    """The token is added; the IDE's own path mappings and other fields are kept."""
    mine = [{"localRoot": "/a", "remoteRoot": "/b"}]
    rewritten = rewrite_attach(
        {"justMyCode": False, "pathMappings": mine}, token=TOKEN, local_root="/l", app_root="/r"
    )
    assert rewritten == {"justMyCode": False, "pathMappings": mine, "remotedbgToken": TOKEN}
    added = rewrite_attach(None, token=None, local_root="/l", app_root="/r")
    assert added == {"pathMappings": [{"localRoot": "/l", "remoteRoot": "/r"}]}


def test_a_url_that_is_not_one_is_named_url(tmp_path: Path) -> None:
    """`attach not-a-url` names the URL argument, not a --url option it does not have."""
    code, output = run_attach("not-a-url", tmp_path, env={})
    assert code == 2
    assert "URL='not-a-url'" in output
    assert "--url" not in output


def test_refusal_through_the_relay_says_where_its_token_came_from() -> None:
    """The server's "or use `remotedbg attach`" becomes advice for someone already using it."""
    server_says = (
        'remotedbg: the "remotedbgToken" is wrong; add it to the attach configuration '
        '("remotedbgToken": "${env:REMOTEDBG_TOKEN}") or use `remotedbg attach` (slow down)'
    )
    added = explain_refusal(server_says, token_added=True)
    assert added.startswith('remotedbg: the "remotedbgToken" is wrong; remotedbg attach added')
    assert "REMOTEDBG_TOKEN" in added
    assert added.endswith(" (slow down)")
    none = explain_refusal(server_says, token_added=False)
    assert "had no token to add: export REMOTEDBG_TOKEN" in none
    for text in (added, none):
        assert "or use `remotedbg attach`" not in text
    assert explain_refusal("no armed window", token_added=True) == "no armed window"


@pytest.fixture
def taken() -> Iterator[int]:
    """A port on 127.0.0.1 that another program listens on."""
    with socket.create_server(("127.0.0.1", 0)) as other:
        yield int(other.getsockname()[1])


def test_an_explicit_local_port_that_is_taken_names_the_option(taken: int) -> None:
    """--local-port given and busy: an error naming --local-port, and no other port instead."""
    with pytest.raises(AttachError, match=f"^--local-port {taken}: cannot listen") as refused:
        open_listener(taken)
    assert "leave it out" in str(refused.value)


def test_an_explicit_local_port_on_the_servers_door_is_refused(taken: int) -> None:
    """--local-port equal to the server's debugger port on this machine is refused by name."""
    with pytest.raises(AttachError, match=f"--local-port {taken} is the server's own debugger"):
        open_listener(taken, ("127.0.0.1", taken))


def test_the_default_port_moves_off_the_servers_door() -> None:
    """With the server's debugger here at 5678, the relay listens elsewhere and says why."""
    listener = open_listener(None, ("127.0.0.1", DEFAULT_LOCAL_PORT))
    with listener.sock:
        assert listener.port != DEFAULT_LOCAL_PORT
        assert listener.sock.getsockname() == ("127.0.0.1", listener.port)
        assert listener.moved is not None
        assert "the server's own debugger, on this machine" in listener.moved


def test_the_default_port_moves_off_a_taken_fallback() -> None:
    """Ports already taken are passed over: the relay takes the next free one it tries."""
    with contextlib.ExitStack() as held:
        for port in FALLBACK_PORTS[:2]:
            with contextlib.suppress(OSError):  # taken already, which serves as well
                held.enter_context(socket.create_server(("127.0.0.1", port)))
        listener = open_listener(None, ("127.0.0.1", DEFAULT_LOCAL_PORT))
        with listener.sock:
            assert listener.port not in (DEFAULT_LOCAL_PORT, *FALLBACK_PORTS[:2])


@pytest.mark.parametrize(
    ("port", "command"),
    [
        (DEFAULT_LOCAL_PORT, "remotedbg config vscode --relay --write"),
        (5680, "remotedbg config vscode --relay --port 5680 --write"),
    ],
)
def test_the_suggested_command_writes_the_relays_port(
    port: int, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command attach prints writes a relay configuration that connects to its port."""
    import json5

    from remotedbg.cli import cli

    assert relay_config_command(port) == command
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    [config] = json5.loads((tmp_path / ".vscode" / "launch.json").read_text())["configurations"]
    assert config["name"] == "remotedbg: attach (relay)"
    assert config["connect"] == {"host": "127.0.0.1", "port": port}
    assert "pathMappings" not in config
    assert "remotedbgToken" not in config

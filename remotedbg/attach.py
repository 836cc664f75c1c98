"""`remotedbg attach URL`: the laptop side, so the IDE config stays `localhost:5678`, no secrets.

It arms the remote debugger (a GET of ``URL/__remotedbg__`` from this allowlisted machine),
then serves a local DAP port. Each IDE connection is relayed to the remote bridge, and its
``attach`` request gains the token (from ``--token`` or ``REMOTEDBG_TOKEN``, never from a
project file) and, when the IDE sent none, ``pathMappings`` from the server's ``app_root``
to the local project. Nothing else is touched: after ``attach``, frames pass through as
they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import typing as t
import urllib.parse
from datetime import datetime, timezone

from .bridge_session import nodelay
from .dap_codec import Decoder, Request, Response, encode, frame, parse_message
from .errors import ProtocolError, RemotedbgError

__all__ = ["AttachError", "Remote", "attach_main", "remote_from_status", "rewrite_attach"]

#: Bodies up to this size are parsed on the way back, to notice the attach response.
_PEEK_LIMIT = 64 * 1024
_READ_SIZE = 256 * 1024


class AttachError(RemotedbgError):
    """A failure `remotedbg attach` reports in one line, with exit code 2."""


@dataclasses.dataclass(frozen=True)
class Remote:
    """What the status page said, and where the bridge is reached from here."""

    host: str
    port: int
    app_root: str
    expires_at: float
    token_required: bool


def _is_loopback(host: str) -> bool:
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_expiry(text: object) -> float:
    if not isinstance(text, str):
        raise AttachError("the status page gave no expires_at; upgrade remotedbg on the server")
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def remote_from_status(url: str, status: t.Mapping[str, t.Any], *, ssh: bool) -> Remote:
    """Where to reach the bridge: the status page's address, or the URL's host for 0.0.0.0."""
    if not status.get("armed"):
        reason = status.get("error") or "the armed window could not be opened"
        raise AttachError(f"the server did not arm the debugger: {reason}")
    host = str(status.get("dap_host", ""))
    port = int(status.get("dap_port", 0))
    url_host = urllib.parse.urlsplit(url).hostname or ""
    if host in ("0.0.0.0", "::", ""):
        # Listening everywhere: through a tunnel, the server's own loopback is the way in;
        # without one, the host the app was reached at.
        host = "127.0.0.1" if ssh else url_host
    if not ssh and _is_loopback(host) and not _is_loopback(url_host):
        raise AttachError(
            f"the debugger listens on the server's loopback ({host}:{port}), which this machine "
            "cannot reach; add --ssh user@server to tunnel to it"
        )
    return Remote(
        host=host,
        port=port,
        app_root=str(status["app_root"]),
        expires_at=_parse_expiry(status.get("expires_at")),
        token_required=bool(status.get("token_required")),
    )


def rewrite_attach(
    arguments: t.Mapping[str, t.Any] | None, *, token: str | None, local_root: str, app_root: str
) -> dict[str, t.Any]:
    """The IDE's attach arguments with the token added, and path mappings when it sent none."""
    rewritten = dict(arguments or {})
    if token is not None:
        rewritten["remotedbgToken"] = token
    if not rewritten.get("pathMappings"):
        rewritten["pathMappings"] = [{"localRoot": local_root, "remoteRoot": app_root}]
    return rewritten


class _Outcome:
    """Shared between the relays and the status line: what the user should be told."""

    def __init__(self) -> None:
        self.connected = 0
        self.fatal: str | None = None
        self.done = asyncio.Event()

    def fail(self, message: str) -> None:
        self.fatal = message
        self.done.set()


class Relay:
    """Serves the local DAP port and relays each IDE connection to the remote bridge."""

    def __init__(
        self, target: tuple[str, int], remote: Remote, *, token: str | None, local_root: str
    ) -> None:
        self.target = target
        self.remote = remote
        self.token = token
        self.local_root = local_root
        self.outcome = _Outcome()

    async def handle(self, ide_reader: asyncio.StreamReader, ide: asyncio.StreamWriter) -> None:
        _nodelay(ide)
        try:
            up_reader, upstream = await asyncio.wait_for(
                asyncio.open_connection(*self.target), timeout=10
            )
        except (OSError, asyncio.TimeoutError) as exc:
            self.outcome.fail(
                f"cannot reach the debugger at {self.target[0]}:{self.target[1]} ({exc}); "
                "is the window still open?"
            )
            ide.close()
            return
        _nodelay(upstream)
        self.outcome.connected += 1
        try:
            await _first_done(
                self._pump(ide_reader, upstream, self._rewrite),
                self._pump(up_reader, ide, self._watch),
            )
        finally:
            self.outcome.connected -= 1
            for writer in (ide, upstream):
                writer.close()

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        relay: t.Callable[[bytes], bytes],
    ) -> None:
        """Frames from `reader` to `writer`, each body passed through `relay` on the way."""
        decoder = Decoder()
        while True:
            data = await reader.read(_READ_SIZE)
            decoder.receive_data(data)
            while isinstance(body := decoder.next_body(), bytes):
                writer.write(relay(body))
            await writer.drain()
            if not data:
                return

    def _rewrite(self, body: bytes) -> bytes:
        if b'"attach"' not in body:
            return frame(body)
        message = parse_message(body)
        if not (isinstance(message, Request) and message.command == "attach"):
            return frame(body)
        arguments = rewrite_attach(
            message.arguments,
            token=self.token,
            local_root=self.local_root,
            app_root=self.remote.app_root,
        )
        return encode(dataclasses.replace(message, arguments=arguments))

    def _watch(self, body: bytes) -> bytes:
        if len(body) <= _PEEK_LIMIT and b'"attach"' in body:
            self._check_attach_response(body)
        return frame(body)

    def _check_attach_response(self, body: bytes) -> None:
        message = parse_message(body)
        if isinstance(message, Response) and message.command == "attach" and not message.success:
            text = message.message or "the attach request was refused"
            if "remotedbgToken" in text or "token" in text.lower():
                self.outcome.fail(f"the server refused the token: {text}")


async def _first_done(*coroutines: t.Coroutine[t.Any, t.Any, None]) -> None:
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            with contextlib.suppress(ProtocolError, OSError):
                task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _nodelay(writer: asyncio.StreamWriter) -> None:
    nodelay(writer.get_extra_info("socket"))


class Tunnel:
    """``ssh -N -L``: the remote bridge on the server's loopback, reached from a local port."""

    def __init__(self, destination: str, remote_host: str, remote_port: int) -> None:
        ssh = shutil.which("ssh")
        if ssh is None:
            raise AttachError("--ssh needs the ssh client on PATH; install OpenSSH")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.local_port = int(probe.getsockname()[1])
        forward_host = "127.0.0.1" if remote_host in ("0.0.0.0", "::") else remote_host
        self.argv = [
            ssh, "-N",
            "-o", "ExitOnForwardFailure=yes",
            "-o", "ServerAliveInterval=15",
            "-L", f"127.0.0.1:{self.local_port}:{forward_host}:{remote_port}",
            destination,
        ]  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603 - argv built above, no shell
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait_ready(self, timeout: float = 20.0) -> tuple[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = (self.process.stderr.read() if self.process.stderr else b"").decode(
                    errors="replace"
                )
                last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
                raise AttachError(f"ssh exited with code {self.process.returncode}: {last}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.local_port), timeout=0.5),
            ):
                return ("127.0.0.1", self.local_port)
            time.sleep(0.1)
        self.close()
        raise AttachError(f"the ssh tunnel did not open within {timeout:g}s")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process.stderr is not None:
            self.process.stderr.close()


def _status_line(remote: Remote, outcome: _Outcome) -> str:
    left = max(0, int(remote.expires_at - time.time()))
    until = datetime.fromtimestamp(remote.expires_at, tz=timezone.utc).strftime("%H:%M:%S UTC")
    ide = "IDE connected" if outcome.connected else "waiting for the IDE"
    return f"armed until {until} ({left // 60}m{left % 60:02d}s left) | {ide}"


async def _serve(
    relay: Relay, local_port: int, echo: t.Callable[[str], None], live: bool
) -> str | None:
    """Run until the window ends or a fatal error; return the fatal error, if any."""
    try:
        server = await asyncio.start_server(relay.handle, "127.0.0.1", local_port)
    except OSError as exc:
        return (
            f"cannot listen on 127.0.0.1:{local_port} ({exc.strerror or exc}); "
            "choose another --local-port"
        )
    outcome, remote = relay.outcome, relay.remote
    last = ""
    async with server:
        while not outcome.done.is_set() and time.time() < remote.expires_at:
            line = _status_line(remote, outcome)
            if live:
                echo("\r" + line + "   ")
            elif line.split("|")[1] != last.split("|")[-1]:
                echo(line + "\n")
            last = line
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(outcome.done.wait(), timeout=1.0)
        if outcome.fatal is not None:
            await asyncio.sleep(0.3)  # let the refusal reach the IDE, which shows it
    if live:
        echo("\n")
    return outcome.fatal


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def attach_main(
    url: str,
    *,
    local_port: int,
    local_root: str,
    token: str | None,
    ssh: str | None,
    echo: t.Callable[[str], None] | None = None,
) -> None:
    """Arm, relay, and report; raises AttachError for everything the user must fix."""
    from .ide_config import fetch_status

    def write(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    echo = echo or write
    # SIGTERM (kill, systemd, a terminal closing) must end as cleanly as Ctrl-C does, or
    # the ssh tunnel started below would outlive us.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    status = fetch_status(url, fallback="then run remotedbg attach again")
    remote = remote_from_status(url, status, ssh=ssh is not None)
    if remote.token_required and token is None:
        raise AttachError(
            "the server requires a token; export REMOTEDBG_TOKEN=... (ask whoever set up the "
            "server) or pass --token"
        )
    tunnel = Tunnel(ssh, remote.host, remote.port) if ssh is not None else None
    try:
        target = tunnel.wait_ready() if tunnel is not None else (remote.host, remote.port)
        relay = Relay(target, remote, token=token, local_root=os.path.abspath(local_root))
        echo(
            f"remotedbg attach: armed pid {status.get('pid')} on {url}; the debugger is relayed "
            f"from 127.0.0.1:{local_port}\n"
            f"  In your IDE, attach to localhost:{local_port} with no pathMappings (VS Code: "
            f"'remotedbg: attach (relay)' from `remotedbg config vscode --relay`).\n"
            f"  Breakpoints map {os.path.abspath(local_root)} -> {remote.app_root}.\n"
            "  Ctrl-C to stop.\n"
        )
        live = sys.stderr.isatty()
        try:
            fatal = asyncio.run(_serve(relay, local_port, echo, live))
        except KeyboardInterrupt:
            echo("\nremotedbg attach: stopped\n")
            return
        if fatal is not None:
            raise AttachError(fatal)
        echo("remotedbg attach: the armed window ended; run remotedbg attach again to re-arm\n")
    finally:
        if tunnel is not None:
            tunnel.close()

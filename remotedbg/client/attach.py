"""`remotedbg attach URL`: the laptop side, so the IDE config stays `127.0.0.1:5678`, no secrets.

It arms the remote debugger (a GET of ``URL/__remotedbg__`` from this allowlisted machine),
then serves a local DAP port: 5678, or when that is taken (the server's own debugger, when
the server runs on this machine too) the first free one of :data:`FALLBACK_PORTS`, and it
says which, with the command that writes the IDE configuration for it. An explicit
``--local-port`` is used as given or not at all. Each IDE connection is relayed to the
remote bridge, and its ``attach`` request gains the token (from ``--token`` or
``REMOTEDBG_TOKEN``, never from a project file) and, when the IDE sent none,
``pathMappings`` from the server's ``app_root`` to the local project. Nothing else is
touched: after ``attach``, frames pass through as they are.

What is guarded, because the token opens a code-execution door:

- **Where the token goes.** The bridge is reached on the URL's host, or with ``--ssh`` on
  the server's loopback through the tunnel; the status page only confirms it. A page that
  names any other host (a man in the middle on plain HTTP, a compromised proxy) is refused
  before anything connects: the status page does not choose where the token is sent.
- **Who may use the relay.** It adds the token for whoever connects to the local port, so
  on Linux each connection's owner is looked up (:mod:`remotedbg.door.peer_owner`) and only
  this user's are relayed; when the owner cannot be found the connection is refused. macOS
  and Windows have no cheap equivalent, so there the relay is for single-user machines:
  any local process that connects gets a session, and the start-up text says so.
- **Stopping.** Ctrl-C and SIGTERM end it at any moment with one line, the ssh tunnel
  closed and exit code 0: stopping is what was asked for, not a failure.
- **The window's end.** At ``expires_at`` no new IDE connection is accepted, but sessions
  already relaying run on (for at most :data:`EXPIRY_GRACE` seconds) until the server
  ends them, so the IDE gets the server's own "the window ended" and ``terminated``.
- **A refusal it can explain.** The server's "wrong token" advice is written for an IDE
  that sends the token itself; through the relay, the IDE is told where the relay's token
  came from instead (:func:`explain_refusal`).

This module arms and orchestrates; the parts are :mod:`.status` (the status page read into
a :class:`Remote`, its host pinned), :mod:`.local_port` (where the relay listens),
:mod:`.relay` (the relay and its owner check), :mod:`.tunnel` (ssh) and
:mod:`.stop_signals` (Ctrl-C and SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import typing as t
from datetime import datetime, timezone

from ..door.peer_owner import loopback_peer_uid, owner_known_here
from ..errors import AttachError
from .local_port import (
    DEFAULT_LOCAL_PORT,
    FALLBACK_PORTS,
    Listener,
    open_listener,
    relay_config_command,
)
from .relay import Relay, explain_refusal, rewrite_attach
from .status import Remote, fetch_status, on_this_machine, remote_from_status
from .stop_signals import StopSignals
from .tunnel import Tunnel

if t.TYPE_CHECKING:
    import socket

    from .relay import Outcome

__all__ = [
    "DEFAULT_LOCAL_PORT",
    "FALLBACK_PORTS",
    "AttachError",
    "Listener",
    "Remote",
    "attach_main",
    "explain_refusal",
    "open_listener",
    "relay_config_command",
    "remote_from_status",
    "rewrite_attach",
]

#: After the local clock ends the window, how long sessions may run until the server ends
#: them (the server's clock, and a whole-second ``expires_at``, may be a little behind).
EXPIRY_GRACE = 15.0


def _local_root(given: str | None, app_root: str, server_here: bool) -> tuple[str, str | None]:
    """The local side of the path mapping, and a note when it is not what was given.

    Without --local-root it is the current folder, except when the app runs on this
    machine in a folder inside it (the demo's ``./remotedbg-demo``): the current folder
    mapped onto that one would send every breakpoint a level too deep, so the app's folder
    maps to itself.
    """
    if given is not None:
        return os.path.abspath(given), None
    here = os.path.abspath(".")
    if server_here and os.path.isdir(app_root):
        real_here, real_root = os.path.realpath(here), os.path.realpath(app_root)
        if real_root != real_here and os.path.commonpath([real_here, real_root]) == real_here:
            return app_root, (
                "the app runs on this machine, in a folder inside this one, so that folder "
                "maps to itself; --local-root DIR chooses another"
            )
    return here, None


def _status_line(remote: Remote, outcome: Outcome) -> str:
    left = max(0, int(remote.expires_at - time.time()))
    until = datetime.fromtimestamp(remote.expires_at, tz=timezone.utc).strftime("%H:%M:%S UTC")
    ide = "IDE connected" if outcome.connected else "waiting for the IDE"
    return f"armed until {until} ({left // 60}m{left % 60:02d}s left) | {ide}"


async def _serve(
    relay: Relay,
    listener: socket.socket,
    echo: t.Callable[[str], None],
    live: bool,
    signals: StopSignals,
) -> str | None:
    """Run until the window ends, a stop or a fatal error; return the fatal error, if any."""
    signals.into_loop(relay.outcome.stop)
    try:
        return await _relay_window(relay, listener, echo, live)
    finally:
        signals.hold()  # until asyncio.run has put its own handlers back and ours return


async def _relay_window(
    relay: Relay, listener: socket.socket, echo: t.Callable[[str], None], live: bool
) -> str | None:
    outcome, remote = relay.outcome, relay.remote
    server = await asyncio.start_server(relay.handle, sock=listener)
    last = ""
    try:
        while not outcome.done.is_set() and (left := remote.expires_at - time.time()) > 0:
            line = _status_line(remote, outcome)
            if live:
                echo("\r" + line + "   ")
            elif line.split("|")[1] != last.split("|")[-1]:
                echo(line + "\n")
            last = line
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(outcome.done.wait(), timeout=min(1.0, left))
    finally:
        server.close()  # no new IDE connection from here on
    if live:
        echo("\n")
    if outcome.fatal is not None:
        await asyncio.sleep(0.3)  # let the refusal reach the IDE, which shows it
    elif not outcome.done.is_set() and relay.relaying:
        echo(
            "remotedbg attach: the armed window ended here; waiting for the server to end "
            f"the session (at most {EXPIRY_GRACE:g}s)\n"
        )
    await relay.wind_down(EXPIRY_GRACE)
    return outcome.fatal


def attach_main(
    url: str,
    *,
    local_port: int | None,
    local_root: str | None,
    token: str | None,
    ssh: str | None,
    echo: t.Callable[[str], None] | None = None,
) -> None:
    """Arm, relay, and report; raises AttachError for everything the user must fix.

    `local_port` None is the default port, or a free one when it is taken; `local_root`
    None is the current folder (or the app's, when the app runs on this machine inside it).

    Ctrl-C and SIGTERM (kill, systemd, a closing terminal) end it at any moment with one
    line, the ssh tunnel closed, and a normal return (exit code 0).
    """

    def write(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    say = echo or write
    signals = StopSignals()
    cleanup = contextlib.ExitStack()
    try:
        try:
            signals.install()
            ended = _attach(url, local_port, local_root, token, ssh, say, signals, cleanup)
        finally:
            signals.ignore()  # nothing interrupts the clean-up
            cleanup.close()
    except KeyboardInterrupt:
        signals.ignore()
        cleanup.close()
        ended = "stopped"
    finally:
        signals.release()
        signals.restore()
    say(f"remotedbg attach: {ended}\n")


def _attach(
    url: str,
    local_port: int | None,
    local_root: str | None,
    token: str | None,
    ssh: str | None,
    echo: t.Callable[[str], None],
    signals: StopSignals,
    cleanup: contextlib.ExitStack,
) -> str:
    """attach_main's work; returns how it ended. `cleanup` closes what it opened."""
    from .ide_config import RELAY_NAME

    status = fetch_status(url, fallback="then run remotedbg attach again", label="URL")
    remote = remote_from_status(url, status, ssh=ssh is not None)
    if remote.token_required and token is None:
        raise AttachError(
            "the server requires a token; export REMOTEDBG_TOKEN=... (ask whoever set up the "
            "server) or pass --token"
        )
    server_here = ssh is None and on_this_machine(remote.host)
    if ssh is None:
        target = (remote.host, remote.port)
    else:
        with signals.deferred():
            tunnel = Tunnel(ssh, remote.host, remote.port)
            cleanup.callback(tunnel.close)
        target = tunnel.wait_ready()
    with signals.deferred():
        listener = open_listener(local_port, target if server_here else None)
        cleanup.callback(listener.sock.close)
    root, root_note = _local_root(local_root, remote.app_root, server_here)
    live = sys.stderr.isatty()

    def notice(line: str) -> None:
        echo(("\n" if live else "") + line + "\n")

    relay = Relay(
        target,
        remote,
        token=token,
        local_root=root,
        notice=notice,
        peer_uid=loopback_peer_uid if owner_known_here() else None,
    )
    shared = (
        ""
        if owner_known_here()
        else (
            "  This relay is for a single-user machine: on this system it cannot tell which "
            "user a connection comes from, so any local process that connects gets a session.\n"
        )
    )
    port = listener.port
    moved = (
        f"remotedbg attach: {listener.moved}, so the relay listens on 127.0.0.1:{port}.\n"
        if listener.moved
        else ""
    )
    pycharm = "remotedbg config pycharm" + ("" if port == DEFAULT_LOCAL_PORT else f" --port {port}")
    echo(
        f"{moved}"
        f"remotedbg attach: armed pid {status.pid} on {url}; the debugger is relayed "
        f"from 127.0.0.1:{port}\n"
        f"  In your IDE, attach to 127.0.0.1:{port} with no pathMappings.\n"
        f"  VS Code: this writes the configuration '{RELAY_NAME}' for it:\n"
        f"      {relay_config_command(port)}\n"
        f"  PyCharm: an 'Attach to DAP' configuration with Remote address 127.0.0.1:{port}\n"
        f"      (`{pycharm}` prints the steps).\n"
        f"  Breakpoints map {root} -> {remote.app_root}.\n"
        + (f"  ({root_note})\n" if root_note else "")
        + f"{shared}"
        "  Ctrl-C to stop.\n"
    )
    signals.hold()  # _serve takes them over once the loop runs
    try:
        fatal = asyncio.run(_serve(relay, listener.sock, echo, live, signals))
    finally:
        signals.install()  # asyncio.run's end put the default handlers back
        signals.release()
    if fatal is not None:
        raise AttachError(fatal)
    if relay.outcome.stopped:
        return "stopped"
    return "the armed window ended; run remotedbg attach again to re-arm"

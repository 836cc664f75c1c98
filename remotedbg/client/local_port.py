"""Where `remotedbg attach`'s relay listens on 127.0.0.1: the default port, or a free one."""

from __future__ import annotations

import os
import socket
import sys
import typing as t

from ..errors import AttachError

__all__ = [
    "DEFAULT_LOCAL_PORT",
    "FALLBACK_PORTS",
    "Listener",
    "open_listener",
    "relay_config_command",
]

#: The local port the relay listens on unless told otherwise: what IDE configurations use.
DEFAULT_LOCAL_PORT = 5678
#: Where the relay listens when the default is taken, tried in order: the same ports every
#: time, so a configuration written for one run fits the next. 5679 is left out: it is
#: PyCharm's Debug Server port, and debugpy's behind ``remotedbg bridge`` in the docs.
FALLBACK_PORTS = range(5680, 5700)


class Listener(t.NamedTuple):
    """The relay's listening socket on 127.0.0.1, its port, and why not the default one."""

    sock: socket.socket
    port: int
    #: Why the relay is not on :data:`DEFAULT_LOCAL_PORT`, or None.
    moved: str | None


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if os.name == "posix" and sys.platform != "cygwin":
            # As asyncio does: a relay restarted at once may bind past its old connections.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(100)
    except OSError:
        sock.close()
        raise
    return sock


def open_listener(port: int | None, door: tuple[str, int] | None = None) -> Listener:
    """Listen on 127.0.0.1 at `port`, or with None at the default port or else a free one.

    `door` is the server's debugger when it is on this machine: the relay never takes its
    port (on macOS binding 127.0.0.1 beside a wildcard listener can succeed, and the relay
    would then shadow the door it relays to). An explicit `port` that cannot be had raises
    AttachError naming ``--local-port``; with None, the ports tried are the default, then
    :data:`FALLBACK_PORTS`, then any the system gives.
    """
    leave_out = "or leave it out and remotedbg attach picks a free one"
    if port is not None:
        if door is not None and port == door[1]:
            raise AttachError(
                f"--local-port {port} is the server's own debugger, on this machine "
                f"({door[0]}:{port}); choose another --local-port, {leave_out}"
            )
        try:
            sock = _bind(port)
        except OSError as exc:
            raise AttachError(
                f"--local-port {port}: cannot listen on 127.0.0.1:{port} "
                f"({exc.strerror or exc}); choose another --local-port, {leave_out}"
            ) from None
        return Listener(sock, int(sock.getsockname()[1]), None)
    if door is not None and door[1] == DEFAULT_LOCAL_PORT:
        why = (
            f"port {DEFAULT_LOCAL_PORT} is the server's own debugger, on this machine "
            f"({door[0]}:{DEFAULT_LOCAL_PORT})"
        )
    else:
        why = f"port {DEFAULT_LOCAL_PORT} is taken on this machine"
    for candidate in (DEFAULT_LOCAL_PORT, *FALLBACK_PORTS, 0):
        if door is not None and candidate == door[1]:
            continue
        try:
            sock = _bind(candidate)
        except OSError:
            continue
        chosen = int(sock.getsockname()[1])
        return Listener(sock, chosen, None if chosen == DEFAULT_LOCAL_PORT else why)
    raise AttachError("cannot listen on any port of 127.0.0.1; pass --local-port")


def relay_config_command(port: int) -> str:
    """The command that writes the VS Code configuration for a relay on `port`."""
    option = "" if port == DEFAULT_LOCAL_PORT else f" --port {port}"
    return f"remotedbg config vscode --relay{option} --write"

"""Where the workers of one server find their shared door, and how each side knows the other
is the same user.

The door of a multi-process server is a process of its own (`sidecar.py`) that the workers
reach over Unix sockets in a directory only this user can enter. Anyone who could connect
there could drive a worker's debugger, and anyone who could listen there could pose as the
door to a worker, so the directory is checked (ours, not a symlink, mode 0700) and so is the
peer of every connection, on both ends (``SO_PEERCRED``).
"""

from __future__ import annotations

import os
import re
import socket
import stat
import struct
import tempfile
import typing as t

from ..errors import ArmError

__all__ = ["DoorPaths", "door_paths", "peer_uid", "runtime_dir", "same_user"]


class DoorPaths(t.NamedTuple):
    """The files of one door: its Unix socket and the lock taken to start it."""

    socket: str
    lock: str


def runtime_dir() -> str:
    """This user's private directory for door sockets, made if missing, checked always."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    uid = os.getuid()
    if base and _private(base, uid):
        path = os.path.join(base, "remotedbg")
    else:
        path = os.path.join(tempfile.gettempdir(), f"remotedbg-{uid}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ArmError(f"cannot make the door's directory {path}: {exc.strerror}") from None
    if not _private(path, uid):
        raise ArmError(
            f"{path} is not a directory private to this user (uid {uid}): another user may "
            "have made it to intercept the debugger; remove it, or set XDG_RUNTIME_DIR"
        )
    return path


def _private(path: str, uid: int) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == uid and not info.st_mode & 0o077


def door_paths(host: str, port: int) -> DoorPaths:
    """The door for the debugger address `host`:`port` (the one public port it owns)."""
    name = re.sub(r"[^0-9A-Za-z.]", "_", host)
    base = os.path.join(runtime_dir(), f"door-{name}-{port}")
    return DoorPaths(socket=f"{base}.sock", lock=f"{base}.lock")


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (Linux), or None."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    except OSError:
        return None
    return int(struct.unpack("3i", raw)[1])


def same_user(sock: socket.socket) -> bool:
    """True if the peer runs as this user (or the platform cannot tell and the directory,
    private to this user, is the only way in)."""
    uid = peer_uid(sock)
    return uid is None or uid == os.getuid()

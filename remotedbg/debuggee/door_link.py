"""A worker's line to the door its server's workers share, starting the door if it is missing.

The door (`remotedbg.door.sidecar`) is a process of its own, so that it outlives whichever
worker happened to start it: gunicorn recycles workers (``--max-requests``), kills them on a
timeout, and the IDE must stay attached through all of it. The first worker to arm starts
it, under a lock, so that two workers arming at once start one door; the others find it by
its socket. Nothing here runs before the first allowlisted request, so a server that forks
after loading the app (``--preload``) forks a process with no thread and no socket of ours.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import typing as t

from ..door.rendezvous import DoorPaths, door_paths, same_user
from ..errors import ArmError
from ..hidden_threads import hidden_thread
from ..sansio.door_link import (
    Close,
    Configured,
    Hello,
    LineReader,
    LinkError,
    Open,
    SessionLine,
    Welcome,
    encode_line,
    parse_line,
)

if t.TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["DoorLink", "door_config"]

log = logging.getLogger("remotedbg")

#: Starting the door: a new interpreter that imports asyncio and binds two sockets.
START_TIMEOUT = 20.0
#: Waiting for the door's welcome, or for it to configure this worker's debugger.
ANSWER_TIMEOUT = 10.0


#: Tests shorten how long a door with no worker left waits for one (not a user setting).
ORPHAN_GRACE_VARIABLE = "_REMOTEDBG_TEST_DOOR_GRACE"


def door_config(settings: Settings) -> dict[str, object]:
    """What a door needs to know, passed on its stdin (never argv, which `ps` shows)."""
    grace = os.environ.get(ORPHAN_GRACE_VARIABLE)
    return {
        "orphan_grace": float(grace) if grace else None,
        "allow": str(settings.allow),
        "dap_host": settings.dap_host,
        "dap_port": settings.dap_port,
        "token": settings.token,
        "ttl": settings.ttl,
        "until": settings.until.isoformat() if settings.until is not None else None,
    }


class DoorLink:
    """One worker's membership of the shared door, for one window."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_open: t.Callable[[int], None],
        on_close: t.Callable[[str], None],
    ) -> None:
        self.settings = settings
        self._on_open = on_open
        self._on_close = on_close
        #: Raises ArmError if this user's private directory for doors cannot be had.
        self._paths: DoorPaths = door_paths(settings.dap_host, settings.dap_port)
        self._control: socket.socket | None = None
        self._configured: set[int] = set()
        self._condition = threading.Condition()
        self.welcome: Welcome | None = None
        self._leaving = False

    def join(self, secret: str, welcomed: t.Callable[[Welcome], None]) -> Welcome:
        """Register with the door (starting it if needed); raises ArmError if impossible.

        `welcomed` runs before anything the door says next is acted on (an `Open`).
        """
        control = self._connect() or self._start_door()
        try:
            control.settimeout(ANSWER_TIMEOUT)
            control.sendall(encode_line(Hello(pid=os.getpid(), secret=secret)))
            reader = LineReader()
            lines: list[bytes] = []
            while not lines:
                data = control.recv(4096)
                if not data:
                    raise ArmError("the debugger's door closed the connection at once")
                lines = reader.feed(data)
            welcome = parse_line(lines[0])
            if not isinstance(welcome, Welcome):
                raise ArmError("the debugger's door answered with something unexpected")
            control.settimeout(None)
        except (OSError, LinkError) as exc:
            control.close()
            raise ArmError(f"cannot join the debugger's door: {exc}") from None
        self._control = control
        self.welcome = welcome
        welcomed(welcome)
        early = lines[1:]  # the door may have said more already (an `Open`)
        hidden_thread(lambda: self._listen(control, reader, early), "remotedbg-door-link").start()
        return welcome

    def open_session(self, session: int) -> socket.socket:
        """A new connection to the door for a debug session, introduced by its first line."""
        sock = _unix_connect(self._paths.socket)
        if sock is None or self.welcome is None:
            raise ConnectionError("the debugger's door is gone")
        sock.sendall(encode_line(SessionLine(slot=self.welcome.slot, session=session)))
        return sock

    def wait_configured(self, session: int, timeout: float = ANSWER_TIMEOUT) -> bool:
        """Wait until the IDE's breakpoints reached this worker (so its request stops)."""
        with self._condition:
            return self._condition.wait_for(lambda: session in self._configured, timeout)

    def leave(self) -> None:
        """This worker releases its debugger: the door forgets it."""
        self._leaving = True
        control, self._control = self._control, None
        if control is not None:
            with contextlib.suppress(OSError):
                control.shutdown(socket.SHUT_RDWR)
            control.close()

    # -- the control line, on a hidden thread -----------------------------------------

    def _listen(self, control: socket.socket, reader: LineReader, early: list[bytes]) -> None:
        reason = "the debugger's door closed"
        try:
            lines = early
            while True:
                for line in lines:
                    message = parse_line(line)
                    if isinstance(message, Close):
                        reason = message.reason
                    elif isinstance(message, Open):
                        self._open(message.session)
                    elif isinstance(message, Configured):
                        with self._condition:
                            self._configured.add(message.session)
                            self._condition.notify_all()
                data = control.recv(4096)
                if not data:
                    break
                lines = reader.feed(data)
        except (OSError, LinkError) as exc:
            reason = f"the line to the debugger's door broke ({exc})"
        if not self._leaving:
            self._on_close(reason)

    def _open(self, session: int) -> None:
        try:
            self._on_open(session)
        except Exception as exc:  # one failed session must not end the link
            log.warning("remotedbg: could not open a debug session for the door: %s", exc)

    # -- finding or starting the door -------------------------------------------------

    def _connect(self) -> socket.socket | None:
        sock = _unix_connect(self._paths.socket)
        if sock is not None and not same_user(sock):
            sock.close()
            raise ArmError(f"{self._paths.socket} belongs to another user; remove it")
        return sock

    def _start_door(self) -> socket.socket:
        with open(self._paths.lock, "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                sock = self._connect()  # another worker may have started it meanwhile
                if sock is not None:
                    return sock
                self._spawn_door()
                sock = self._connect()
                if sock is None:
                    raise ArmError("the debugger's door started but cannot be reached")
                return sock
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _spawn_door(self) -> None:
        config = {**door_config(self.settings), "socket": self._paths.socket}
        # The door reads its settings on stdin only: the token stays out of its environment.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REMOTEDBG_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "remotedbg.door.sidecar"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(json.dumps(config).encode(), timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise ArmError(f"the debugger's door did not start within {START_TIMEOUT:g}s") from None
        answer = output.decode(errors="replace").strip().splitlines()
        if process.returncode != 0 or not answer or not answer[-1].startswith("ready"):
            why = answer[-1] if answer else f"exit code {process.returncode}"
            raise ArmError(why.removeprefix("error: "))


def _unix_connect(path: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock

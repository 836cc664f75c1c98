"""The door of a server with several worker processes: one process, one port, one window.

    python -m remotedbg.door.sidecar   (started by the first worker to arm; see door_link.py)

It owns the public debugger port through the same `Bridge` a single process uses (peer
check, token, slow-down, caps), so the IDE meets the same door. Behind it, instead of one
pydevd, a `WorkerMux` fans the session out to every worker that armed: each worker keeps a
control line to it over a Unix socket in this user's private directory, and opens one DAP
connection per IDE session. The door lives as long as the window, not as long as any
worker: it outlives a recycled or killed worker, and it goes when the window ends, or when
no worker has been left for `ORPHAN_GRACE` seconds (the server stopped).

The mux and the link protocol are sans-IO; this module only moves their bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import sys
import time
import typing as t

from ..audit import Audit
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
from ..sansio.worker_mux import CloseWorker, ToIDE, ToWorker, WorkerConfigured, WorkerMux
from .rendezvous import same_user
from .session import CHUNK, Upstream

if t.TYPE_CHECKING:
    from ..settings import Settings
    from .bridge import Bridge

__all__ = ["main"]

log = logging.getLogger("remotedbg")

#: With no worker left, how long the door waits for one (a restart) before it goes.
ORPHAN_GRACE = 30.0
#: The first line of a connection, and a worker's answers, are this quick or dropped.
LINE_TIMEOUT = 10.0
#: How long an attaching IDE waits for the workers to open their debug sessions.
SESSION_OPEN_TIMEOUT = 5.0


class _Worker:
    """A worker as the door knows it: its control line and, per IDE session, its DAP line."""

    def __init__(self, slot: int, pid: int, control: asyncio.StreamWriter) -> None:
        self.slot = slot
        self.pid = pid
        self.control = control
        self.dap: asyncio.StreamWriter | None = None
        self.dap_session = 0


class Door:
    """One server's door: the bridge in front, the workers behind."""

    def __init__(
        self, settings: Settings, socket_path: str, orphan_grace: float = ORPHAN_GRACE
    ) -> None:
        self.settings = settings
        self.orphan_grace = orphan_grace
        self.socket_path = socket_path
        self.audit = Audit()
        self.mux = WorkerMux()
        self.workers: dict[int, _Worker] = {}
        self.session = 0  # the attached IDE's session, 0 when none
        self._ide: asyncio.StreamWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._orphaned_at: float | None = time.monotonic()
        self.bridge: Bridge | None = None
        self.window_end = 0.0

    # -- lifetime ---------------------------------------------------------------------

    async def serve(self, ready: t.Callable[[str], None]) -> None:
        from .access import AccessPolicy, Window
        from .bridge import Bridge

        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        window = Window(self.settings.ttl, self.settings.until)
        if not window.open():
            ready("error: REMOTEDBG_UNTIL has passed")
            return
        self.window_end = time.monotonic() + window.remaining()
        policy = AccessPolicy(self.settings.allow, self.settings.token, window)
        self.bridge = Bridge(
            listen=(self.settings.dap_host, self.settings.dap_port),
            upstream=self._new_ide_session,
            policy=policy,
            audit=self.audit,
        )
        host, port = self.settings.dap_host, self.settings.dap_port
        try:
            self.bridge.start()
        except OSError as exc:
            ready(f"error: the debugger port {host}:{port} is in use or cannot be bound ({exc})")
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)  # a stale socket: the lock proves no door answers it
        server = await asyncio.start_unix_server(self._accept, path=self.socket_path)
        os.chmod(self.socket_path, 0o600)
        self.audit("door_started", pid=os.getpid(), dap=f"{host}:{port}")
        ready(f"ready {os.getpid()}")
        try:
            await self._until_done()
        finally:
            server.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
            await self._loop.run_in_executor(None, self.bridge.close, "the armed window ended")
            for worker in list(self.workers.values()):
                with contextlib.suppress(Exception):
                    worker.control.write(encode_line(Close(reason="the armed window ended")))
                    await worker.control.drain()
                    worker.control.close()
            self.audit("door_closed", pid=os.getpid())

    async def _until_done(self) -> None:
        assert self._done is not None  # noqa: S101 - set by serve() before this runs
        while not self._done.is_set():
            now = time.monotonic()
            if now >= self.window_end:
                return
            if self._orphaned_at is not None and now - self._orphaned_at >= self.orphan_grace:
                log.warning("remotedbg: the door closes: no worker of the server is left")
                return
            if self.mux.wants_tick:  # a `threads` answer waits for a silent worker
                await self._apply(self.mux.tick(now))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._done.wait(), min(0.25, self.window_end - now))

    # -- the IDE side: the bridge asks for an upstream per attached IDE ------------------

    def _new_ide_session(self) -> Upstream:
        """Called on the bridge's thread: a socket pair whose far end the mux serves."""
        loop = self._loop
        if loop is None:
            raise ConnectionError("the door is not serving")
        ours, theirs = socket.socketpair()
        asyncio.run_coroutine_threadsafe(self._serve_ide(theirs), loop)
        # Every worker installs the breakpoint helpers before it joins.
        return Upstream(sock=ours, secret=secrets.token_hex(16), guarded=True)

    async def _serve_ide(self, sock: socket.socket) -> None:
        reader, writer = await asyncio.open_connection(sock=sock)
        if self._ide is not None:  # the bridge admits one IDE at a time; be sure
            writer.close()
            return
        self.session += 1
        self._ide = writer
        for worker in self.workers.values():
            worker.control.write(encode_line(Open(session=self.session)))
        await self._sessions_opened()
        try:
            while data := await reader.read(CHUNK):
                await self._apply(self.mux.receive_from_ide(data))
        except Exception as exc:
            log.warning("remotedbg: the IDE session through the door failed: %s", exc)
        finally:
            self._ide = None
            with contextlib.suppress(Exception):
                await self._apply(self.mux.ide_gone())
            for worker in self.workers.values():
                self._close_dap(worker)
            writer.close()

    async def _sessions_opened(self) -> None:
        """Let the workers open their sessions before the IDE's set-up reaches the mux.

        Otherwise the mux would answer the set-up itself, and the IDE, told it is configured,
        could send a request to a worker whose breakpoints are still on their way.
        """
        deadline = time.monotonic() + SESSION_OPEN_TIMEOUT
        while time.monotonic() < deadline and any(
            worker.dap_session != self.session for worker in self.workers.values()
        ):
            await asyncio.sleep(0.01)

    # -- the worker side: control lines and DAP lines on the Unix socket ---------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is None or not same_user(sock):
            writer.close()
            return
        try:
            first = await asyncio.wait_for(reader.readline(), LINE_TIMEOUT)
            message = parse_line(first)
        except (asyncio.TimeoutError, LinkError, ValueError, OSError):
            writer.close()
            return
        if isinstance(message, Hello):
            await self._serve_worker(message, reader, writer)
        elif isinstance(message, SessionLine):
            await self._serve_dap(message, reader, writer)
        else:
            writer.close()

    async def _serve_worker(
        self, hello: Hello, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            slot = self.mux.add_worker(hello.pid, hello.secret)
        except Exception as exc:
            log.warning("remotedbg: the door refused worker pid %s: %s", hello.pid, exc)
            writer.close()
            return
        worker = self.workers[slot] = _Worker(slot, hello.pid, writer)
        self._orphaned_at = None
        self.audit("worker_joined", pid=hello.pid, slot=slot)
        remaining = max(0.0, self.window_end - time.monotonic())
        session = self.session if self._ide is not None else 0  # 0: no IDE attached
        welcome = Welcome(slot=slot, remaining=remaining, door_pid=os.getpid(), session=session)
        writer.write(encode_line(welcome))
        if session:
            writer.write(encode_line(Open(session=session)))
        lines = LineReader()
        try:
            while data := await reader.read(4096):
                lines.feed(data)  # a worker says nothing after hello; its silence is its life
        except (OSError, LinkError):
            pass
        finally:
            del self.workers[slot]
            self._close_dap(worker)
            await self._apply(self.mux.remove_worker(slot))
            self.audit("worker_left", pid=hello.pid, slot=slot)
            if not self.workers:
                self._orphaned_at = time.monotonic()
            writer.close()

    async def _serve_dap(
        self, line: SessionLine, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        worker = self.workers.get(line.slot)
        if worker is None or line.session != self.session or self._ide is None:
            writer.close()
            return
        self._close_dap(worker)
        worker.dap, worker.dap_session = writer, line.session
        try:
            await self._apply(self.mux.worker_session_open(line.slot))
            while data := await reader.read(CHUNK):
                await self._apply(self.mux.receive_from_worker(line.slot, data))
        except Exception as exc:
            log.warning("remotedbg: worker pid %s's debug session failed: %s", worker.pid, exc)
        finally:
            if worker.dap is writer:
                worker.dap = None
                with contextlib.suppress(Exception):  # its session ended; the worker stays
                    await self._apply(self.mux.receive_from_worker(line.slot, b""))
            writer.close()

    def _close_dap(self, worker: _Worker) -> None:
        if worker.dap is not None:
            worker.dap.close()
            worker.dap = None

    async def _apply(self, actions: t.Iterable[object]) -> None:
        for action in actions:
            if isinstance(action, ToIDE):
                if self._ide is not None:
                    self._ide.write(action.data)
                    await self._ide.drain()
            elif isinstance(action, ToWorker):
                worker = self.workers.get(action.slot)
                if worker is not None and worker.dap is not None:
                    worker.dap.write(action.data)
            elif isinstance(action, CloseWorker):
                worker = self.workers.get(action.slot)
                if worker is not None:
                    self._close_dap(worker)
            elif isinstance(action, WorkerConfigured):
                worker = self.workers.get(action.slot)
                if worker is not None:
                    worker.control.write(encode_line(Configured(session=worker.dap_session)))


def main() -> None:
    """Read the door's settings on stdin, detach from the worker, serve until the window ends.

    The worker that starts us waits for one line on stdout: ``ready PID`` or ``error: why``.
    """
    from ..settings import Settings

    config = json.load(sys.stdin)
    settings = Settings.load(
        {},
        overrides={
            "enable": True,
            "allow": config["allow"],
            "dap_host": config["dap_host"],
            "dap_port": config["dap_port"],
            "token": config["token"],
            "ttl": config["ttl"],
            "until": config["until"],
        },
    )
    read_end, write_end = os.pipe()
    if os.fork():  # the worker reaps this parent at once; the child is init's to reap
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            answer = pipe.readline().strip() or "error: the debugger's door died at start-up"
        print(answer, flush=True)
        os._exit(0 if answer.startswith("ready") else 1)
    os.close(read_end)
    os.setsid()
    # The worker reads our parent's stdout to its end: this process must not hold it.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    logging.basicConfig(format=f"[remotedbg door {os.getpid()}] %(message)s", level=logging.INFO)
    pipe = os.fdopen(write_end, "w")

    def ready(line: str) -> None:
        pipe.write(line + "\n")
        pipe.close()

    grace = config.get("orphan_grace") or ORPHAN_GRACE
    asyncio.run(Door(settings, config["socket"], float(grace)).serve(ready))


if __name__ == "__main__":
    main()

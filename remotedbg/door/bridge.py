"""The DAP bridge: the only way in to a debugger that has no authentication of its own.

debugpy runs code for whoever connects to its port. So debugpy listens on 127.0.0.1 only,
and the bridge owns the public port: it checks the peer at accept, answers the handshake
itself, and opens a connection to debugpy only for an ``attach`` that carries the token.
It is a thin asyncio proxy around the sans-IO codec, on one daemon thread that pydevd
neither traces, pauses nor lists, so a breakpoint cannot freeze the proxy the IDE talks
through.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import sys
import threading
import typing as t

from ..hidden_threads import off_loop
from ..sansio.addresses import parse_address
from .peer_owner import loopback_peer_uid, owner_known_here
from .session import (
    CHUNK,
    HIGH_WATER,
    LOW_WATER,
    Connection,
    SessionConfig,
    Slot,
    Upstream,
    close_writer,
    explain,
    nodelay,
)

if t.TYPE_CHECKING:
    from ..audit import Audit
    from .access import AccessPolicy

__all__ = ["Bridge"]

#: Binding the accept loop onto the bridge thread.
_START_TIMEOUT = 10.0
#: close(): telling the IDE, resuming the app, detaching debugpy, with room to spare.
_CLOSE_TIMEOUT = 6.0
#: Pause after accept() fails (out of file descriptors, say) so the loop does not spin.
_ACCEPT_BACKOFF = 0.1
#: Connections not (yet) attached, per address and in all. Each holds little (a small
#: request at most), and past a cap the oldest goes rather than the newcomer: an attacker
#: who holds connections open cannot keep a developer out, only push their own out.
MAX_UNATTACHED_PER_ADDRESS = 8
MAX_UNATTACHED = 32


class _BridgeThread(threading.Thread):
    """Runs the bridge's event loop out of the debugger's sight.

    pydevd skips threads marked with these attributes when tracing, when suspending all
    threads at a breakpoint, and when answering ``threads``. They are class attributes, so
    they are set before start().
    """

    pydev_do_not_trace = True
    is_pydev_daemon_thread = True

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(name="remotedbg-bridge", daemon=True)
        self.loop = loop

    def run(self) -> None:
        # Only this thread's hook: a tracer inherited from threading.settrace() would make
        # pydevd stop here. The global hooks belong to the debugger.
        sys.settrace(None)
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()


class _Listener(t.NamedTuple):
    sock: socket.socket
    task: asyncio.Task[None]


def _bind(listen: tuple[str, int]) -> socket.socket:
    """A listening socket for `listen`, IPv4 or IPv6 as the host says."""
    host, port = listen
    family, _, _, _, sockaddr = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.create_server(sockaddr, family=family)
    nodelay(sock)  # inherited by accepted sockets on Linux
    sock.setblocking(False)
    return sock


def _peer_ip(address: t.Any) -> str:
    """The peer's IP, with ``::ffff:10.0.0.1`` (a dual-stack socket's view) folded to IPv4."""
    text = str(address[0])
    return str(parse_address(text) or text)


class Bridge:
    """Owns the public debugger port and proxies, after its checks, to debugpy on loopback."""

    def __init__(
        self,
        *,
        listen: tuple[str, int],
        upstream: t.Callable[[], Upstream | tuple[str, int]],
        policy: AccessPolicy,
        audit: Audit,
        handshake_timeout: float = 10.0,
        on_attach: t.Callable[[str], None] | None = None,
        on_detach: t.Callable[[str], None] | None = None,
    ) -> None:
        self._listen = listen
        self._config = SessionConfig(
            policy, audit, upstream, handshake_timeout, on_attach, on_detach
        )
        self._slot = Slot()
        self._lock = threading.Lock()  # start() and close() from any thread, one at a time
        self._thread: _BridgeThread | None = None
        self._address: tuple[str, int] | None = None
        # Below: touched only on the bridge loop.
        self._listener: _Listener | None = None
        self._connections: dict[asyncio.Task[None], Connection | None] = {}
        self._unattached: dict[asyncio.Task[None], str] = {}  # -> peer; oldest first

    @property
    def address(self) -> tuple[str, int] | None:
        """The bound address while listening, else None."""
        return self._address

    @property
    def client(self) -> str | None:
        """The peer IP of the attached session, or None."""
        return self._slot.peer

    def start(self) -> tuple[str, int]:
        """Bind synchronously (so a busy port raises OSError here, in the caller, at once), then
        serve on a daemon thread running its own asyncio loop. Returns the bound address (port 0
        -> real port). Calling start() again after close() re-binds (a new window) reusing the
        same thread/loop if alive."""
        with self._lock:
            if self._address is not None:
                raise RuntimeError(f"the bridge already listens on {self._address}")
            sock = _bind(self._listen)
            try:
                loop = self._ensure_thread().loop
                future = asyncio.run_coroutine_threadsafe(self._start_accepting(sock), loop)
                future.result(_START_TIMEOUT)
            except BaseException:
                sock.close()
                raise
            host, port = sock.getsockname()[:2]
            self._address = (str(host), int(port))
            return self._address

    def close(self, reason: str) -> None:
        """Thread-safe, idempotent. Tells an attached IDE why (``output``, then ``terminated``),
        resumes paused threads and detaches debugpy (``continue``, ``disconnect`` with
        ``terminateDebuggee: false``, up to ~2 s for answers), then closes the session and the
        listening socket. Blocks until done (bounded); from the bridge thread itself (a
        callback) it only schedules the close."""
        thread = self._thread
        if thread is None:
            return
        if threading.current_thread() is thread:
            self._address = None
            thread.loop.create_task(self._shutdown(reason))
            return
        with self._lock:
            self._address = None
            future = asyncio.run_coroutine_threadsafe(self._shutdown(reason), thread.loop)
            try:
                future.result(_CLOSE_TIMEOUT + 2.0)
            except concurrent.futures.TimeoutError:
                future.cancel()
                self._config.audit("fault", reason="close() timed out")

    def _ensure_thread(self) -> _BridgeThread:
        if self._thread is None or not self._thread.is_alive():
            loop = asyncio.new_event_loop()
            loop.set_exception_handler(self._on_loop_error)
            self._thread = _BridgeThread(loop)
            self._thread.start()
        return self._thread

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, t.Any]) -> None:
        """Whatever escapes a task is audited; nothing may kill the loop thread."""
        exc = context.get("exception")
        reason = explain(exc) if isinstance(exc, BaseException) else str(context.get("message"))
        self._config.audit("fault", reason=reason)

    # -- on the bridge loop ------------------------------------------------------------

    async def _start_accepting(self, sock: socket.socket) -> None:
        task = asyncio.get_running_loop().create_task(self._accept(sock))
        self._listener = _Listener(sock, task)

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, address = await loop.sock_accept(sock)
            except OSError as exc:
                self._config.audit("fault", reason=explain(exc))
                await asyncio.sleep(_ACCEPT_BACKOFF)
                continue
            try:
                self._admit(conn, _peer_ip(address))
            except Exception as exc:
                conn.close()
                self._config.audit("fault", reason=explain(exc))

    def _admit(self, conn: socket.socket, peer: str) -> None:
        """Peer check before any byte is read: a refused socket never becomes a stream."""
        reason = self._config.policy.check_peer(peer)
        if reason is not None:
            conn.close()
            self._config.audit("refused", peer=peer, reason=reason)
            return
        self._make_room(peer)
        task = asyncio.get_running_loop().create_task(self._serve(conn, peer))
        self._connections[task] = None
        self._unattached[task] = peer
        task.add_done_callback(lambda done: self._forget(done, conn))

    def _other_local_user(self, conn: socket.socket, peer: str) -> str | None:
        """Without a token, a loopback door is this app's user's alone (and root's).

        Every local process can reach a loopback port; with no token to tell people apart,
        the peer's owner does (Linux: the kernel's sock_diag, or /proc). With a token, the
        token decides. What makes a connection local is the door's end of it: a process may
        connect to 127.0.0.1 from any of the box's own addresses, which an allowlist may
        well hold (a VPN's, an office range).
        """
        if self._config.policy.token is not None or not owner_known_here():
            return None
        try:
            local, remote = conn.getsockname()[:2], conn.getpeername()[:2]
        except OSError:  # gone already: nothing to admit
            return f"the connection from {peer} closed before its owner could be read"
        address = parse_address(local[0])
        if address is None or not address.is_loopback:
            return None
        try:
            uid = loopback_peer_uid(remote, local)
        except OSError:
            uid = None
        if uid is not None and uid in (os.getuid(), 0):
            return None
        who = f"uid {uid}" if uid is not None else "a process whose owner could not be found"
        return (
            f"{who} is not this app's user: without REMOTEDBG_TOKEN only uid {os.getuid()} "
            "(and root) may attach over loopback; set a token to admit others"
        )

    def _make_room(self, peer: str) -> None:
        """At a cap on unattached connections, drop the oldest of `peer`'s (or of all).

        Connections idle before ``attach`` go before those that sent one; the attached
        session never counts. At most 33 connections: scanning them is cheap.
        """
        owner = self._slot.owner
        if owner is not None:
            for task in [task for task in self._unattached if self._connections.get(task) is owner]:
                del self._unattached[task]  # attached: no longer this rule's business
        mine = [task for task, their in self._unattached.items() if their == peer]
        if len(mine) >= MAX_UNATTACHED_PER_ADDRESS:
            victims, reason = mine, "too many connections from this address before attach"
        elif len(self._unattached) >= MAX_UNATTACHED:
            victims, reason = list(self._unattached), "too many connections before attach"
        else:
            return
        idle = [task for task in victims if not self._is_attaching(task)]
        victim = (idle or victims)[0]
        self._config.audit(
            "dropped", peer=self._unattached.pop(victim), reason=f"{reason}: dropped the oldest"
        )
        victim.cancel()

    def _is_attaching(self, task: asyncio.Task[None]) -> bool:
        connection = self._connections.get(task)
        return connection is not None and connection.attaching

    def _forget(self, task: asyncio.Task[None], conn: socket.socket) -> None:
        connection = self._connections.pop(task, None)
        self._unattached.pop(task, None)
        if connection is None and task.cancelled():
            conn.close()  # dropped before it became a stream, maybe before it ran at all

    async def _serve(self, conn: socket.socket, peer: str) -> None:
        reason = None
        if self._config.policy.token is None:
            # Reading /proc/net/tcp takes milliseconds (tens on a busy box): not on the loop.
            reason = await off_loop(lambda: self._other_local_user(conn, peer), "remotedbg-owner")
        if reason is not None:
            conn.close()
            self._config.audit("refused", peer=peer, reason=reason)
            return
        try:
            nodelay(conn)
            reader, writer = await asyncio.open_connection(sock=conn, limit=CHUNK)
            writer.transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)
        except OSError as exc:
            conn.close()
            self._config.audit("fault", peer=peer, reason=explain(exc))
            return
        connection = Connection(peer, reader, writer, self._config, self._slot)
        task = asyncio.current_task()
        if task in self._connections:
            self._connections[task] = connection
            await connection.serve()
        else:  # the bridge closed while this connection was being set up
            await close_writer(writer)

    async def _shutdown(self, reason: str) -> None:
        """Stop accepting, end every connection, wait for them (bounded)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.task.cancel()
            # Close only once the accept is unregistered, or a reused fd could be hit.
            with contextlib.suppress(asyncio.CancelledError):
                await listener.task
            listener.sock.close()
        for task, connection in list(self._connections.items()):
            if connection is None:  # still being set up: _serve() sees this and closes it
                self._connections.pop(task, None)
            else:
                connection.stop(reason)
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=_CLOSE_TIMEOUT)

"""One IDE connection through the bridge: the asyncio shell around the door's conversation.

Who may say what, and when, is `DoorConversation`'s to decide (sans-IO, in
``remotedbg.sansio``); this module only reads, writes, keeps time and applies backpressure,
so that the rules are tested without sockets. Debugger -> IDE bytes reach the conversation
straight from a plain protocol and leave as memoryviews of the same read, so a 10 MB
variable moves at close to wire speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import typing as t
from dataclasses import dataclass

from ..hidden_threads import off_loop
from ..sansio import door_events as ev
from ..sansio.door_admission import CLIENT_MAX_MESSAGE, PRE_ATTACH_MAX_MESSAGE, Slot
from ..sansio.door_conversation import (
    FLUSH_TIMEOUT,
    RELEASE_TIMEOUT,
    UPSTREAM_TIMEOUT,
    DoorConversation,
)
from ..sansio.door_framing import PEEK_LIMIT
from ..sansio.door_messages import (
    AUTHORIZE_FIELD,
    adapter_capabilities,
    capability_changes,
    explain,
)

if t.TYPE_CHECKING:
    from ..audit import Audit
    from .access import AccessPolicy

# Re-exported: the constants and helpers live in sansio now, importers find them here still.
__all__ = [
    "AUTHORIZE_FIELD",
    "CHUNK",
    "CLIENT_MAX_MESSAGE",
    "FLUSH_TIMEOUT",
    "PEEK_LIMIT",
    "PRE_ATTACH_MAX_MESSAGE",
    "RELEASE_TIMEOUT",
    "UPSTREAM_TIMEOUT",
    "Connection",
    "SessionConfig",
    "Slot",
    "Upstream",
    "adapter_capabilities",
    "capability_changes",
    "close_writer",
    "explain",
    "nodelay",
]

#: Read size: big reads keep large variables and sources cheap to move.
CHUNK = 256 * 1024
#: Debugger -> IDE buffering: reading from debugpy pauses above HIGH_WATER and resumes
#: below LOW_WATER. asyncio's defaults (64 KiB / 16 KiB) paused and resumed dozens of times
#: for one 10 MB variable; a few MiB per IDE lets big bodies stream in one go.
HIGH_WATER = 4 * 1024 * 1024
LOW_WATER = 1024 * 1024
_TIMER_FIRED = ev.TimerFired()


def nodelay(sock: t.Any) -> None:
    """DAP is request/response: Nagle's algorithm would add delay to every step."""
    if sock is None:  # a transport that is already closed has no socket
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Upstream(t.NamedTuple):
    """How one session reaches the debugger: a TCP address, or a socket already connected.

    With `secret`, the bridge proves itself to pydevd (``pydevdAuthorize``) before anything
    of the IDE's goes through.
    """

    address: tuple[str, int] | None = None
    sock: socket.socket | None = None
    secret: str | None = None
    #: The debugger has remotedbg's breakpoint helpers: every breakpoint gets the
    #: "developer's request" condition (a plain debugpy would fail to evaluate it).
    guarded: bool = False


def _as_upstream(found: Upstream | tuple[str, int]) -> Upstream:
    return found if isinstance(found, Upstream) else Upstream(address=found)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close and wait, bounded: a peer that stopped reading must not hold us."""
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), FLUSH_TIMEOUT)


@dataclass(frozen=True)
class SessionConfig:
    """What every connection needs from its bridge."""

    policy: AccessPolicy
    audit: Audit
    #: Called off the event loop, once per session: it may block (pydevd's hand-off does).
    upstream: t.Callable[[], Upstream | tuple[str, int]]
    handshake_timeout: float
    on_attach: t.Callable[[str], None] | None = None
    on_detach: t.Callable[[str], None] | None = None


class _Upstream(asyncio.Protocol):
    """debugpy's connection as a plain protocol: its bytes reach the conversation uncopied.

    Reading pauses while the IDE's send buffer is full: that is the backpressure.
    """

    def __init__(self, conn: Connection, secret: str | None, guarded: bool = False) -> None:
        self.conn = conn
        self.secret = secret
        self.guarded = guarded
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.paused = False
        self._writable = asyncio.Event()
        self._writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = t.cast("asyncio.Transport", transport)
        nodelay(transport.get_extra_info("socket"))
        self.conn.upstream_made(self)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self, *, abort: bool = False) -> None:
        if self.transport is not None:
            self.transport.abort() if abort else self.transport.close()

    async def drain(self) -> None:
        await self._writable.wait()

    def resume(self) -> None:
        """Read again: the IDE drained its buffer, or nothing goes to the IDE any more."""
        if self.paused and self.transport is not None and not self.lost.done():
            self.paused = False
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        conn.feed(ev.UpstreamBytes(data=data))
        if self.paused or self.transport is None or not conn.conversation.forwarding:
            return
        if conn.writer.transport.get_write_buffer_size() > HIGH_WATER:
            self.paused = True
            self.transport.pause_reading()
            conn.spawn(self._resume_when_drained())

    async def _resume_when_drained(self) -> None:
        try:
            await self.conn.writer.drain()
        except ConnectionError:
            self.conn.client_dead = True
        self.resume()

    def eof_received(self) -> bool:
        self.conn.feed(ev.UpstreamEOF())
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._writable.set()
        if not self.lost.done():
            self.lost.set_result(None)
        self.conn.feed(ev.UpstreamLost(reason=explain(exc) if exc else None))

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()


class Connection:
    """An accepted, allowlisted connection: feeds its conversation, carries out its actions."""

    def __init__(
        self,
        peer: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        config: SessionConfig,
        slot: Slot,
    ) -> None:
        self.peer = peer
        self.reader = reader
        self.writer = writer
        self.config = config
        self.slot = slot
        self.conversation = DoorConversation(peer, config.policy, slot)
        #: Set once writing to the IDE failed: what is left for it is dropped.
        self.client_dead = False
        self._loop = asyncio.get_running_loop()
        self._closed: asyncio.Future[ev.Close] = self._loop.create_future()
        self._readable = asyncio.Event()  # the conversation wants the IDE's bytes
        self._readable.set()
        self._upstream: _Upstream | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._attached = False  # between the Attached and Detached actions
        self._fault = "cancelled"  # why, if the conversation never got to say

    @property
    def attaching(self) -> bool:
        """True once the IDE has sent ``attach``: the bridge drops idle connections first."""
        return self.conversation.attaching

    def audit(self, event: str, **fields: object) -> None:
        self.config.audit(event, peer=self.peer, **fields)

    def stop(self, reason: str) -> None:
        """End gracefully if attached (the IDE is told, the app resumed); else just drop."""
        self.feed(ev.Stop(reason=reason))

    async def serve(self) -> None:
        """Run the connection to its end; a fault here never reaches the bridge loop."""
        deadline = self._loop.call_later(
            self.config.handshake_timeout, self.feed, ev.HandshakeTimeout()
        )
        pump = self._loop.create_task(self._pump())
        try:
            close = await self._closed
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            await self._wind_down(close)
        except Exception as exc:
            self._fault = explain(exc)
            self.audit("fault", reason=self._fault)
        finally:
            deadline.cancel()
            pump.cancel()
            self._cancel_timer()
            for task in self._tasks:
                task.cancel()
            if self._upstream is not None:
                self._upstream.close()
            if self._attached:  # ended by a fault: the bridge's owner still hears of it
                self.audit("detached", reason=self._fault)
                self._call(self.config.on_detach)
            self.slot.release(self.conversation)
            await close_writer(self.writer)

    def feed(self, event: ev.Event) -> None:
        """Hand `event` to the conversation and carry out what it answers, in order."""
        if self._closed.done():
            return
        try:
            actions = self.conversation.handle(event)
        except Exception as exc:  # a bug must end this connection, not leave it hanging
            self._fault = explain(exc)
            self.audit("fault", reason=self._fault)
            self._closed.set_result(ev.Close(reason=self._fault))
            return
        for action in actions:
            if isinstance(action, ev.SendToClient):
                if not self.client_dead:
                    self.writer.write(action.data)
            elif isinstance(action, ev.SendToUpstream):
                if self._upstream is not None:
                    self._upstream.write(action.data)
            elif isinstance(action, ev.Audit):
                self.audit(action.event, **action.fields)
            elif isinstance(action, ev.Wait):
                self._cancel_timer()
                self._timer = self._loop.call_later(action.seconds, self.feed, _TIMER_FIRED)
            elif isinstance(action, ev.ConnectUpstream):
                self.spawn(self._connect())
            elif isinstance(action, ev.CloseUpstream):
                if self._upstream is not None:
                    self._upstream.close(abort=action.abort)
            elif isinstance(action, ev.Attached):
                self._attached = True
                self._call(self.config.on_attach)
            elif isinstance(action, ev.Detached):
                self._attached = False
                self._call(self.config.on_detach)
            elif isinstance(action, ev.Close) and not self._closed.done():
                self._closed.set_result(action)
        conversation = self.conversation
        if conversation.wants_client_data:
            self._readable.set()
        else:
            self._readable.clear()
        upstream = self._upstream
        if upstream is not None and upstream.paused and not conversation.forwarding:
            upstream.resume()

    def spawn(self, coro: t.Coroutine[t.Any, t.Any, None]) -> None:
        """A helper task of this connection, cancelled when it ends."""
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def upstream_made(self, upstream: _Upstream) -> None:
        if self._closed.done():
            upstream.close()  # too late: the conversation already gave up on it
            return
        self._upstream = upstream
        self.feed(ev.UpstreamConnected(secret=upstream.secret, guarded=upstream.guarded))

    # -- I/O ------------------------------------------------------------------------------

    async def _pump(self) -> None:
        """IDE -> conversation, only while it wants more (it holds off while it waits)."""
        conversation, reader = self.conversation, self.reader
        while True:
            await self._readable.wait()
            try:
                data = await reader.read(min(CHUNK, conversation.max_read))
            except Exception as exc:  # a reset, say: the conversation decides what it means
                self.feed(ev.ClientLost(reason=explain(exc)))
                return
            self.feed(ev.ClientBytes(data=data) if data else ev.ClientEOF())
            if not data:
                return
            upstream = self._upstream
            if upstream is not None:
                await upstream.drain()

    async def _connect(self) -> None:
        try:
            found = _as_upstream(await off_loop(self.config.upstream, "remotedbg-upstream"))

            def protocol() -> _Upstream:
                return _Upstream(self, found.secret, found.guarded)

            if found.sock is not None:
                await self._loop.create_connection(protocol, sock=found.sock)
            elif found.address is not None:
                await self._loop.create_connection(protocol, *found.address)
            else:
                raise ConnectionError("no debugger to connect to")
        except Exception as exc:  # refusals, and whatever upstream() raises
            self.feed(ev.UpstreamFailed(reason=explain(exc)))

    async def _wind_down(self, close: ev.Close) -> None:
        for task in self._tasks:
            task.cancel()
        upstream = self._upstream
        if upstream is not None:
            upstream.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(upstream.lost), FLUSH_TIMEOUT)
        if close.linger:
            await self._linger()

    async def _linger(self) -> None:
        """Half-close and let the IDE read our refusal before the socket goes.

        Closing with unread input makes the kernel send a reset, which can destroy the
        answer we just wrote before the IDE reads it.
        """
        writer = self.writer
        with contextlib.suppress(OSError, RuntimeError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.drain(), FLUSH_TIMEOUT)
            if writer.can_write_eof():
                writer.write_eof()
            await asyncio.wait_for(self._discard_input(), FLUSH_TIMEOUT)

    async def _discard_input(self) -> None:
        while await self.reader.read(CHUNK):
            pass

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _call(self, callback: t.Callable[[str], None] | None) -> None:
        """Run a user callback; its bugs are audited, not allowed to break the session."""
        if callback is None:
            return
        try:
            callback(self.peer)
        except Exception as exc:
            self.audit("fault", reason=explain(exc))

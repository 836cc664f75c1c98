"""One IDE connection through the bridge: the handshake the bridge answers itself, then a proxy.

The bridge, not debugpy, answers ``initialize``: VS Code sends ``attach`` only after that
response, and nothing may reach debugpy before ``attach`` proves the token; until then a
peer may send only small requests (`PRE_ATTACH_MAX_MESSAGE`). Then IDE ->
debugger is parsed (requests are small, and ``disconnect`` ends the session) while debugger
-> IDE bytes are forwarded as they arrive, frame boundaries tracked but JSON never decoded,
so a 10 MB variable moves at close to wire speed. Every way a session ends resumes the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import typing as t
from dataclasses import dataclass

from ..errors import MissingContentLength, ProtocolError, TruncatedMessage
from ..hidden_threads import off_loop
from ..sansio.dap_codec import (
    DEFAULT_MAX_HEADER_SIZE,
    NEED_DATA,
    Decoder,
    Event,
    Message,
    Request,
    Response,
    encode,
    frame,
    parse_message,
)
from .access import TOKEN_FIELD

if t.TYPE_CHECKING:
    from ..audit import Audit
    from .access import AccessPolicy

__all__ = [
    "CHUNK",
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
#: Largest request an attached IDE may send.
CLIENT_MAX_MESSAGE = 4 * 1024 * 1024
#: Largest request before a successful ``attach`` (``initialize`` and ``attach`` are a few
#: hundred bytes): what a peer without the token can make us hold, per connection.
PRE_ATTACH_MAX_MESSAGE = 64 * 1024
#: Connecting to debugpy and its answer to ``initialize``.
UPSTREAM_TIMEOUT = 10.0
#: How long to wait for debugpy to answer the ``disconnect`` that resumes the app.
RELEASE_TIMEOUT = 2.0
#: Writing our last words to an IDE, and letting it read a refusal before we close.
FLUSH_TIMEOUT = 1.0
#: Debugger frames larger than this are never parsed: a ``disconnect`` response is tiny.
PEEK_LIMIT = 64 * 1024
#: Refusing a second IDE: who is attached goes to the audit log, not to the newcomer.
_BUSY = "remotedbg: another IDE is already attached; detach it first"
#: pydevd's ``pydevdAuthorize`` argument that carries the bridge's per-session secret.
AUTHORIZE_FIELD = "debugServerAccessToken"


def adapter_capabilities() -> dict[str, t.Any]:
    """What debugpy's own adapter answers to ``initialize`` (debugpy/adapter/clients.py).

    The bridge answers before debugpy is reachable, and an IDE set up for debugpy expects
    exactly this, descriptions of the exception filters included. Built per call: no shared
    mutable state.
    """
    filters = [
        {
            "filter": "raised",
            "label": "Raised Exceptions",
            "default": False,
            "description": "Break whenever any exception is raised.",
        },
        {
            "filter": "uncaught",
            "label": "Uncaught Exceptions",
            "default": True,
            "description": "Break when the process is exiting due to unhandled exception.",
        },
        {
            "filter": "userUnhandled",
            "label": "User Uncaught Exceptions",
            "default": False,
            "description": "Break when exception escapes into library code.",
        },
    ]
    return {
        "supportsCompletionsRequest": True,
        "supportsConditionalBreakpoints": True,
        "supportsConfigurationDoneRequest": True,
        "supportsDebuggerProperties": True,
        "supportsDelayedStackTraceLoading": True,
        "supportsEvaluateForHovers": True,
        "supportsExceptionInfoRequest": True,
        "supportsExceptionOptions": True,
        "supportsFunctionBreakpoints": True,
        "supportsHitConditionalBreakpoints": True,
        "supportsLogPoints": True,
        "supportsModulesRequest": True,
        "supportsSetExpression": True,
        "supportsSetVariable": True,
        "supportsValueFormattingOptions": True,
        "supportsTerminateDebuggee": True,
        "supportsTerminateRequest": True,
        "supportsGotoTargetsRequest": True,
        "supportsClipboardContext": True,
        "exceptionBreakpointFilters": filters,
        "supportsStepInTargetsRequest": True,
    }


def capability_changes(ours: dict[str, t.Any], theirs: dict[str, t.Any]) -> dict[str, t.Any]:
    """Capabilities debugpy reports differently from our answer, for a ``capabilities`` event.

    A false or empty value we did not mention is the DAP default, so it is no change; filters
    are compared by id, since only debugpy's adapter adds descriptions.
    """
    changes = {}
    for key, value in theirs.items():
        mine = ours.get(key)
        if key == "exceptionBreakpointFilters" and isinstance(value, list) and mine:
            same = [f.get("filter") for f in mine] == [
                f.get("filter") if isinstance(f, dict) else f for f in value
            ]
        else:
            same = mine == value or (not value and key not in ours)
        if not same:
            changes[key] = value
    return changes


def explain(exc: BaseException) -> str:
    """An audit reason: protocol errors speak for themselves; anything else names its type."""
    if isinstance(exc, ProtocolError):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _without_token(msg: Message) -> Message:
    # debugpy copies attach arguments into child configs and logs: the token stops here.
    if not isinstance(msg, Request) or not msg.arguments or TOKEN_FIELD not in msg.arguments:
        return msg
    arguments = {k: v for k, v in msg.arguments.items() if k != TOKEN_FIELD}
    return Request(msg.seq, msg.command, arguments, msg.extra)


def _for_shared_box(attach: Message) -> Message:
    """Pause only the thread that stops, unless the IDE asked otherwise.

    debugpy's default stops every thread on a breakpoint: on a staging box that freezes
    the server's accept loop, and every other visitor hangs while one developer reads a
    variable. ``stopAllThreadsOnSuspend`` is debugpy's own attach option for this.
    """
    if not isinstance(attach, Request) or "stopAllThreadsOnSuspend" in (attach.arguments or {}):
        return attach
    arguments = {**(attach.arguments or {}), "stopAllThreadsOnSuspend": False}
    return Request(attach.seq, attach.command, arguments, attach.extra)


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


class Slot:
    """The one attached session. Changed only on the bridge loop; `peer` is read anywhere."""

    def __init__(self) -> None:
        self.owner: object | None = None
        self.peer: str | None = None

    def other(self, owner: object) -> str | None:
        """The peer of a session held by someone other than `owner`, if any (for the log only)."""
        return self.peer if self.owner is not None and self.owner is not owner else None

    def claim(self, owner: object, peer: str) -> bool:
        if self.owner is not None and self.owner is not owner:
            return False
        self.owner, self.peer = owner, peer
        return True

    def release(self, owner: object) -> None:
        if self.owner is owner:
            self.owner = self.peer = None


@dataclass
class _Client:
    """The IDE's end: its stream, and the decoder that frames its requests.

    Reads are no larger than the decoder's cap, so a peer held to small requests cannot
    make one read hold more.
    """

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    decoder: Decoder

    async def next_message(self) -> Message | None:
        while True:
            msg = self.decoder.next_message()
            if msg is not NEED_DATA:
                return msg
            size = min(CHUNK, self.decoder.max_message_size)
            self.decoder.receive_data(await self.reader.read(size))


class Connection:
    """An accepted, allowlisted connection: handshake, then (maybe) an attached session."""

    def __init__(
        self,
        peer: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        config: SessionConfig,
        slot: Slot,
    ) -> None:
        self.peer = peer
        # Small requests only, until an attach proves the token (see _admit).
        self.client = _Client(reader, writer, Decoder(PRE_ATTACH_MAX_MESSAGE))
        #: True once the IDE has sent ``attach``: the bridge drops idle connections first.
        self.attaching = False
        self.config = config
        self.slot = slot
        self._seq = 0
        self._session: _Session | None = None
        self._task: asyncio.Task[t.Any] | None = None

    def audit(self, event: str, **fields: object) -> None:
        self.config.audit(event, peer=self.peer, **fields)

    def stop(self, reason: str) -> None:
        """End gracefully if attached (the IDE is told, the app resumed); else just drop."""
        if self._session is not None:
            self._session.stop(reason)
        elif self._task is not None:
            self._task.cancel()

    async def serve(self) -> None:
        """Run the connection to its end; a fault here never reaches the bridge loop."""
        self._task = asyncio.current_task()
        try:
            await self._serve()
        except Exception as exc:
            self.audit("fault", reason=explain(exc))
        finally:
            self.slot.release(self)
            await close_writer(self.client.writer)

    async def _serve(self) -> None:
        try:
            hello = await asyncio.wait_for(self._handshake(), self.config.handshake_timeout)
        except asyncio.TimeoutError:
            self.audit("fault", reason="handshake timeout")
            return
        upstream = None if hello is None else await self._connect_upstream(*hello)
        if upstream is None:
            await self._linger()
            return
        self._session = _Session(self, upstream)
        await self._session.run()

    # -- the part the bridge answers itself ---------------------------------------------

    async def _handshake(self) -> tuple[Request, Request] | None:
        """Answer ``initialize``; return it with a token-checked ``attach``, or None if refused."""
        initialize: Request | None = None
        while True:
            msg = await self.client.next_message()
            if msg is None:
                return None
            if not isinstance(msg, Request):
                raise ProtocolError(f"the IDE sent a {type(msg).__name__.lower()} before attach")
            holder = self.slot.other(self)
            if holder is not None:
                # The log may name who is attached; a peer without the token is not told.
                self.audit("refused", reason="another IDE is already attached", attached=holder)
                await self._fail(msg, _BUSY)
                return None
            if msg.command == "initialize" and initialize is None:
                initialize = msg
                await self._answer(msg, success=True, body=adapter_capabilities())
            elif msg.command != "attach":
                await self._fail(msg, f'remotedbg only supports attach, not "{msg.command}"')
                return None
            elif initialize is None:
                await self._fail(msg, "remotedbg: send initialize before attach")
                return None
            else:
                self.attaching = True
                return (initialize, msg) if await self._admit(msg) else None

    async def _admit(self, attach: Request) -> bool:
        """Check peer (again: windows end) and token, waiting as the policy says; claim.

        The token's verdict is taken, and audited, before the wait, so a guess counts even
        if its connection goes; it is acted on only after, so a guesser learns nothing
        sooner. Once attached, the IDE may send requests of any normal size.
        """
        policy = self.config.policy
        if not await self._peer_still_welcome(attach):
            return False
        verdict = policy.verdict(self.peer, attach.arguments)
        if verdict.problem is not None:
            self.audit("token_rejected", reason=verdict.problem)
        if verdict.delay > 0:
            self.audit("throttled", reason=verdict.throttled, delay=round(verdict.delay, 2))
            await asyncio.sleep(verdict.delay)
            if not await self._peer_still_welcome(attach):
                return False
        if verdict.problem is not None:
            await self._fail(attach, verdict.problem)
            return False
        if not self.slot.claim(self, self.peer):  # another IDE got in during the wait
            self.audit("refused", reason="another IDE is already attached", attached=self.slot.peer)
            await self._fail(attach, _BUSY)
            return False
        self.client.decoder.max_message_size = CLIENT_MAX_MESSAGE
        return True

    async def _peer_still_welcome(self, attach: Request) -> bool:
        reason = self.config.policy.check_peer(self.peer)
        if reason is None:
            return True
        self.audit("refused", reason=reason)
        await self._fail(attach, f"remotedbg: {reason}")
        return False

    def send(self, msg: Message | t.Mapping[str, t.Any]) -> None:
        self.client.writer.write(encode(msg))

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _answer(
        self, request: Request, *, success: bool, body: t.Any = None, message: str | None = None
    ) -> None:
        seq = self.next_seq()
        self.send(Response(seq, request.seq, success, request.command, message, body))
        await self.client.writer.drain()

    async def _fail(self, request: Request, message: str) -> None:
        # `body.error` is what VS Code shows in its error dialog.
        body = {"error": {"id": 1, "format": message, "showUser": True}}
        await self._answer(request, success=False, body=body, message=message)

    async def _linger(self) -> None:
        """Half-close and let the IDE read our refusal before the socket goes.

        Closing with unread input makes the kernel send a reset, which can destroy the
        answer we just wrote before the IDE reads it.
        """
        writer = self.client.writer
        with contextlib.suppress(OSError, RuntimeError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.drain(), FLUSH_TIMEOUT)
            if writer.can_write_eof():
                writer.write_eof()
            await asyncio.wait_for(self._discard_input(), FLUSH_TIMEOUT)

    async def _discard_input(self) -> None:
        while await self.client.reader.read(CHUNK):
            pass

    # -- reaching debugpy ----------------------------------------------------------------

    async def _connect_upstream(self, initialize: Request, attach: Request) -> _Debugger | None:
        """Replay the IDE's ``initialize``, then its ``attach`` without the token."""
        try:
            debugger = await asyncio.wait_for(self._open_upstream(initialize), UPSTREAM_TIMEOUT)
        except Exception as exc:  # timeouts, refusals, and whatever upstream() raises
            message = f"remotedbg: the debugger is not reachable ({explain(exc)})"
            self.audit("fault", reason=message)
            await self._fail(attach, message)
            return None
        debugger.write(encode(_for_shared_box(_without_token(attach))))
        return debugger

    async def _open_upstream(self, initialize: Request) -> _Debugger:
        upstream = _as_upstream(await off_loop(self.config.upstream, "remotedbg-upstream"))
        relay = _Relay(self.client.writer.write)
        loop = asyncio.get_running_loop()

        def protocol() -> _Debugger:
            return _Debugger(relay, self.client.writer)

        if upstream.sock is not None:
            _, debugger = await loop.create_connection(protocol, sock=upstream.sock)
        elif upstream.address is not None:
            _, debugger = await loop.create_connection(protocol, *upstream.address)
        else:
            raise ConnectionError("no debugger to connect to")
        try:
            if upstream.secret is not None:
                authorize = Request(0, "pydevdAuthorize", {AUTHORIZE_FIELD: upstream.secret})
                proof = await debugger.ask(authorize)
                if not proof.success:
                    raise ConnectionError(f"it refused the bridge's secret: {proof.message}")
            answer = await debugger.ask(initialize)  # the IDE already has our answer
        except BaseException:
            await debugger.close()
            raise
        if not answer.success:
            await debugger.close()
            raise ConnectionError(f"it refused initialize: {answer.message}")
        body = answer.body if isinstance(answer.body, dict) else {}
        changes = capability_changes(adapter_capabilities(), body)
        if changes:
            self.send(Event(self.next_seq(), "capabilities", {"capabilities": changes}))
        return debugger


class _Relay:
    """Debugger -> IDE bytes, forwarded as they arrive, with frame boundaries tracked.

    Each header is checked whole by the codec before it goes out; the body then passes in
    whatever pieces the socket delivers, so a 10 MB variable never waits to be complete.
    While answers are awaited (`watch`) whole frames go through the decoder instead, and
    the bridge's own answers are kept from the IDE. Modes switch only between frames.
    """

    def __init__(self, write: t.Callable[[bytes | memoryview], object]) -> None:
        self.write = write
        self.forwarding = True
        self.decoder = Decoder()
        self._watched: dict[int, tuple[asyncio.Future[Response], bool]] = {}
        self._hushed: asyncio.Future[None] | None = None
        self._header = bytearray()  # an incomplete header, not yet forwarded
        self._left = 0  # body bytes of the current frame still to come

    def watch(self, seq: int, *, private: bool = False) -> asyncio.Future[Response]:
        """The debugger's answer to request `seq`; a private one is not forwarded."""
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._watched[seq] = (future, private)
        return future

    def hush(self) -> asyncio.Future[None]:
        """Stop forwarding at the next frame boundary, so our own events follow whole frames."""
        self._hushed = asyncio.get_running_loop().create_future()
        self._check_hush()
        return self._hushed

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            at_boundary = not self._left and not self._header
            if self.decoder.pending or (self._watched and at_boundary):
                self.decoder.receive_data(bytes(view))
                self._feed_decoded()
                return
            view = view[self._pass(view) :]
            self._check_hush()

    def feed_eof(self) -> None:
        if self.decoder.pending:
            self.decoder.receive_data(b"")
            self._feed_decoded()  # raises TruncatedMessage
        elif self._left or self._header:
            raise TruncatedMessage("the debugger closed the connection in the middle of a message")

    def _feed_decoded(self) -> None:
        body = self.decoder.next_body()
        while isinstance(body, bytes):
            if not self._answer(body):
                self._out(frame(body))
            body = self.decoder.next_body()

    def _answer(self, body: bytes) -> bool:
        """Resolve a watched answer; True if it is the bridge's alone."""
        if not self._watched or len(body) > PEEK_LIMIT:
            return False
        msg = parse_message(body)
        if not isinstance(msg, Response) or msg.request_seq not in self._watched:
            return False
        future, private = self._watched.pop(msg.request_seq)
        if not future.done():
            future.set_result(msg)
        return private

    def _pass(self, view: memoryview) -> int:
        """Forward what of `view` can go out now; return how many of its bytes were used."""
        if self._left:
            piece = view[: self._left]
            self._left -= len(piece)
            self._out(piece)
            return len(piece)
        seen = len(self._header)
        self._header += view[:DEFAULT_MAX_HEADER_SIZE]
        end = self._header.find(b"\r\n\r\n", max(0, seen - 3))
        if end < 0:
            if len(self._header) >= DEFAULT_MAX_HEADER_SIZE:
                _announced_length(bytes(self._header))  # raises MessageTooLarge
            return len(self._header) - seen
        header = bytes(self._header[: end + 4])
        self._header.clear()
        self._left = _announced_length(header)
        self._out(header)
        return len(header) - seen

    def _out(self, data: bytes | memoryview) -> None:
        if self.forwarding:
            self.write(data)

    def _check_hush(self) -> None:
        if self._hushed is not None and not self._left and not self._hushed.done():
            self.forwarding = False
            self._hushed.set_result(None)


def _announced_length(header: bytes) -> int:
    """The body length a header block announces, validated by the codec's own rules."""
    decoder = Decoder()
    decoder.receive_data(header)
    decoder.next_body()  # raises a ProtocolError for a malformed or oversized header
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            return int(value.strip(b" \t"))
    raise MissingContentLength("no Content-Length")  # unreachable: the decoder checked


class _Debugger(asyncio.Protocol):
    """debugpy's connection as a plain protocol: its bytes reach the relay with no stream copy.

    Reading pauses while the IDE's send buffer is full: that is the backpressure.
    """

    def __init__(self, relay: _Relay, client: asyncio.StreamWriter) -> None:
        self.relay = relay
        self.client = client
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.ended: asyncio.Future[str] = loop.create_future()  # why the debugger went away
        self._writable = asyncio.Event()
        self._writable.set()
        self._paused = False
        self._resuming: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = t.cast("asyncio.Transport", transport)
        nodelay(transport.get_extra_info("socket"))

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.ended.done():
            self.transport.write(data)

    async def drain(self) -> None:
        if self.ended.done():
            raise ConnectionResetError("the debugger connection is closed")
        await self._writable.wait()

    async def ask(self, request: Request) -> Response:
        """Send one of our own requests and await its answer, which the IDE does not see."""
        answer = self.relay.watch(request.seq, private=True)
        self.write(encode(_without_token(request)))
        await _first(None, answer, self.ended)
        if not answer.done():
            raise ConnectionError(self.ended.result())
        return answer.result()

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.ended), FLUSH_TIMEOUT)

    def resume(self) -> None:
        """Read again: the IDE drained its buffer, or nothing goes to the IDE any more."""
        if self._paused and self.transport is not None and not self.ended.done():
            self._paused = False
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        try:
            self.relay.feed(data)
        except ProtocolError as exc:
            self._end(explain(exc))
            return
        if self._paused or not self.relay.forwarding or self.transport is None:
            return
        if self.client.transport.get_write_buffer_size() > HIGH_WATER:
            self._paused = True
            self.transport.pause_reading()
            self._resuming = asyncio.get_running_loop().create_task(self._resume_when_drained())

    async def _resume_when_drained(self) -> None:
        try:
            await self.client.drain()
        except ConnectionError:
            self.relay.forwarding = False
        self.resume()

    def eof_received(self) -> bool:
        try:
            self.relay.feed_eof()
        except ProtocolError as exc:
            self._end(explain(exc))
        self._end("the debugger closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._writable.set()
        self._end(explain(exc) if exc else "the debugger closed the connection")

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def _end(self, reason: str) -> None:
        if not self.ended.done():
            self.ended.set_result(reason)
            if self.transport is not None:
                self.transport.abort()


class _Session:
    """An attached session: the IDE pump, the debugger protocol, and how it all ends."""

    def __init__(self, conn: Connection, debugger: _Debugger) -> None:
        self.conn = conn
        self.client = conn.client
        self.debugger = debugger
        self.relay = debugger.relay
        self.last_seq = 0  # highest IDE request seq: our own requests must not collide
        loop = asyncio.get_running_loop()
        self._stop: asyncio.Future[str] = loop.create_future()
        self.to_debugger = loop.create_task(self._pump_client())

    def stop(self, reason: str) -> None:
        if not self._stop.done():
            self._stop.set_result(reason)

    async def run(self) -> None:
        conn = self.conn
        conn.audit("attached")
        _call(conn, conn.config.on_attach)
        reason = "cancelled"
        try:
            reason = await self._until_end()
        except Exception as exc:
            reason = explain(exc)
            conn.audit("fault", reason=reason)
        finally:
            self.to_debugger.cancel()
            await asyncio.gather(self.to_debugger, return_exceptions=True)
            await self.debugger.close()
            conn.audit("detached", reason=reason)
            _call(conn, conn.config.on_detach)

    async def _until_end(self) -> str:
        ends: set[asyncio.Future[t.Any]] = {self.to_debugger, self.debugger.ended, self._stop}
        done, _ = await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        if self.debugger.ended in done:
            return await self._debugger_ended()
        if self.to_debugger in done:
            return await self._client_ended()
        return await self._closing(self._stop.result())

    async def _debugger_ended(self) -> str:
        reason = self.debugger.ended.result()
        self.conn.audit("fault", reason=reason)
        self.to_debugger.cancel()
        await self._tell_client(f"remotedbg: the debug session ended: {reason}")
        return reason

    async def _client_ended(self) -> str:
        exc = self.to_debugger.exception()
        answered = None if exc else self.to_debugger.result()
        if answered is not None:
            # The relay forwards the response to the IDE before the session closes.
            await _first(RELEASE_TIMEOUT, answered, self.debugger.ended)
            return "the IDE disconnected"
        reason = "the IDE closed the connection"
        if exc is not None:
            reason = explain(exc)
            self.conn.audit("fault", reason=reason)
        self._mute()
        await _first(RELEASE_TIMEOUT, self._release(), self.debugger.ended)
        return reason

    async def _closing(self, reason: str) -> str:
        self.to_debugger.cancel()
        released = self._release()
        await self._tell_client(f"remotedbg: the debug window ended ({reason}); the app runs on")
        await _first(RELEASE_TIMEOUT, released, self.debugger.ended)
        return reason

    def _release(self) -> asyncio.Future[Response]:
        """Resume paused threads and detach debugpy: a gone IDE must not leave the app frozen.

        debugpy keeps threads paused and breakpoints set when its client just vanishes.
        """
        go_on, detach = self.last_seq + 1, self.last_seq + 2
        self.relay.watch(go_on, private=True)
        answered = self.relay.watch(detach, private=True)
        self.debugger.write(encode(Request(go_on, "continue", {"threadId": 0})))
        self.debugger.write(encode(Request(detach, "disconnect", {"terminateDebuggee": False})))
        return answered

    def _mute(self) -> None:
        self.relay.forwarding = False
        self.debugger.resume()

    async def _tell_client(self, text: str) -> None:
        """Last words to the IDE, once its stream is between frames (else it gets none)."""
        hushed = self.relay.hush()
        await _first(FLUSH_TIMEOUT, hushed, self.debugger.ended)
        self._mute()
        if not hushed.done():
            return
        conn = self.conn
        output = {"category": "important", "output": text + "\n"}
        conn.send(Event(conn.next_seq(), "output", output))
        conn.send(Event(conn.next_seq(), "terminated", {}))
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(self.client.writer.drain(), FLUSH_TIMEOUT)

    async def _pump_client(self) -> asyncio.Future[Response] | None:
        """IDE -> debugger until EOF (None) or a ``disconnect`` (the future of its answer)."""
        while True:
            msg = await self.client.next_message()
            if msg is None:
                return None
            answered = None
            if isinstance(msg, Request):
                self.last_seq = max(self.last_seq, msg.seq)
                if msg.command == "disconnect":
                    answered = self.relay.watch(msg.seq)
            self.debugger.write(encode(_without_token(msg)))
            if answered is not None:
                return answered
            await self.debugger.drain()


def _call(conn: Connection, callback: t.Callable[[str], None] | None) -> None:
    """Run a user callback; its bugs are audited, not allowed to break the session."""
    if callback is None:
        return
    try:
        callback(conn.peer)
    except Exception as exc:
        conn.audit("fault", reason=explain(exc))


async def _first(timeout: float | None, *futures: asyncio.Future[t.Any]) -> None:
    """Wait, bounded, until one of `futures` is done (an answer, or a connection that ended)."""
    await asyncio.wait(set(futures), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)

"""`remotedbg attach`'s local relay: each IDE connection to the bridge, the token added.

It adds the token for whoever connects to the local port, so on Linux each connection's
owner is looked up (`peer_uid`, :mod:`remotedbg.door.peer_owner`) and only this user's are
relayed; the others are refused, and told why. The IDE's ``attach`` request gains the token
and, when it sent none, ``pathMappings``; a refusal of it is reworded for the relay
(:func:`explain_refusal`). Nothing else is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import typing as t

from ..door.session import close_writer, nodelay
from ..errors import ProtocolError, RefusalKind
from ..sansio.dap_codec import Decoder, Request, Response, encode, frame, parse_message
from ..sansio.refusals import refusal_kind

if t.TYPE_CHECKING:
    from .status import Remote

__all__ = ["Outcome", "Relay", "explain_refusal", "rewrite_attach"]

#: Bodies up to this size are parsed on the way back, to notice the attach response.
_PEEK_LIMIT = 64 * 1024
_READ_SIZE = 256 * 1024
#: How long a refused connection has to send its first request, to be answered with why.
_REFUSAL_WAIT = 2.0


#: The server's advice for a token refusal, written for an IDE that sends the token itself.
_TOKEN_ADVICE = re.compile(
    r"; add it to the attach configuration \(.*?\) or use `remotedbg attach`"
)


def explain_refusal(text: str, *, token_added: bool) -> str:
    """A refusal of the attach request, reworded for someone already using the relay.

    The server tells the IDE to add the token to its configuration "or use `remotedbg
    attach`"; through the relay, what helps is where the relay's own token came from.
    Any other text is returned unchanged.
    """
    if token_added:
        fix = (
            "; remotedbg attach added the token from REMOTEDBG_TOKEN (or --token): check "
            "that it is the server's, then run remotedbg attach again"
        )
    else:
        fix = (
            "; remotedbg attach had no token to add: export REMOTEDBG_TOKEN=... (ask whoever "
            "set up the server), then run remotedbg attach again"
        )
    return _TOKEN_ADVICE.sub(lambda _: fix, text, count=1)


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


class Outcome:
    """Shared between the relays and the status line: what the user should be told."""

    def __init__(self) -> None:
        self.connected = 0
        self.fatal: str | None = None
        self.stopped = False
        self.done = asyncio.Event()

    def fail(self, message: str) -> None:
        self.fatal = message
        self.done.set()

    def stop(self) -> None:
        self.stopped = True
        self.done.set()


class Relay:
    """Serves the local DAP port and relays each IDE connection to the remote bridge."""

    def __init__(
        self,
        target: tuple[str, int],
        remote: Remote,
        *,
        token: str | None,
        local_root: str,
        notice: t.Callable[[str], None] = lambda line: None,
        peer_uid: t.Callable[[tuple[str, int], tuple[str, int]], int | None] | None = None,
    ) -> None:
        self.target = target
        self.remote = remote
        self.token = token
        self.local_root = local_root
        self.notice = notice
        #: Who owns a connection's far end (None: unknown); None here: nothing to check.
        self.peer_uid = peer_uid
        self.outcome = Outcome()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def relaying(self) -> int:
        return len(self._tasks)

    async def handle(self, ide_reader: asyncio.StreamReader, ide: asyncio.StreamWriter) -> None:
        # asyncio logs a traceback for a connection handler that ends by any exception,
        # cancellation included, so every end here is a plain return.
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(ide)
        try:
            mine, owner = self._owner(ide)
            if mine:
                await self._relay(ide_reader, ide)
            else:
                await self._refuse(ide_reader, ide, owner)
        except (asyncio.CancelledError, asyncio.TimeoutError, OSError, ProtocolError):
            pass
        finally:
            self._writers.discard(ide)
            ide.transport.abort()
            if task is not None:
                self._tasks.discard(task)

    def _owner(self, ide: asyncio.StreamWriter) -> tuple[bool, int | None]:
        """Whether this user owns the connection's far end, and its uid (None: unknown).

        Looked up once per connection, before anything goes upstream.
        """
        if self.peer_uid is None:
            return True, None
        peer, local = ide.get_extra_info("peername"), ide.get_extra_info("sockname")
        owner = self.peer_uid(peer[:2], local[:2]) if peer and local else None
        return owner is not None and owner == os.getuid(), owner

    async def _refuse(
        self, reader: asyncio.StreamReader, ide: asyncio.StreamWriter, owner: int | None
    ) -> None:
        """Say so on our output, and answer the first request if it comes soon.

        Nothing goes upstream. A peer gone without a word (a port probe) is refused quietly.
        """
        mine = os.getuid()
        who = f"uid {owner}" if owner is not None else "a process whose owner could not be found"
        decoder = Decoder(max_message_size=_PEEK_LIMIT)
        body: bytes | None = None
        with contextlib.suppress(asyncio.TimeoutError, ProtocolError):
            body = await asyncio.wait_for(_first_body(reader, decoder), _REFUSAL_WAIT)
        if owner is None and body is None and not decoder.pending:
            return
        self.notice(
            f"remotedbg attach: refused a connection from {who}: this relay adds the token "
            f"only for uid {mine}, who started it"
        )
        message = parse_message(body) if body is not None else None
        if isinstance(message, Request):
            why = f"remotedbg attach relays only for uid {mine}, who started it; not for {who}"
            ide.write(encode(Response(1, message.seq, False, message.command, why)))
            await asyncio.wait_for(close_writer(ide), _REFUSAL_WAIT)

    async def _relay(self, ide_reader: asyncio.StreamReader, ide: asyncio.StreamWriter) -> None:
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
            return
        _nodelay(upstream)
        self._writers.add(upstream)
        self.outcome.connected += 1
        try:
            await _first_done(
                self._pump(ide_reader, upstream, self._rewrite),
                self._pump(up_reader, ide, self._watch),
            )
            # What either side said last (the server's "the window ended" and `terminated`,
            # the IDE's `disconnect`) is delivered before the connection closes.
            await asyncio.gather(close_writer(ide), close_writer(upstream))
        finally:
            self.outcome.connected -= 1
            self._writers.discard(upstream)
            upstream.transport.abort()

    async def wind_down(self, grace: float) -> None:
        """Let sessions already relaying end on their own for `grace` seconds, then end them.

        A stop (Ctrl-C, SIGTERM) or a fatal error cuts the wait short.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._tasks and not self.outcome.done.is_set():
            left = deadline - loop.time()
            if left <= 0:
                break
            stop = asyncio.ensure_future(self.outcome.done.wait())
            await asyncio.wait(
                {*self._tasks, stop}, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            stop.cancel()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=2.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

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
            return self._check_attach_response(body)
        return frame(body)

    def _check_attach_response(self, body: bytes) -> bytes:
        """The attach response as the IDE gets it: a refusal reworded for the relay."""
        message = parse_message(body)
        if isinstance(message, Response) and message.command == "attach" and not message.success:
            text = message.message or "the attach request was refused"
            explained = explain_refusal(text, token_added=self.token is not None)
            if refusal_kind(message) is RefusalKind.TOKEN:
                self.outcome.fail(f"the server refused the token: {explained}")
            if explained != text:
                return encode(dataclasses.replace(message, message=explained))
        return frame(body)


async def _first_body(reader: asyncio.StreamReader, decoder: Decoder) -> bytes | None:
    while True:
        body = decoder.next_body()
        if body is None or isinstance(body, bytes):
            return body
        decoder.receive_data(await reader.read(_PEEK_LIMIT))


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

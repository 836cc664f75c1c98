"""The request hook for any ASGI app (FastAPI, Starlette, Quart, Django's asgi.py).

The same rules as the WSGI hook, from the same core: the request becomes `RequestFacts`
(``scope["client"]``, the forwarding headers, the path under ``root_path``) and the gate
decides. What differs is where the developer's request runs. On an ASGI server every request
of a worker shares the event loop's thread, so the developer's request runs on a loop of its
own (`DebugLoop`): a breakpoint there pauses only the developer's request, the visitors on
the server's loop keep being served, and the server's loop is never traced.

A pure ASGI callable, not Starlette's ``BaseHTTPMiddleware`` (which costs every request a
task and breaks contextvars).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import typing as t

from ..sansio.admission import RequestFacts
from ..sansio.client_address import FORWARDING_HEADER_NAMES
from ..sansio.status_page import STATUS_PATH
from ..settings import Settings
from .app_root import guess_app_root
from .wsgi import HOOKED_KEY  # the outermost hook's gate, the same key in a scope

if t.TYPE_CHECKING:
    from ..debuggee.gate import Gate

__all__ = ["RemoteDebugASGIMiddleware", "asgi_request_facts"]

log = logging.getLogger("remotedbg")

Scope = t.MutableMapping[str, t.Any]
Message = t.MutableMapping[str, t.Any]
Receive = t.Callable[[], t.Awaitable[Message]]
Send = t.Callable[[Message], t.Awaitable[None]]
#: Loose on purpose: apps and frameworks type scope and messages their own ways.
ASGIApp = t.Callable[[t.Any, t.Any, t.Any], t.Awaitable[None]]

#: Set in the scope by the outermost hook; an inner one (a hook installed twice) steps aside.
SCOPE_KEY = "remotedbg"

_FORWARDING = frozenset(name.encode() for name in FORWARDING_HEADER_NAMES)
_DEBUGGED = frozenset({"http", "websocket"})


class RemoteDebugASGIMiddleware:
    """Wrap an ASGI app: ``app = RemoteDebugASGIMiddleware(app)``, or for FastAPI and
    Starlette ``app.add_middleware(RemoteDebugASGIMiddleware)``.

    Settings come from ``REMOTEDBG_*`` and keyword arguments, as for the WSGI middleware.
    `errors_to_500` answers an unhandled exception with a logged 500 when no response was
    started (`remotedbg run`, which has no framework around the app to do it).
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings | None = None,
        *,
        app_root: str | None = None,
        errors_to_500: bool = False,
        **overrides: object,
    ) -> None:
        if settings is None:
            settings = Settings.load(
                overrides=overrides,
                label=lambda field: f"RemoteDebugASGIMiddleware({field}=...)",
            )
        self.app = app
        self.settings = settings
        self.errors_to_500 = errors_to_500
        self.gate: Gate | None = None
        if settings.enable:
            from ..debuggee.gate import Gate

            self.gate = Gate(settings, app_root=app_root or guess_app_root(app))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gate = self.gate
        if gate is None or scope["type"] not in _DEBUGGED or SCOPE_KEY in scope:
            await self.app(scope, receive, send)
            return
        tracing = gate.tracing
        if tracing is not None:
            tracing.enter(debugging=False)  # the server's loop is never traced
        # gate.is_visitor(), inlined: this is every visitor's path while the hook is on.
        allowed = gate.peer_allowed
        if allowed is not None and not self.errors_to_500:
            client_address = scope.get("client")
            if not allowed(client_address[0] if client_address else ""):
                await self.app(scope, receive, send)
                return
        facts = asgi_request_facts(scope)
        client = gate.debugging_client(facts)
        # A copy, as ASGI asks of a middleware that adds to the scope: an inner copy of
        # this hook (installed twice) sees the mark and steps aside.
        scope = {**scope, SCOPE_KEY: None if client is None else str(client), HOOKED_KEY: gate}
        if client is None:
            await self._run_app(gate, scope, receive, send, debugging=False)
            return
        armed = gate.armed
        if not armed:
            from ..hidden_threads import off_loop

            # Arming may wait for the IDE (REMOTEDBG_WAIT): never on the server's loop.
            armed = await off_loop(lambda: gate.arm(str(client)), "remotedbg-arm")
        if scope["type"] == "http" and facts.path == STATUS_PATH:
            await _send_status(gate, send)
        elif armed:
            await self._run_debugged(gate, scope, receive, send)
        else:
            await self._run_app(gate, scope, receive, send, debugging=False)

    async def _run_debugged(self, gate: Gate, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request on the debug loop; the server's loop only carries its messages."""
        from ..debuggee.debug_loop import on_loop

        server_loop = asyncio.get_running_loop()

        async def receive_there() -> Message:
            return await on_loop(server_loop, receive())  # type: ignore[arg-type]

        async def send_there(message: Message) -> None:
            await on_loop(server_loop, send(message))  # type: ignore[arg-type]

        async def debugged() -> None:
            tracing = gate.tracing
            if tracing is not None:
                tracing.enter(debugging=True)
            await self._run_app(gate, scope, receive_there, send_there, debugging=True)

        future = gate.debug_loop().submit(debugged())
        try:
            await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    async def _run_app(
        self, gate: Gate, scope: Scope, receive: Receive, send: Send, *, debugging: bool
    ) -> None:
        watch = debugging or self.errors_to_500
        response = _HoldErrors(send, hold=debugging) if watch else None
        try:
            await self.app(scope, receive, send if response is None else response.send)
        except Exception:
            if debugging:
                gate.report_uncaught(t.cast("t.Any", sys.exc_info()))
            held = response is not None and await response.release()
            started = response is not None and response.started
            if not self.errors_to_500 or started:
                raise  # the server answers 500, or closes a response already under way
            log.exception(
                "remotedbg: unhandled exception in %s %s", scope.get("method"), scope.get("path")
            )
            if not held and scope["type"] == "http":
                await _send_500(send)
            return
        if response is not None:
            await response.release()


class _HoldErrors:
    """The app's `send`, holding back a 5xx answer to the developer's request until the app
    returns or raises.

    Starlette's ``ServerErrorMiddleware`` answers 500 and only then re-raises the error. Held
    back, the 500 reaches the client after the IDE has stopped on the error, not before.
    """

    __slots__ = ("_held", "_hold", "_send", "started")

    def __init__(self, send: Send, *, hold: bool = True) -> None:
        self._send = send
        self._hold = hold
        self._held: list[Message] | None = None
        #: A response other than a held one went out.
        self.started = False

    async def send(self, message: Message) -> None:
        if self._held is not None:
            self._held.append(message)
            return
        if message.get("type") == "http.response.start":
            if self._hold and int(message.get("status", 200)) >= 500:
                self._held = [message]
                return
            self.started = True
        await self._send(message)

    async def release(self) -> bool:
        """Send what was held back; True if there was anything."""
        held, self._held = self._held, None
        for message in held or ():
            await self._send(message)
        return held is not None


def asgi_request_facts(scope: Scope) -> RequestFacts:
    """What the gate needs to know of an ASGI request."""
    client = scope.get("client")
    forwarding: dict[str, str] = {}
    for name, value in scope.get("headers") or ():
        if name in _FORWARDING:
            key = name.decode("latin-1")
            text = value.decode("latin-1")
            forwarding[key] = f"{forwarding[key]}, {text}" if key in forwarding else text
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    return RequestFacts(peer=client[0] if client else None, forwarding=forwarding, path=path)


async def _send_status(gate: Gate, send: Send) -> None:
    body = gate.status().to_json()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_500(send: Send) -> None:
    body = b"<!doctype html><title>500 Internal Server Error</title><h1>Internal Server Error</h1>"
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

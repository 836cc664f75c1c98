"""The Django hook: ``MIDDLEWARE = ["remotedbg.django.RemoteDebugMiddleware", ...]``, first.

The same core as the WSGI and ASGI hooks (the request becomes `RequestFacts`, the gate
decides), in both of Django's modes: synchronously the developer's request is traced in its
thread, as under the WSGI hook; asynchronously the rest of the stack runs on the gate's debug
loop, as under the ASGI hook, so a breakpoint never pauses the server's loop. Django turns a
view's error into its own 500 before any middleware sees it: ``got_request_exception`` is
where it can still reach the IDE, with the raising frame intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import typing as t
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import (
    SyncToAsync,
    ThreadSensitiveContext,
    iscoroutinefunction,
    markcoroutinefunction,
    sync_to_async,
)
from django.conf import settings as django_settings
from django.core.signals import got_request_exception
from django.http import HttpResponse

from ..sansio.status_page import STATUS_PATH
from ..settings import ENV_PREFIX, Settings
from .app_root import import_root
from .asgi import SCOPE_KEY, asgi_request_facts
from .wsgi import CLIENT_KEY, HOOKED_KEY, REPORTED_KEY, request_facts

if t.TYPE_CHECKING:
    from ..debuggee.debug_loop import DebugLoop
    from ..debuggee.gate import Gate
    from ..sansio.admission import RequestFacts

__all__ = ["RemoteDebugMiddleware"]

#: Set on a debugging request: the gate its unhandled error is handed to.
REQUEST_ATTR = "_remotedbg_gate"


class RemoteDebugMiddleware:
    """Django middleware, first in ``MIDDLEWARE``; switched on by ``REMOTEDBG_ENABLE``.

    Settings come from ``REMOTEDBG_*`` environment variables, overridden by the same names
    in Django's settings. Installed inside another hook (`remotedbg run`), it steps aside.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: t.Callable[[t.Any], t.Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        self.settings = _load_settings()
        self.gate: Gate | None = None
        if self.settings.enable:
            from ..debuggee.gate import Gate

            self.gate = Gate(self.settings, app_root=_app_root())
        # Even when off: `remotedbg run` around Django reports errors through it too.
        got_request_exception.connect(_report_exception, weak=False, dispatch_uid=__name__)

    def __call__(self, request: t.Any) -> t.Any:
        if self.is_async:
            return self._acall(request)
        gate = self.gate
        peer = None if gate is None else _peer_unless_hooked(request)
        if gate is None or peer is None:
            return self.get_response(request)
        # gate.is_visitor(), inlined: this is every visitor's path while the hook is on.
        allowed = gate.peer_allowed
        client = None
        if allowed is None or allowed(peer):
            client = gate.debugging_client(_facts(request))
        armed = client is not None and gate.arm(str(client))
        if client is not None and request.path_info == STATUS_PATH:
            return _status(gate)
        tracing = gate.tracing
        if tracing is not None:
            tracing.enter(debugging=armed)
        if not armed:
            return self.get_response(request)
        setattr(request, REQUEST_ATTR, gate)
        if tracing is None:
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except BaseException:
            tracing.leave()
            raise
        # A streaming body is produced under the debugger too: Django calls its closers in
        # close(), which the server calls on this thread once the body is sent.
        closers = getattr(response, "_resource_closers", None)
        if getattr(response, "streaming", False) and isinstance(closers, list):
            closers.append(tracing.leave)
        else:
            tracing.leave()
        return response

    async def _acall(self, request: t.Any) -> t.Any:
        gate = self.gate
        peer = None if gate is None else _peer_unless_hooked(request)
        if gate is None or peer is None:
            return await self.get_response(request)
        tracing = gate.tracing
        if tracing is not None:
            tracing.enter(debugging=False)  # the server's loop is never traced
        allowed = gate.peer_allowed
        if allowed is not None and not allowed(peer):
            return await self.get_response(request)
        client = gate.debugging_client(_facts(request))
        if client is None:
            return await self.get_response(request)
        armed = gate.armed
        if not armed:
            from ..hidden_threads import off_loop

            # Arming may wait for the IDE (REMOTEDBG_WAIT): never on the server's loop.
            armed = await off_loop(lambda: gate.arm(str(client)), "remotedbg-arm")
        if request.path_info == STATUS_PATH:
            return _status(gate)
        if not armed:
            return await self.get_response(request)
        setattr(request, REQUEST_ATTR, gate)
        return await self._run_debugged(gate, request)

    async def _run_debugged(self, gate: Gate, request: t.Any) -> t.Any:
        """Run the rest of the stack on the debug loop; the server's loop only waits for it."""
        debug_loop = gate.debug_loop()

        async def debugged() -> t.Any:
            tracing = gate.tracing
            if tracing is not None:
                tracing.enter(debugging=True)
            async with _own_sync_thread():
                response = await self.get_response(request)
            if getattr(response, "streaming", False):
                response.streaming_content = _made_on(debug_loop, gate, response)
            return response

        future = debug_loop.submit(debugged())
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise


def _made_on(debug_loop: DebugLoop, gate: Gate, response: t.Any) -> t.AsyncIterator[t.Any]:
    """A streaming body whose chunks are made on the debug loop, where the developer's code
    may stop; Django sends them from the server's loop, which a breakpoint never pauses."""
    is_async = bool(response.is_async)
    content = response.streaming_content
    chunks = content.__aiter__() if is_async else iter(content)
    next_sync = sync_to_async(lambda: next(chunks, None), thread_sensitive=False)

    async def step() -> t.Any:
        tracing = gate.tracing
        if tracing is not None:
            tracing.enter(debugging=True)
        if is_async:
            return await anext(chunks, None)
        return await next_sync()

    async def relay() -> t.AsyncIterator[t.Any]:
        while True:
            chunk = await asyncio.wrap_future(debug_loop.submit(step()))
            if chunk is None:
                return
            yield chunk

    return relay()


@contextlib.asynccontextmanager
async def _own_sync_thread() -> t.AsyncIterator[None]:
    """The developer's sync views run on a thread started from the traced debug loop, so
    traced too; not on the one Django started for the request from the server's loop."""
    executor = ThreadPoolExecutor(1, thread_name_prefix="remotedbg: your sync code")
    try:
        context = ThreadSensitiveContext(executor=executor)
    except TypeError:  # asgiref < 3.13, where only the outermost context counts: be it
        context = ThreadSensitiveContext()
        context.token = SyncToAsync.thread_sensitive_context.set(context)
    try:
        async with context:
            yield
    finally:
        executor.shutdown(wait=False)


def _peer_unless_hooked(request: t.Any) -> str | None:
    """The TCP peer's address, or None when a hook around Django took the request already."""
    scope = getattr(request, "scope", None)
    if scope is None:  # WSGI: META is the environ
        meta = request.META
        return None if HOOKED_KEY in meta else str(meta.get("REMOTE_ADDR") or "")
    if SCOPE_KEY in scope:
        return None
    client = scope.get("client")
    return str(client[0]) if client else ""


def _facts(request: t.Any) -> RequestFacts:
    """Under ASGI from the scope, the primary facts; under WSGI from the environ."""
    scope = getattr(request, "scope", None)
    return request_facts(request.META) if scope is None else asgi_request_facts(scope)


def _status(gate: Gate) -> t.Any:
    response = HttpResponse(gate.status().to_json(), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def _report_exception(sender: object, request: t.Any = None, **extra: object) -> None:
    """Hand a debugging request's unhandled view error to the IDE, once, before Django's 500."""
    if request is None:
        return
    gate = getattr(request, REQUEST_ATTR, None) or _outer_gate(request)
    if gate is None or request.META.get(REPORTED_KEY):
        return
    request.META[REPORTED_KEY] = True
    gate.report_uncaught(t.cast("t.Any", sys.exc_info()))


def _outer_gate(request: t.Any) -> Gate | None:
    """The gate of a hook around Django (`remotedbg run`), if it took the request as its
    developer's: under WSGI in the environ; under ASGI in the scope, where the ASGI hook
    would have to put it (it does not yet)."""
    scope = getattr(request, "scope", None)
    if scope is None:
        marks, debugging = request.META, CLIENT_KEY in request.META
    else:
        marks, debugging = scope, bool(scope.get(SCOPE_KEY))
    return t.cast("Gate | None", marks.get(HOOKED_KEY)) if debugging else None


def _load_settings() -> Settings:
    """``REMOTEDBG_*`` from the environment, overridden by the same names in Django's settings."""
    from_settings = {
        name[len(ENV_PREFIX) :].lower(): getattr(django_settings, name)
        for name in dir(django_settings)
        if name.startswith(ENV_PREFIX)
    }
    return Settings.load(
        overrides=from_settings, label=lambda field: f"settings.{ENV_PREFIX}{field.upper()}"
    )


def _app_root() -> str | None:
    """``BASE_DIR``, else the folder the settings module's package is imported from."""
    base = getattr(django_settings, "BASE_DIR", None)
    if base:
        return str(base)
    module = getattr(django_settings, "SETTINGS_MODULE", None)
    return import_root(module) if module else None

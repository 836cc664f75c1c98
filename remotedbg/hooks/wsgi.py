"""The request hook for any WSGI app: arm on an allowlisted request, and nothing else.

Switched off, a request costs one attribute check. Switched on, a request from anyone not
on the allowlist passes straight through: it never arms, never sees the status page and
never has its errors sent to the IDE.
"""

from __future__ import annotations

import logging
import sys
import typing as t

from ..sansio.admission import RequestFacts
from ..sansio.client_address import wsgi_forwarding
from ..sansio.status_page import STATUS_PATH
from ..settings import Settings
from .app_root import guess_app_root
from .server_quirks import removed_forwarding_header

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from ..debuggee.gate import Gate

__all__ = ["STATUS_PATH", "RemoteDebugMiddleware", "request_facts"]

log = logging.getLogger("remotedbg")

#: Set in the WSGI environ once an exception was handed to the IDE, so it stops only once.
REPORTED_KEY = "remotedbg.reported"
#: Set in the WSGI environ of requests from a debugging client.
CLIENT_KEY = "remotedbg.client"
#: The gate of the hook that took every request but a fast-path visitor's: a hook inside
#: (the Django middleware under `remotedbg run`) steps aside and reports errors to it.
HOOKED_KEY = "remotedbg.gate"


class RemoteDebugMiddleware:
    """Wrap a WSGI app: ``app.wsgi_app = RemoteDebugMiddleware(app.wsgi_app)``.

    Settings come from ``REMOTEDBG_*`` and keyword arguments (``allow=``, ``ttl=`` ...),
    validated here, once. `errors_to_500` turns an unhandled exception from any request into
    a logged 500; `remotedbg run` needs it because it serves with passthrough errors on,
    where Werkzeug would otherwise drop the connection.
    """

    def __init__(
        self,
        app: WSGIApplication,
        settings: Settings | None = None,
        *,
        app_root: str | None = None,
        errors_to_500: bool = False,
        **overrides: object,
    ) -> None:
        if settings is None:
            settings = Settings.load(
                overrides=overrides, label=lambda field: f"RemoteDebugMiddleware({field}=...)"
            )
        self.app = app
        self.settings = settings
        self.errors_to_500 = errors_to_500
        self.gate: Gate | None = None
        if settings.enable:
            from ..debuggee.gate import Gate

            self.gate = Gate(settings, app_root=app_root or guess_app_root(app))

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> t.Iterable[bytes]:
        gate = self.gate
        if gate is None or HOOKED_KEY in environ:  # off, or a hook outside took the request
            return self.app(environ, start_response)
        # gate.is_visitor(), inlined: this is every visitor's path while the hook is on.
        allowed = gate.peer_allowed
        if (
            allowed is not None
            and not allowed(environ.get("REMOTE_ADDR") or "")
            and not self.errors_to_500
        ):
            tracing = gate.tracing
            if tracing is not None:
                tracing.enter(debugging=False)
            return self.app(environ, start_response)
        environ[HOOKED_KEY] = gate
        client = gate.debugging_client(request_facts(environ))
        if client is None:
            return self._call_app(gate, environ, start_response, debugging=False)
        armed = gate.arm(str(client))
        if environ.get("PATH_INFO") == STATUS_PATH:
            return self._status(gate, start_response)
        environ[CLIENT_KEY] = str(client)
        return self._call_app(gate, environ, start_response, debugging=armed)

    def _call_app(
        self,
        gate: Gate,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        *,
        debugging: bool,
    ) -> t.Iterable[bytes]:
        tracing = gate.tracing
        if tracing is None:
            return self._run_app(gate, environ, start_response, debugging=debugging)
        tracing.enter(debugging=debugging)
        if not debugging:
            return self._run_app(gate, environ, start_response, debugging=False)
        try:
            response = self._run_app(gate, environ, start_response, debugging=True)
        except BaseException:
            tracing.leave()
            raise
        return _ThenLeave(response, tracing.leave)

    def _run_app(
        self,
        gate: Gate,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        *,
        debugging: bool,
    ) -> t.Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        except Exception:
            if debugging and not environ.get(REPORTED_KEY):
                environ[REPORTED_KEY] = True
                gate.report_uncaught(t.cast("t.Any", sys.exc_info()))
            if not (debugging or self.errors_to_500):
                raise
            log.exception(
                "remotedbg: unhandled exception in %s %s",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
            )
            return _internal_server_error(environ, start_response)

    @staticmethod
    def _status(gate: Gate, start_response: StartResponse) -> list[bytes]:
        body = gate.status().to_json()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]


def request_facts(environ: WSGIEnvironment) -> RequestFacts:
    """What the gate needs to know of a WSGI request."""
    return RequestFacts(
        peer=environ.get("REMOTE_ADDR"),
        forwarding=wsgi_forwarding(environ),
        path=environ.get("PATH_INFO", ""),
        forwarding_removed=removed_forwarding_header(environ),
    )


class _ThenLeave:
    """A response body that, once the server closes it, switches tracing off for the thread.

    Its body is still produced under the debugger (a streaming view stops at breakpoints
    too). A server must call close() (PEP 3333), on the request's thread, and always
    does, even when the client went away.
    """

    __slots__ = ("_body", "_leave")

    def __init__(self, body: t.Iterable[bytes], leave: t.Callable[[], None]) -> None:
        self._body = body
        self._leave = leave

    def __iter__(self) -> t.Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._leave()


def _internal_server_error(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """A plain 500; passing exc_info lets the server re-raise if headers were already sent."""
    body = b"<!doctype html><title>500 Internal Server Error</title><h1>Internal Server Error</h1>"
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response("500 INTERNAL SERVER ERROR", headers, sys.exc_info())
    return [body]

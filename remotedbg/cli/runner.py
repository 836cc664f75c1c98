"""`remotedbg run`: serve an app so that an attached IDE stops on breakpoints and errors.

For WSGI apps this is Flask's recipe for an external debugger, done for any WSGI app:
Werkzeug's server in debug mode, with its own debugger and reloader off (a second debugger,
and a second process that never arms), passthrough errors on (so nothing in Werkzeug
swallows them first), and threaded, so a request paused at a breakpoint does not stall the
others (each request thread is kept for the next request: :mod:`.request_threads`).
Because passthrough alone makes Werkzeug drop the client's connection, the middleware
answers unhandled errors with a 500 itself. ASGI apps are served by uvicorn instead
(:mod:`.asgi_runner`).
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
import typing as t

from ..errors import ConfigError
from ..hooks.wsgi import RemoteDebugMiddleware
from ..sansio.status_page import STATUS_PATH
from ..settings import format_duration

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from ..settings import Settings
    from .app_loader import LoadedApp

__all__ = ["bind_http", "hook_app", "serve"]

#: The listen backlog Werkzeug's own server uses.
_BACKLOG = 128
_LOCAL = "use an address of this machine, like 127.0.0.1, or 0.0.0.0 for all of them"


def hook_app(
    loaded: LoadedApp, settings: Settings
) -> tuple[WSGIApplication, RemoteDebugMiddleware]:
    """Wrap the loaded app for debugging; Flask apps also get debug mode and the extension."""
    app = loaded.app
    flask = sys.modules.get("flask")
    if flask is not None and isinstance(app, flask.Flask):
        from ..hooks.flask import RemoteDebugger

        app.debug = True
        middleware = RemoteDebugger().init_app(app, settings)
        middleware.errors_to_500 = True
        return app, middleware
    middleware = RemoteDebugMiddleware(app, settings, app_root=loaded.root, errors_to_500=True)
    return middleware, middleware


def instructions(host: str, port: int, settings: Settings) -> str:
    """What the developer does next, printed once at start-up."""
    url_host = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        url_host = "<this-host>"
    token = (
        '\n   add "remotedbgToken": "${env:REMOTEDBG_TOKEN}" to the attach configuration'
        if settings.token
        else ""
    )
    until = ""
    if settings.until is not None:
        until = f", and for good at {settings.until:%Y-%m-%d %H:%M:%S}Z (REMOTEDBG_UNTIL)"
    return (
        f"remotedbg: serving on http://{url_host}:{port}/ with debugging for {settings.allow}\n"
        f" 1. open any page from an allowed address to arm the debugger "
        f"(or {STATUS_PATH} to see its status)\n"
        f" 2. attach your IDE to {settings.dap_host}:{settings.dap_port} "
        f"(VS Code: `remotedbg config vscode --write` adds the configuration){token}\n"
        f" 3. the debugger disarms itself {format_duration(settings.ttl)} after arming{until}"
    )


def configure_logging() -> None:
    """Show remotedbg's events on stderr, unless the app already routes logging itself.

    The audit trail is INFO; Python's last-resort handler would show only warnings, and
    an unlogged arm or attach is exactly what must not happen in our own server.
    """
    logger = logging.getLogger("remotedbg")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def bind_http(
    host: str, port: int, *, host_label: str = "host", port_label: str = "port"
) -> socket.socket:
    """A listening socket on `host`:`port`, or a ConfigError naming what to change.

    Bound here rather than by Werkzeug, which prints the bare OS error and exits: binding
    first lets a busy port or a wrong address be one line before anything says "serving".
    The address family is chosen as Werkzeug chooses it, which then serves on this socket.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
    except socket.gaierror as exc:
        raise ConfigError(
            host_label, host, f"cannot be resolved ({exc.strerror})", _LOCAL
        ) from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Werkzeug does
        sock.bind(address)
        sock.listen(_BACKLOG)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                port_label,
                port,
                f"already in use by another program ({reason})",
                f"choose another {port_label}, or stop that program",
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(
                host_label, host, f"not an address of this machine ({reason})", _LOCAL
            ) from None
        if exc.errno == errno.EACCES:
            raise ConfigError(
                port_label,
                port,
                f"this user may not listen on it ({reason})",
                f"choose a {port_label} above 1023",
            ) from None
        raise ConfigError(
            port_label,
            port,
            f"cannot listen on {host} ({reason})",
            f"choose another {host_label} or {port_label}",
        ) from None
    return sock


def make_wsgi_server(host: str, port: int, app: t.Any, fd: int | None = None) -> t.Any:
    """Werkzeug's threaded server, errors passed through, each request thread kept for the
    next request (:mod:`.request_threads`). The benchmarks serve their app with it too."""
    from .request_threads import ThreadReusingWSGIServer

    return ThreadReusingWSGIServer(host, port, app, passthrough_errors=True, fd=fd)


def serve(
    loaded: LoadedApp,
    settings: Settings,
    listener: socket.socket,
    host: str,
    *,
    intro: str | None = None,
) -> None:
    """Serve the hooked app on `listener` (from :func:`bind_http` with the same `host`)."""
    from .app_kind import AppKind

    if loaded.kind is AppKind.ASGI:
        from .asgi_runner import serve_asgi

        serve_asgi(loaded, settings, listener, host, intro=intro)
        return
    app, _ = hook_app(loaded, settings)
    port = int(listener.getsockname()[1])
    server = make_wsgi_server(host, port, app, fd=listener.fileno())
    configure_logging()
    if intro:
        print(intro, file=sys.stderr)
    print(instructions(host, port, settings), file=sys.stderr, flush=True)
    server.log_startup()
    server.serve_forever()

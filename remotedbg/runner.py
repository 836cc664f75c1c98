"""`remotedbg run`: serve an app so that an attached IDE stops on breakpoints and errors.

This is Flask's recipe for an external debugger, done for any WSGI app: Werkzeug's server in
debug mode, with its own debugger and reloader off (a second debugger, and a second process
that never arms), passthrough errors on (so nothing in Werkzeug swallows them first), and
threaded, so a request paused at a breakpoint does not stall the others. Because
passthrough alone makes Werkzeug drop the client's connection, the middleware answers
unhandled errors with a 500 itself.
"""

from __future__ import annotations

import logging
import sys
import typing as t

from .middleware import STATUS_PATH, RemoteDebugMiddleware
from .settings import format_duration

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .app_loader import LoadedApp
    from .settings import Settings

__all__ = ["hook_app", "serve"]


def hook_app(
    loaded: LoadedApp, settings: Settings
) -> tuple[WSGIApplication, RemoteDebugMiddleware]:
    """Wrap the loaded app for debugging; Flask apps also get debug mode and the extension."""
    app = loaded.app
    flask = sys.modules.get("flask")
    if flask is not None and isinstance(app, flask.Flask):
        from .flask_ext import RemoteDebugger

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


def serve(loaded: LoadedApp, settings: Settings, host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    app, _ = hook_app(loaded, settings)
    configure_logging()
    print(instructions(host, port, settings), file=sys.stderr, flush=True)
    run_simple(
        host,
        port,
        app,
        use_debugger=False,
        use_reloader=False,
        passthrough_errors=True,
        threaded=True,
    )

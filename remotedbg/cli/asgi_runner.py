"""`remotedbg run` for ASGI apps (FastAPI, Starlette, Django's asgi.py): served by uvicorn.

What the Werkzeug path does for WSGI, done with uvicorn: one process, no reloader (a second
process never arms), the app wrapped in the ASGI hook with `errors_to_500` (the hook answers
an unhandled error itself, after the IDE has stopped on it), on the socket `bind_http`
already bound, so that nothing says "serving" before the port is ours. uvicorn's own
forwarding-header rewriting is off: the hook must see the real peer, and reads forwarding
headers only from REMOTEDBG_TRUSTED_PROXIES.
"""

from __future__ import annotations

import sys
import typing as t

from .errors import CLIError
from .runner import configure_logging, instructions

if t.TYPE_CHECKING:
    import socket
    import types

    from ..settings import Settings
    from .app_loader import LoadedApp

__all__ = ["import_uvicorn", "serve_asgi"]

#: Seconds a stopping server waits for open requests (one paused in the IDE never ends).
GRACEFUL_SHUTDOWN = 5


def import_uvicorn(loaded: LoadedApp) -> types.ModuleType:
    """uvicorn, or a one-line CLIError saying how to install it."""
    try:
        import uvicorn
    except ImportError as exc:
        what = f"{loaded.shape.label}, which `remotedbg run` serves with uvicorn"
        if exc.name == "uvicorn":
            raise CLIError(
                f"APP is {what}, and uvicorn is not installed; pip install 'remotedbg[asgi]'"
            ) from None
        text = " ".join(str(exc).split())
        raise CLIError(
            f"APP is {what}, and uvicorn does not import ({type(exc).__name__}: {text}); "
            "pip install 'remotedbg[asgi]'"
        ) from None
    return uvicorn


def serve_asgi(
    loaded: LoadedApp,
    settings: Settings,
    listener: socket.socket,
    host: str,
    *,
    intro: str | None = None,
) -> None:
    """Serve the hooked ASGI app with uvicorn on `listener` (from `bind_http`)."""
    uvicorn = import_uvicorn(loaded)
    from ..hooks.asgi import RemoteDebugASGIMiddleware

    app = RemoteDebugASGIMiddleware(loaded.app, settings, errors_to_500=True, app_root=loaded.root)
    port = int(listener.getsockname()[1])
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        interface="asgi3",
        lifespan="auto",
        log_level="info",
        reload=False,
        workers=1,
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
    server = uvicorn.Server(config)
    configure_logging()
    if intro:
        print(intro, file=sys.stderr)
    print(instructions(host, port, settings), file=sys.stderr, flush=True)
    server.run(sockets=[listener])

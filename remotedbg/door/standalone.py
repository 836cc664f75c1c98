"""`remotedbg bridge`: the same door, in front of a debugpy that was started another way.

For apps launched with ``python -m debugpy --listen 127.0.0.1:5678 ...`` or a debugpy in a
container sidecar. There is no request to arm it, so the window opens when the bridge
starts and the process exits when the window ends.
"""

from __future__ import annotations

import logging
import signal
import threading
import typing as t

from ..audit import Audit
from .access import AccessPolicy, Window
from .bridge import Bridge

if t.TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["run_standalone"]

log = logging.getLogger("remotedbg")


def _endpoint(host: str, port: int) -> str:
    """``host:port`` as it is typed back: an IPv6 address in brackets, ``[::1]:5678``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def run_standalone(
    settings: Settings,
    upstream: tuple[str, int],
    *,
    announce: t.Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> str:
    """Serve until the window ends or `stop` is set (SIGINT/SIGTERM); return why it ended."""
    window = Window(settings.ttl, settings.until)
    if not window.open():
        return "REMOTEDBG_UNTIL has passed; nothing arms again"
    audit = Audit()
    bridge = Bridge(
        listen=(settings.dap_host, settings.dap_port),
        upstream=lambda: upstream,
        policy=AccessPolicy(settings.allow, settings.token, window),
        audit=audit,
    )
    host, port = bridge.start()
    audit(
        "armed",
        client="(standalone)",
        dap=_endpoint(host, port),
        upstream=_endpoint(*upstream),
        expires_at=window.expires_at_iso(),
    )
    announce(
        f"remotedbg bridge: {_endpoint(host, port)} -> debugpy at {_endpoint(*upstream)}, "
        f"for {settings.allow}, token {'required' if settings.token else 'not required'}, "
        f"until {window.expires_at_iso()}"
    )
    stop = stop or threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
        if threading.current_thread() is threading.main_thread()
    }
    try:
        ended_by_time = not stop.wait(window.remaining())
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    reason = "the armed window ended" if ended_by_time else "the bridge was stopped"
    bridge.close(reason)
    window.close()
    audit("expired", reason=reason)
    return reason

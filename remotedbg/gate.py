"""The gate: decides whether a request may arm the debugger, and owns this process's armed state.

One gate per hooked app. Arming is once per process and safe under load: concurrent first
requests wait on one lock, and only the first starts debugpy and the bridge. The state
remembers the pid it belongs to, so a forked worker starts from scratch instead of
believing it already listens (the listener's threads did not survive the fork).
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
import typing as t

from .access import AccessPolicy, Window
from .audit import Audit
from .client_address import resolve_client
from .debugpy_backend import DebugpyBackend, hide_from_debugger
from .errors import ArmError
from .settings import format_duration

if t.TYPE_CHECKING:
    import types

    from _typeshed.wsgi import WSGIEnvironment

    from .addresses import IPAddress
    from .bridge import Bridge
    from .pycharm_backend import PycharmBackend
    from .settings import Settings
    from .trace_scope import TraceScope

__all__ = ["Gate"]

log = logging.getLogger("remotedbg")

#: Seconds before a failed arming is tried again (a busy port frees, PyCharm starts
#: listening), so that a failure costs one log line per attempt, not one per request.
RETRY_AFTER = 30.0

BANNER = """
{rule}
 * remotedbg: DEBUGGER ARMED by {client} in pid {pid}
 * {where}
 * The window closes at {expires} ({ttl}).
 * {danger}
{rule}"""


class _ProcessState:
    """What exists only in the process that armed: reset wholesale after a fork."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.backend = DebugpyBackend()
        self.bridge: Bridge | None = None
        self.pycharm: PycharmBackend | None = None
        self.listening = False
        self.failed: str | None = None
        self.failed_at = 0.0
        self.expiry_timer: threading.Timer | None = None
        self.attached = threading.Event()


class Gate:
    """Who may arm, and the armed window of this process."""

    def __init__(
        self, settings: Settings, *, app_root: str | None = None, audit: Audit | None = None
    ) -> None:
        self.settings = settings
        self.app_root = app_root or os.getcwd()
        self.audit = audit or Audit()
        #: Set once debugpy runs in this process with per-request tracing: the middleware
        #: then tells it, request by request, whom to trace.
        self.tracing: TraceScope | None = None
        #: The allowlist's cached lookup of a TCP peer's text address, when the peer alone
        #: decides (no trusted proxies); None otherwise. The request path calls it directly.
        self.peer_allowed: t.Callable[[str], bool] | None = (
            None if settings.trusted_proxies else settings.allow.contains_text
        )
        self.window = Window(settings.ttl, settings.until)
        self.policy = AccessPolicy(settings.allow, settings.token, self.window)
        self._state = _ProcessState()
        if settings.backend == "debugpy":
            self._state.backend.preload(f"{__package__}.bridge")

    # -- who may arm ------------------------------------------------------------------

    def is_visitor(self, remote_addr: str | None) -> bool:
        """True when the TCP peer alone settles that this request cannot debug.

        The common case, so it is one cached lookup and no parsing. Only trusted proxies
        make anyone but the TCP peer a candidate.
        """
        allowed = self.peer_allowed
        return allowed is not None and not allowed(remote_addr or "")

    def debugging_client(self, environ: WSGIEnvironment) -> IPAddress | None:
        """The request's client if it may arm and debug, else None."""
        if self.is_visitor(environ.get("REMOTE_ADDR")):
            return None
        client = resolve_client(environ, self.settings.trusted_proxies)
        if client is None or client not in self.settings.allow:
            return None
        return client

    # -- arming -----------------------------------------------------------------------

    @property
    def state(self) -> _ProcessState:
        state = self._state
        if state.pid != os.getpid():
            state = self._state = _ProcessState()
            self.tracing = None
        return state

    @property
    def armed(self) -> bool:
        return self._is_armed()

    def _is_armed(self) -> bool:
        return self.window.is_open() and self.state.listening

    def arm(self, client: str) -> bool:
        """Open the debugger for `client`'s window; True if it is armed afterwards."""
        if self._is_armed():
            return True
        state = self.state
        with state.lock:
            if self._is_armed():  # another request armed while this one waited
                return True
            if state.failed is not None and time.monotonic() - state.failed_at < RETRY_AFTER:
                return False
            if not self.window.open():
                self.audit("refused", client=client, reason="REMOTEDBG_UNTIL has passed")
                return False
            try:
                if self.settings.backend == "pycharm":
                    self._start_pycharm(state)
                else:
                    self._start(state)
            except ArmError as exc:
                self.window.close()
                state.failed, state.failed_at = str(exc), time.monotonic()
                log.error("remotedbg: could not arm the debugger in pid %s: %s", state.pid, exc)
                self.audit("arm_failed", client=client, pid=state.pid, reason=str(exc))
                return False
            state.listening = True
            state.failed = None
            self._announce(client)
            self._schedule_expiry(state)
        if self.settings.wait and self.settings.backend == "debugpy":
            # (PyCharm's backend is attached by the time settrace() returns.)
            state.attached.wait(self.settings.wait)
        return True

    def _start(self, state: _ProcessState) -> None:
        from .bridge import Bridge

        if state.bridge is None:
            state.bridge = Bridge(
                listen=(self.settings.dap_host, self.settings.dap_port),
                upstream=state.backend.start,
                policy=self.policy,
                audit=self.audit,
                on_attach=lambda peer: state.attached.set(),
                on_detach=lambda peer: state.attached.clear(),
            )
        # Bind the public port before starting debugpy: a busy port must fail while
        # nothing irreversible has happened yet.
        host, port = self.settings.dap_host, self.settings.dap_port
        try:
            state.bridge.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ArmError(
                    f"the debugger port {host}:{port} is in use (another process, or another "
                    f"worker of this app, holds it); free it or set REMOTEDBG_DAP_PORT"
                ) from None
            raise ArmError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); check REMOTEDBG_DAP_HOST"
            ) from None
        reopening = state.backend.listened
        try:
            state.backend.start()
        except ArmError:
            state.bridge.close("debugpy could not start")
            raise
        if reopening:
            state.backend.scope.reopen()
        if state.backend.scope.engaged:
            self.tracing = state.backend.scope

    def _start_pycharm(self, state: _ProcessState) -> None:
        from .pycharm_backend import PycharmBackend

        if state.pycharm is None:
            if self.settings.ide is None:
                raise ArmError("REMOTEDBG_BACKEND=pycharm needs REMOTEDBG_IDE=host:port")
            state.pycharm = PycharmBackend(self.settings.ide)
        state.pycharm.start()

    def _announce(self, client: str) -> None:
        host, port = self.dap_address
        if self.settings.backend == "pycharm":
            where = f"connected out to PyCharm's debug server at {host}:{port}"
            danger = "That IDE can run any code in this process until the window closes."
        else:
            token = self.settings.token is not None
            need = "required" if token else "NOT required"
            where = f"IDE attach address: {host}:{port}   (token {need})"
            danger = (
                f"Anyone who can reach that port{' with the token' if token else ''} "
                "can run any code in this process."
            )
        log.warning(
            BANNER.format(
                rule="*" * 78,
                client=client,
                pid=os.getpid(),
                where=where,
                danger=danger,
                expires=self.window.expires_at_iso(),
                ttl=f"in {format_duration(self.window.remaining())}",
            )
        )
        self.audit(
            "armed",
            client=client,
            pid=os.getpid(),
            dap=f"{host}:{port}",
            backend=self.settings.backend,
            expires_at=self.window.expires_at_iso(),
        )

    def _schedule_expiry(self, state: _ProcessState) -> None:
        delay = self.window.remaining()
        timer = hide_from_debugger(
            threading.Timer(delay, self.expire, kwargs={"reason": "the armed window ended"})
        )
        timer.name = "remotedbg-expiry"
        state.expiry_timer = timer
        timer.start()

    def expire(self, reason: str = "the armed window ended") -> None:
        """Close the window now: the IDE is told why, paused threads resume, the port closes."""
        state = self.state
        with state.lock:
            if state.expiry_timer is not None:
                state.expiry_timer.cancel()
                state.expiry_timer = None
            was_open = self.window.expires_at is not None
            self.window.close()
            state.listening = False
            if state.bridge is not None:
                state.bridge.close(reason)
            if state.pycharm is not None:
                state.pycharm.stop()
            state.backend.scope.release()
            self.tracing = None
            if state.backend.listened:
                state.backend.close_listener()
        if was_open:
            self.audit("expired", pid=state.pid, reason=reason)
            log.warning("remotedbg: debugger disarmed in pid %s: %s", state.pid, reason)

    # -- what the middleware needs ----------------------------------------------------

    @property
    def dap_address(self) -> tuple[str, int]:
        if self.settings.backend == "pycharm" and self.settings.ide is not None:
            return self.settings.ide
        bridge = self.state.bridge
        address = bridge.address if bridge is not None else None
        return address or (self.settings.dap_host, self.settings.dap_port)

    def status(self) -> dict[str, object]:
        host, port = self.dap_address
        return {
            "armed": self.armed,
            "pid": os.getpid(),
            "dap_host": host,
            "dap_port": port,
            "expires_at": self.window.expires_at_iso() if self.armed else None,
            "app_root": self.app_root,
            "token_required": self.settings.token is not None,
            "backend": self.settings.backend,
            "error": self.state.failed,
        }

    def report_uncaught(
        self,
        excinfo: tuple[type[BaseException], BaseException, types.TracebackType | None],
    ) -> None:
        if self.armed and self.settings.backend == "debugpy":
            self.state.backend.report_uncaught(excinfo)

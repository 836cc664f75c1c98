"""The gate: decides whether a request may arm the debugger, and owns this process's armed state.

One gate per hooked app. Arming is once per process and safe under load: concurrent first
requests wait on one lock, and only the first starts the backend (and its bridge). The state
belongs to one process: a forked child starts from scratch instead of believing it
listens (the listener's threads did not survive the fork), and nothing here starts a
thread before the first allowlisted request, because a server may fork after loading the
app (gunicorn --preload) and a thread caught mid-import deadlocks the child.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import threading
import time
import typing as t
import weakref

from ..audit import Audit
from ..door.access import AccessPolicy, Window
from ..errors import ArmError
from ..hidden_threads import hidden_thread, hide_from_debugger
from ..sansio.admission import admit
from ..sansio.status_page import StatusPage
from ..settings import format_duration
from .backend import backend_for

if t.TYPE_CHECKING:
    import types

    from ..door.bridge import Bridge
    from ..sansio.addresses import IPAddress
    from ..sansio.admission import RequestFacts
    from ..settings import Settings
    from .backend import Backend
    from .debug_loop import DebugLoop
    from .trace_scope import TraceScope

__all__ = ["Gate", "monkey_patched"]

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


def monkey_patched() -> str | None:
    """Why this process cannot be debugged safely (gevent or eventlet patching), or None.

    A breakpoint pauses an OS thread; under gevent or eventlet every greenlet of the worker
    shares it, so one stop would freeze every visitor, the bridge and the expiry timer with
    it, and the window would never close.
    """
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_anything_patched():
        library = "gevent"
    else:
        patcher = sys.modules.get("eventlet.patcher")
        if patcher is None or not any(
            patcher.is_monkey_patched(name) for name in ("thread", "socket")
        ):
            return None
        library = "eventlet"
    return (
        f"this process is monkey-patched by {library}, where a breakpoint would freeze the "
        "whole worker and the window could not close on time; debug with a thread-based "
        "worker instead (gunicorn -k gthread, or remotedbg run)"
    )


class _ProcessState:
    """What exists only in the process that armed: reset wholesale after a fork."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.backend: Backend | None = None
        self.bridge: Bridge | None = None
        self.listening = False
        self.closing = False
        self.failed: str | None = None
        self.failed_at = 0.0
        self.permanent = False
        self.expiry_timer: threading.Timer | None = None
        self.attached = threading.Event()
        self.debug_loop: DebugLoop | None = None


class Gate:
    """Who may arm, and the armed window of this process."""

    def __init__(
        self,
        settings: Settings,
        *,
        app_root: str | None = None,
        audit: Audit | None = None,
        backend: t.Callable[[], Backend] | None = None,
        clock: t.Callable[[], float] = time.monotonic,
        wall: t.Callable[[], float] = time.time,
    ) -> None:
        """`backend` makes a process's backend (default: the one `settings` names); `clock`
        and `wall` are the window's monotonic and wall clocks."""
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
        self._clock, self._wall = clock, wall
        self._reset_process()
        self._say_why_it_cannot_arm()
        self._new_backend = backend if backend is not None else backend_for(settings)
        if hasattr(os, "register_at_fork"):
            forget = weakref.WeakMethod(self._reset_process)
            os.register_at_fork(after_in_child=lambda: (forget() or _nothing)())

    def _reset_process(self) -> None:
        """A new process (or a forked child): nothing armed, and no lock held by a lost thread."""
        self.audit.after_fork()
        self.window = Window(self.settings.ttl, self.settings.until, self._clock, self._wall)
        self.policy = AccessPolicy(self.settings.allow, self.settings.token, self.window)
        self._state = _ProcessState()
        self.tracing = None

    def _say_why_it_cannot_arm(self) -> None:
        """At start-up, once: a hook that can never arm says so before anyone tries."""
        problem = monkey_patched()
        if self.window.deadline_passed():
            problem = "REMOTEDBG_UNTIL has passed, so the debugger will not arm"
        if problem is not None:
            log.warning("remotedbg: %s (pid %s)", problem, os.getpid())

    # -- who may arm ------------------------------------------------------------------

    def is_visitor(self, remote_addr: str | None) -> bool:
        """True when the TCP peer alone settles that this request cannot debug.

        The common case, so it is one cached lookup and no parsing. Only trusted proxies
        make anyone but the TCP peer a candidate.
        """
        allowed = self.peer_allowed
        return allowed is not None and not allowed(remote_addr or "")

    def debugging_client(self, facts: RequestFacts) -> IPAddress | None:
        """The request's client if it may arm and debug, else None."""
        if self.is_visitor(facts.peer):
            return None
        settings = self.settings
        admission = admit(facts, settings.allow, settings.trusted_proxies)
        if admission.refused is not None:
            # The audit trail throttles repeats.
            self.audit("refused", peer=str(facts.peer), reason=admission.refused, via="http")
        return admission.client

    # -- arming -----------------------------------------------------------------------

    @property
    def state(self) -> _ProcessState:
        state = self._state
        if state.pid != os.getpid():  # forked without register_at_fork having run
            self._reset_process()
            state = self._state
        return state

    @property
    def armed(self) -> bool:
        return self._is_armed()

    def _is_armed(self) -> bool:
        return self.window.is_open() and self.state.listening

    def arm(self, client: str) -> bool:
        """Open the debugger for `client`'s window; True if it is armed afterwards.

        Never raises into the request: a window that just ended but is not torn down yet
        serves this request plainly, and the next one arms afresh.
        """
        if self._is_armed():
            return True
        state = self.state
        with state.lock:
            if self._is_armed():  # another request armed while this one waited
                return True
            if state.listening or state.closing:  # the last window ended a moment ago
                self._expire_soon(state)
                return False
            if state.failed is not None and (
                state.permanent or self.window.clock() - state.failed_at < RETRY_AFTER
            ):
                return False
            if not self.window.open():
                self.audit("refused", client=client, reason="REMOTEDBG_UNTIL has passed")
                return False
            try:
                problem = monkey_patched()
                if problem is not None:
                    state.permanent = True
                    raise ArmError(problem)
                if state.backend is None:
                    state.backend = self._new_backend()
                    watch_end = getattr(state.backend, "watch_end", None)
                    if watch_end is not None:  # a shared door can end the window for us
                        watch_end(self._ended_elsewhere)
                self._start(state, state.backend)
            except ArmError as exc:
                self.window.close()
                state.failed, state.failed_at = str(exc), self.window.clock()
                state.permanent = state.permanent or (
                    state.backend is not None and state.backend.permanent_failure is not None
                )
                log.error("remotedbg: could not arm the debugger in pid %s: %s", state.pid, exc)
                self.audit("arm_failed", client=client, pid=state.pid, reason=str(exc))
                return False
            state.listening = True
            state.failed = None
            self._schedule_expiry(state)  # first: a shared window may end sooner
            self._announce(client, state.backend)
        if self.settings.wait and state.backend.needs_bridge:
            # (A backend that connects out is attached once start() returns.)
            state.attached.wait(self.settings.wait)
        return True

    def _start(self, state: _ProcessState, backend: Backend) -> None:
        if backend.needs_bridge:
            self._start_bridge(state, backend)
        try:
            backend.start()
        except ArmError:
            if state.bridge is not None:
                state.bridge.close(f"{backend.name} could not start")
            raise
        self.tracing = backend.tracing

    def _start_bridge(self, state: _ProcessState, backend: Backend) -> None:
        from ..door.bridge import Bridge

        if state.bridge is None:
            state.bridge = Bridge(
                listen=(self.settings.dap_host, self.settings.dap_port),
                upstream=backend.upstream,
                policy=self.policy,
                audit=self.audit,
                on_attach=lambda peer: state.attached.set(),
                on_detach=lambda peer: state.attached.clear(),
            )
        # Bind the public port before starting the backend: a busy port must fail while
        # nothing irreversible has happened yet.
        host, port = self.settings.dap_host, self.settings.dap_port
        try:
            state.bridge.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ArmError(
                    f"the debugger port {host}:{port} is in use by another process; free it, "
                    "or give this app a REMOTEDBG_DAP_PORT of its own"
                ) from None
            raise ArmError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); check REMOTEDBG_DAP_HOST"
            ) from None

    def _announce(self, client: str, backend: Backend) -> None:
        host, port = self.dap_address
        where, danger = backend.describe(host, port, token=self.settings.token is not None)
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
            backend=backend.name,
            expires_at=self.window.expires_at_iso(),
        )

    def _schedule_expiry(self, state: _ProcessState) -> None:
        shared = getattr(state.backend, "window_left", None)
        if isinstance(shared, float | int):  # the server's window, opened by another worker
            self.window.end_within(float(shared))
        self._start_expiry(state, self.window.remaining())

    def _ended_elsewhere(self, reason: str) -> None:
        """The shared door closed (its window ended, or it went): close ours too."""
        hidden_thread(lambda: self.expire(reason), "remotedbg-expire").start()

    def _expire_soon(self, state: _ProcessState) -> None:
        """Make sure a window that ended is torn down now (called under the state lock)."""
        if not state.closing:
            self._start_expiry(state, 0.0)

    def _start_expiry(self, state: _ProcessState, delay: float) -> None:
        if state.expiry_timer is not None:
            state.expiry_timer.cancel()
        timer = hide_from_debugger(
            threading.Timer(delay, self.expire, kwargs={"reason": "the armed window ended"})
        )
        timer.name = "remotedbg-expiry"
        state.expiry_timer = timer
        timer.start()

    def expire(self, reason: str = "the armed window ended") -> None:
        """Close the window now: the IDE is told why, paused threads resume, the port closes.

        The lock is held only to take the state apart; the slow part (telling the IDE,
        resuming threads) runs outside it, so no request waits on it.
        """
        state = self.state
        with state.lock:
            if state.expiry_timer is not None:
                state.expiry_timer.cancel()
                state.expiry_timer = None
            was_open = self.window.expires_at is not None
            self.window.close()
            if state.closing or not (state.listening or was_open):
                return
            state.listening = False
            state.closing = True
            self.tracing = None
        try:
            self._tear_down(state, reason)
        finally:
            with state.lock:
                state.closing = False
        self.audit("expired", pid=state.pid, reason=reason)
        log.warning("remotedbg: debugger disarmed in pid %s: %s", state.pid, reason)

    @staticmethod
    def _tear_down(state: _ProcessState, reason: str) -> None:
        if state.bridge is not None:
            state.bridge.close(reason)
        if state.backend is not None:
            state.backend.close()

    # -- what the middleware needs ----------------------------------------------------

    @property
    def dap_address(self) -> tuple[str, int]:
        """Where the IDE is: the one the backend connects out to, else the bridge's port."""
        state = self.state
        backend, bridge = state.backend, state.bridge
        address = backend.address if backend is not None else None
        if address is not None:
            return address
        address = bridge.address if bridge is not None else None
        return address or (self.settings.dap_host, self.settings.dap_port)

    def status(self) -> StatusPage:
        """What the status page tells the allowlisted developer (and `attach`, `doctor`)."""
        host, port = self.dap_address
        armed = self.armed
        return StatusPage(
            armed=armed,
            pid=os.getpid(),
            dap_host=host,
            dap_port=port,
            expires_at=self.window.expires_at_iso() if armed else None,
            app_root=self.app_root,
            token_required=self.settings.token is not None,
            backend=self.settings.backend,
            error=self.state.failed,
        )

    def debug_loop(self) -> DebugLoop:
        """This process's loop for the debugging client's async requests, made on first use."""
        state = self.state
        with state.lock:
            if state.debug_loop is None:
                from .debug_loop import DebugLoop

                state.debug_loop = DebugLoop()
            return state.debug_loop

    def report_uncaught(
        self,
        excinfo: tuple[type[BaseException], BaseException, types.TracebackType | None],
    ) -> None:
        backend = self.state.backend
        if self.armed and backend is not None:
            backend.report_uncaught(excinfo)


def _nothing() -> None:
    """What a fork hook calls once its gate is gone."""

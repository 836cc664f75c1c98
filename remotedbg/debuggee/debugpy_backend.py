"""Start debugpy inside this process with no port of its own, and hand it one socket per IDE.

We use debugpy's in-process adapter: it starts in milliseconds instead of spawning an
adapter process. A debugger port is code execution for whoever reaches it, and a loopback
port is reachable by every local process, of every user. So pydevd's own listener is
closed as soon as ``listen()`` has started the debugger, and each IDE session reaches pydevd
through a socket pair that the bridge hands it directly: there is nothing left to connect
to. pydevd also enforces a secret (its ``pydevdAuthorize`` handshake) that only the bridge
knows, fresh for every session, which covers the moment its listener existed.
debugpy is imported here and nowhere else, lazily.

Everything we rely on beyond debugpy's public API is detected, not assumed. Where speed
depends on it, the feature degrades and says so once in the log; where safety depends on
it, arming is refused with the reason.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import secrets
import socket
import sys
import threading
import time
import typing as t

from ..door.session import Upstream
from ..errors import ArmError
from ..hidden_threads import run_bounded
from . import breakpoint_helpers
from .exception_stops import ExceptionStops
from .trace_scope import TraceScope
from .uncaught_errors import UncaughtErrors

if t.TYPE_CHECKING:
    import types

__all__ = ["DebugpyBackend"]

log = logging.getLogger("remotedbg")

#: How long debugpy.listen() may take before we give up on it (it waits forever on failure).
LISTEN_TIMEOUT = 15.0
#: Closing pydevd's listener: how long its accept thread may take to notice.
CLOSE_TIMEOUT = 5.0


#: How often a paused thread looks for "continue" or a step. pydevd polls every 0.2 s and
#: its resume path never wakes the thread, so every continue, next and step took 200 ms.
RESUME_POLL = 0.002


class _PromptEvent:
    """A paused thread's wake-up event, with its wait capped at RESUME_POLL.

    Only a paused thread waits on these events (pydevd sets them to post it work), so the
    cap touches nothing else. Lowering pydevd's ``TIMEOUT_SLOW`` instead also sped up its
    command thread, whose every tick announces each live thread to the IDE: while someone
    was paused, nearly every visitor's request thread appeared in the IDE and vanished.
    """

    __slots__ = ("_event",)

    def __init__(self, event: t.Any) -> None:
        self._event = event

    def wait(self, timeout: float | None = None) -> bool:
        return bool(self._event.wait(RESUME_POLL if timeout is None else min(timeout, RESUME_POLL)))

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return bool(self._event.is_set())


def _prompt_resume(py_db: t.Any) -> None:
    """Hand pydevd's paused threads capped events, through its own per-thread lookup."""
    lookup = py_db.get_internal_queue_and_event
    if getattr(lookup, "remotedbg_prompt", False):
        return

    def get_internal_queue_and_event(thread_id: str) -> tuple[t.Any, _PromptEvent]:
        queue, event = lookup(thread_id)
        return queue, _PromptEvent(event)

    get_internal_queue_and_event.remotedbg_prompt = True  # type: ignore[attr-defined]
    py_db.get_internal_queue_and_event = get_internal_queue_and_event


def _hide_our_frames(py_db: t.Any) -> None:
    """Treat remotedbg's own files as pydevd treats its own: never traced, never shown.

    Otherwise an editable install counts as the user's code: stepping out of a view would
    land in the hook, and an error re-raised through it would stop again as user-unhandled.
    (An IDE that sends its own ``dontTraceStartPatterns`` replaces this.)
    """
    api = _pydevd_api()
    setter = getattr(api, "set_dont_trace_start_end_patterns", None) if api else None
    if setter is None:
        return
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    setter(api(), py_db, (package + os.sep,), ())


def _global_debugger() -> t.Any:
    pydevd = sys.modules.get("pydevd")
    return getattr(pydevd, "get_global_debugger", lambda: None)()


def _pydevd_api() -> t.Any:
    module = sys.modules.get("_pydevd_bundle.pydevd_api")
    return getattr(module, "PyDevdAPI", None)


def missing_safety_parts(py_db: t.Any) -> str | None:
    """What this pydevd lacks for a session that only the bridge can open, or None.

    Without these remotedbg cannot close pydevd's own port or make it require a secret,
    so it refuses to arm rather than leave a door open to every local process.
    """
    return missing_safety_parts_of(py_db, getattr(py_db, "authentication", None), _pydevd_api())


def missing_safety_parts_of(py_db: t.Any, authentication: t.Any, api: t.Any) -> str | None:
    """`missing_safety_parts` for the parts given, which may be classes or instances.

    `py_db` is a debugger or ``pydevd.PyDB``, `authentication` its ``authentication`` or
    ``pydevd._Authentication``, and `api` is ``PyDevdAPI``. ``remotedbg doctor`` passes
    the classes, to tell before anything has started.
    """
    needed = {
        "PyDB.initialize_network": getattr(py_db, "initialize_network", None),
        "PyDB.authentication.logout": getattr(authentication, "logout", None),
        "PyDB.create_wait_for_connection_thread": getattr(
            py_db, "create_wait_for_connection_thread", None
        ),
        "PyDevdAPI.request_disconnect": getattr(api, "request_disconnect", None),
    }
    missing = [name for name, found in needed.items() if not callable(found)]
    return ", ".join(missing) or None


class DebugpyBackend:
    """debugpy's in-process debugger for this process; started at most once.

    A `Backend`: the IDE attaches through the bridge, which asks `upstream()` for a session.
    """

    name = "debugpy"
    needs_bridge = True
    address = None

    def __init__(self, listen_timeout: float = LISTEN_TIMEOUT) -> None:
        self.listen_timeout = listen_timeout
        self.version: str | None = None
        self.scope = TraceScope()
        self.exception_stops = ExceptionStops()
        self.uncaught = UncaughtErrors(self.report_uncaught, self.scope.mine)
        #: debugpy.listen() ran in this process (it can run only once per process).
        self.listened = False
        #: Why this process can never arm again (a port that would not close), or None.
        self.broken: str | None = None
        self._lock = threading.Lock()  # the bridge thread connects while expiry closes

    @staticmethod
    def preload(*modules: str) -> None:
        """Import debugpy, pydevd and `modules`, and let debugpy describe its environment, now,
        so that a first arm takes milliseconds.

        In the caller's thread, on purpose: a thread started here would run in a process
        that may fork before serving (gunicorn --preload, uWSGI without lazy-apps), and a
        fork while it holds an import lock leaves the worker deadlocked for good. Importing
        starts no thread, traces nothing and patches nothing (tested).
        """
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        try:
            for module in modules:
                importlib.import_module(module)
            import debugpy.server.api as server_api

            # Describing the environment reads every installed package's metadata
            # (~100 ms); once done, listen() does not do it again.
            ensure_logging = getattr(server_api, "ensure_logging", None)
            if ensure_logging is not None:
                ensure_logging()
        except Exception as exc:  # start() reports a missing debugpy, in one line
            log.debug("remotedbg: preloading debugpy failed: %s", exc)

    @property
    def permanent_failure(self) -> str | None:
        return self.broken

    @property
    def tracing(self) -> TraceScope | None:
        return self.scope if self.scope.engaged else None

    def start(self) -> None:
        """Start the debugger for a window; raises ArmError if that cannot be done safely."""
        with self._lock:
            if self.broken is not None:
                raise ArmError(self.broken)
            reopening = self.listened
            if not reopening:
                self._listen()
        if reopening:  # an earlier window started debugpy, which never stops
            self.scope.reopen()
            self.uncaught.trim()

    def _listen(self) -> None:
        # pydevd warns on every start that frozen stdlib modules may miss breakpoints; app
        # code is never frozen, and the warning reads like a failure at 2 a.m.
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        try:
            import debugpy
            import debugpy.server.api as server_api
        except ImportError as exc:
            raise ArmError(f"debugpy is not importable ({exc}); pip install debugpy") from None
        self.version = getattr(debugpy, "__version__", "unknown")
        secret = secrets.token_hex(32)

        def listen() -> None:
            # pydevd takes its secret as a settrace() argument that debugpy.listen() does
            # not pass on: given here, the secret is in force before its port accepts.
            settrace = getattr(server_api, "_settrace", None)
            if settrace is not None:
                server_api._settrace = lambda *a, **kw: settrace(*a, **kw, access_token=secret)
            try:
                debugpy.listen(("127.0.0.1", 0), in_process_debug_adapter=True)
            finally:
                if settrace is not None:
                    server_api._settrace = settrace

        # pydevd binds on a thread of its own and waits forever if that fails: keep the
        # wait bounded so a request never hangs on it.
        try:
            run_bounded(listen, "remotedbg-listen", self.listen_timeout)
        except TimeoutError:
            raise ArmError(
                f"debugpy.listen() did not return within {self.listen_timeout:g}s"
            ) from None
        except Exception as exc:
            raise ArmError(f"debugpy.listen() failed: {exc}") from None
        self.listened = True
        py_db = _global_debugger()
        missing = missing_safety_parts(py_db)
        if missing is None:
            py_db.authentication.access_token = secret
        open_port = self._close_pydevd_listener()
        if missing is not None or open_port is not None:
            problem = (
                f"debugpy {self.version} lacks {missing}, which remotedbg needs to keep its "
                "loopback port closed; install a debugpy this remotedbg supports"
                if missing is not None
                else f"debugpy's own port {open_port} could not be closed"
            )
            self.broken = f"{problem}; this process will not arm again"
            log.warning("remotedbg: %s (pid %s)", self.broken, os.getpid())
            raise ArmError(self.broken)
        self._set_resume_poll()
        _hide_our_frames(py_db)
        breakpoint_helpers.install(self.scope.mine)  # before any guarded condition can run
        # Guarded before engaged: whether threads already running are switched off hangs on it.
        self.scope.guarded = breakpoint_helpers.guard_exception_breakpoints(py_db)
        if not self.scope.guarded:
            log.info(
                "remotedbg: debugpy %s cannot keep visitors' threads from pausing; they are "
                "switched off instead (slower for them on Python 3.12+)",
                self.version,
            )
        self.scope.engage()
        if self.scope.guarded and self.scope.monitoring is not None:
            self.uncaught.install(py_db, self.scope.monitoring)
        if not self.exception_stops.watch(py_db):
            log.info(
                "remotedbg: debugpy %s has no do_wait_suspend to watch; with 'User Uncaught "
                "Exceptions' ticked, a view's error may stop the IDE twice",
                self.version,
            )

    def upstream(self) -> Upstream:
        """A fresh session with pydevd for the bridge: one end of a socket pair, and its secret.

        pydevd takes the other end as if its listener had accepted it, dropping the previous
        session the way it would for a new client. The secret changes with every session,
        so nothing learned from an earlier one opens the next.
        """
        ours, theirs = socket.socketpair()
        secret = secrets.token_hex(32)
        try:
            self.attach_session(theirs, secret)
        except BaseException:
            ours.close()
            theirs.close()
            raise
        return Upstream(sock=ours, secret=secret, guarded=True)  # its helpers are installed

    def attach_session(self, sock: socket.socket, secret: str) -> None:
        """Hand pydevd a connected socket as its one client, demanding `secret` in ``attach``."""
        with self._lock:
            if self.broken is not None or not self.listened:
                raise ConnectionError(self.broken or "the debugger is not running")
            py_db = _global_debugger()
            if getattr(py_db, "reader", None) is not None:
                _pydevd_api()().request_disconnect(py_db, resume_threads=False)
            py_db.authentication.access_token = secret
            py_db.authentication.logout()
            py_db.initialize_network(sock, terminate_on_socket_close=False)

    def close(self) -> None:
        """The window ended: paused threads resume, tracing stops, and no secret handed out
        so far opens pydevd again.

        In one process the bridge's release has resumed the app already; a worker behind a
        shared door must do it here, since the door may be gone before its release arrives.
        """
        self.scope.release()
        with self._lock:
            py_db = _global_debugger()
            api = _pydevd_api()
            if py_db is not None and api is not None and self.listened and self.broken is None:
                with contextlib.suppress(Exception):  # a half-closed session: resume anyway
                    if getattr(py_db, "reader", None) is not None:
                        api().request_disconnect(py_db, resume_threads=True)
                    else:
                        api().request_resume_thread("*")
            authentication = getattr(py_db, "authentication", None)
            if authentication is not None and self.broken is None:
                authentication.access_token = secrets.token_hex(32)
                authentication.logout()

    def describe(self, host: str, port: int, *, token: bool) -> tuple[str, str]:
        need = "required" if token else "NOT required"
        return (
            f"IDE attach address: {host}:{port}   (token {need})",
            f"Anyone who can reach that port{' with the token' if token else ''} "
            "can run any code in this process.",
        )

    def _set_resume_poll(self) -> None:
        py_db = _global_debugger()
        if not callable(getattr(py_db, "get_internal_queue_and_event", None)):
            log.info(
                "remotedbg: debugpy %s has no PyDB.get_internal_queue_and_event; continue "
                "and steps may take up to 200 ms",
                self.version,
            )
            return
        _prompt_resume(py_db)

    def _close_pydevd_listener(self) -> str | None:
        """Close the port debugpy.listen() opened; None once closed, else its host:port.

        pydevd accepts on a thread of its own and cannot be told to stop. Its socket may
        come from its own copy of the socket module (with ``GEVENT_SUPPORT``), so nothing
        here checks its type. The kill flag goes first: woken before seeing it, pydevd's
        loop would listen() again on the same socket and block in accept() for good; and
        it may not be listening yet when we first wake it, hence the loop.
        """
        py_db = _global_debugger()
        waiter = getattr(py_db, "_waiting_for_connection_thread", None)
        if waiter is None:
            return None
        name = getattr(py_db, "_server_socket_name", None) or ("127.0.0.1", "?")
        server_socket = getattr(waiter, "_server_socket", None)
        waiter._kill_received = True
        deadline = time.monotonic() + CLOSE_TIMEOUT
        while waiter.is_alive() and time.monotonic() < deadline:
            if server_socket is not None:
                with contextlib.suppress(OSError):
                    server_socket.shutdown(socket.SHUT_RDWR)
            waiter.join(0.05)
        kill = getattr(waiter, "do_kill_pydev_thread", None)
        if callable(kill):
            kill()  # closes the socket
        closed = server_socket is None or _fileno(server_socket) == -1
        if waiter.is_alive() or not closed:
            return f"{name[0]}:{name[1]}"
        py_db._waiting_for_connection_thread = None
        return None

    def report_uncaught(
        self,
        excinfo: tuple[type[BaseException], BaseException, types.TracebackType | None],
    ) -> None:
        """Stop the attached IDE on an exception the web server would otherwise swallow.

        The server catches exceptions from views, so to pydevd they are never uncaught; we
        hand it the exception as uncaught, which honours the IDE's exception filters.
        """
        import debugpy

        if not debugpy.is_client_connected():
            return
        if self.exception_stops.already_stopped_on(excinfo[1]):
            return  # pydevd stopped on it as user-unhandled on its way out of the view
        trigger = getattr(debugpy, "trigger_exception_handler", None)
        if trigger is None:
            log.info(
                "remotedbg: debugpy %s cannot report caught exceptions to the IDE; "
                "upgrade debugpy to stop on unhandled view errors",
                self.version,
            )
            return
        trigger(excinfo, as_uncaught=True)


def _fileno(sock: t.Any) -> int:
    try:
        return int(sock.fileno())
    except (OSError, ValueError):
        return -1

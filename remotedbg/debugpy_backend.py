"""Start debugpy inside this process, on loopback only, without ever hanging the caller.

We use debugpy's in-process adapter on ``127.0.0.1:0``: it starts in milliseconds instead of
spawning an adapter process, and the port is of our choosing so it can never be busy. The
public port belongs to the DAP bridge. debugpy is imported here and nowhere else, lazily.

Everything we rely on beyond debugpy's public API is detected, not assumed; when missing,
the feature degrades and says so once in the log.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import socket
import sys
import threading
import typing as t

from .errors import ArmError
from .trace_scope import TraceScope

if t.TYPE_CHECKING:
    import types

__all__ = ["DebugpyBackend", "hidden_thread", "hide_from_debugger", "run_bounded"]

log = logging.getLogger("remotedbg")

#: How long debugpy.listen() may take before we give up on it (it waits forever on failure).
LISTEN_TIMEOUT = 15.0


TThread = t.TypeVar("TThread", bound=threading.Thread)


def hide_from_debugger(thread: TThread) -> TThread:
    """Mark a not-yet-started daemon thread so pydevd neither traces nor lists it.

    pydevd skips threads carrying these two attributes (its own daemon threads do), which
    keeps remotedbg's machinery out of the user's thread list and free of tracing cost.
    """
    thread.daemon = True
    thread.pydev_do_not_trace = True  # type: ignore[attr-defined]
    thread.is_pydev_daemon_thread = True  # type: ignore[attr-defined]
    return thread


def hidden_thread(target: t.Callable[[], None], name: str) -> threading.Thread:
    """A daemon thread that pydevd neither traces nor lists to the IDE."""
    return hide_from_debugger(threading.Thread(target=target, name=name))


T = t.TypeVar("T")


def run_bounded(func: t.Callable[[], T], name: str, timeout: float) -> T:
    """Run `func` on a hidden thread; its result, its exception, or TimeoutError.

    For debugger calls that may block forever (pydevd waits without a timeout when its
    socket fails): the caller is a request thread that must not hang with them.
    """
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(func())
        except BaseException as exc:
            failure.append(exc)

    worker = hidden_thread(target, name)
    worker.start()
    worker.join(timeout)
    if failure:
        raise failure[0]
    if not result:
        raise TimeoutError(f"{name} did not finish within {timeout:g}s")
    return result[0]


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


def _global_debugger() -> t.Any:
    pydevd = sys.modules.get("pydevd")
    return getattr(pydevd, "get_global_debugger", lambda: None)()


class DebugpyBackend:
    """debugpy's in-process DAP server for this process; started at most once."""

    def __init__(self, listen_timeout: float = LISTEN_TIMEOUT) -> None:
        self.listen_timeout = listen_timeout
        self.address: tuple[str, int] | None = None
        self.version: str | None = None
        self._preloaded = threading.Event()
        self._preloader: threading.Thread | None = None
        self.scope = TraceScope()
        #: debugpy.listen() ran in this process (it can run only once per process).
        self.listened = False

    def preload(self, *modules: str) -> None:
        """Import debugpy, pydevd and `modules`, and let debugpy describe its environment.

        In the background, at start-up: on a first arm these cost ~100 ms each, while done
        before anything listens they change nothing (no tracing, no thread patches: tested),
        and arming then takes a few milliseconds.
        """
        if self._preloader is not None:
            return

        def load() -> None:
            try:
                for module in modules:
                    importlib.import_module(module)
                os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
                import debugpy.server.api as server_api

                ensure_logging = getattr(server_api, "ensure_logging", None)
                if ensure_logging is not None:
                    ensure_logging()
            except Exception as exc:  # start() reports a missing debugpy, in one line
                log.debug("remotedbg: preloading debugpy failed: %s", exc)
            finally:
                self._preloaded.set()

        self._preloader = hidden_thread(load, "remotedbg-preload")
        self._preloader.start()

    def start(self) -> tuple[str, int]:
        """Listen on 127.0.0.1 and return the bound address; raises ArmError on failure."""
        if self.address is not None:
            return self.address
        if self.listened:
            return self._reopen()
        if self._preloader is not None:
            self._preloaded.wait(self.listen_timeout)
        # pydevd warns on every start that frozen stdlib modules may miss breakpoints; app
        # code is never frozen, and the warning reads like a failure at 2 a.m.
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        try:
            import debugpy
        except ImportError as exc:
            raise ArmError(f"debugpy is not importable ({exc}); pip install debugpy") from None
        self.version = getattr(debugpy, "__version__", "unknown")

        def listen() -> tuple[str, int]:
            host, port = debugpy.listen(("127.0.0.1", 0), in_process_debug_adapter=True)
            return str(host), int(port)

        # pydevd binds on a thread of its own and waits forever if that fails: keep the
        # wait bounded so a request never hangs on it.
        try:
            self.address = run_bounded(listen, "remotedbg-listen", self.listen_timeout)
        except TimeoutError:
            raise ArmError(
                f"debugpy.listen() did not return within {self.listen_timeout:g}s"
            ) from None
        except Exception as exc:
            raise ArmError(f"debugpy.listen() failed: {exc}") from None
        self.listened = True
        self._set_nodelay()
        self._set_resume_poll()
        self.scope.engage()
        return self.address

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

    def _set_nodelay(self) -> None:
        """Turn off Nagle on pydevd's listening socket, before any client connects.

        pydevd writes each message as two sends (header, body); with Nagle and delayed
        ACKs that stalls every reply about 40 ms. Linux copies TCP_NODELAY from a listening
        socket to the sockets it accepts, so setting it here covers the very first message.
        """
        server_socket = self._pydevd_server_socket()
        if server_socket is None:
            log.info(
                "remotedbg: debugpy %s has no server socket where expected; "
                "stepping may be ~40 ms slower per request",
                self.version,
            )
            return
        server_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close_listener(self) -> None:
        """Stop debugpy's own loopback listener between windows.

        debugpy cannot stop listening once started, so without this its port would stay
        open to every local process for the life of the app. pydevd accepts on a thread of
        its own: shutdown() wakes its accept(), and the thread ends on its kill flag.
        """
        py_db = _global_debugger()
        waiter = getattr(py_db, "_waiting_for_connection_thread", None)
        server_socket = self._pydevd_server_socket()
        if (
            waiter is None
            or server_socket is None
            or not hasattr(py_db, "create_wait_for_connection_thread")
        ):
            log.info(
                "remotedbg: debugpy %s cannot stop listening here; its loopback port stays "
                "open after the window",
                self.version,
            )
            return
        # The kill flag first: woken before seeing it, pydevd's loop would listen() again on
        # the same socket and block in accept() for good.
        waiter._kill_received = True
        with contextlib.suppress(OSError):
            server_socket.shutdown(socket.SHUT_RDWR)
        waiter.join(self.listen_timeout)
        waiter.do_kill_pydev_thread()  # closes the socket
        py_db._waiting_for_connection_thread = None
        self.address = None

    def _reopen(self) -> tuple[str, int]:
        """Listen again, on a new loopback port, for a new window."""
        py_db = _global_debugger()

        def listen() -> tuple[str, int]:
            py_db.create_wait_for_connection_thread()
            py_db.wait_for_server_socket_ready()
            host, port = py_db._server_socket_name
            return str(host), int(port)

        try:
            self.address = run_bounded(listen, "remotedbg-listen", self.listen_timeout)
        except Exception as exc:
            raise ArmError(f"debugpy could not listen again: {exc}") from None
        self._set_nodelay()
        return self.address

    @staticmethod
    def _pydevd_server_socket() -> socket.socket | None:
        waiter = getattr(_global_debugger(), "_waiting_for_connection_thread", None)
        server_socket = getattr(waiter, "_server_socket", None)
        return server_socket if isinstance(server_socket, socket.socket) else None

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
        trigger = getattr(debugpy, "trigger_exception_handler", None)
        if trigger is None:
            log.info(
                "remotedbg: debugpy %s cannot report caught exceptions to the IDE; "
                "upgrade debugpy to stop on unhandled view errors",
                self.version,
            )
            return
        trigger(excinfo, as_uncaught=True)

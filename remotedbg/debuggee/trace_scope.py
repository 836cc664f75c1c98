"""Trace only the debugging client's requests, so everyone else on the box does not pay.

Once listening, pydevd (Python 3.11 and older) traces every thread with sys.settrace and
wraps thread start, so that every new request thread is traced from birth: the other users
of a staging box get 0.3x-0.5x throughput for as long as the process lives. After
``listen()`` we undo that (restore thread start, clear ``threading.settrace``), and each
request then opts in or out at WSGI entry: the debugging client's requests are traced,
everyone else's are not. When the window closes, nothing is traced any more.

Python 3.12+ uses sys.monitoring, which is global: every thread fires pydevd's callbacks, and
every thread stops at a breakpoint. There pydevd's per-thread switch is set at WSGI entry
instead, so a visitor's request neither stops nor pays for more than a quick early return,
and pydevd's monitoring and thread-start wrap go when the window closes (they would
otherwise stay for good) and come back when a new window opens.

Everything relied on beyond debugpy's public API is looked up at run time. When something
is missing, scoping is skipped and one note is logged: debugging then still works, and only
the speed of other requests is lost.
"""

from __future__ import annotations

import logging
import sys
import threading
import typing as t
import weakref

__all__ = ["TraceScope"]

log = logging.getLogger("remotedbg")


class TraceScope:
    """Per-thread tracing for one process's pydevd; `engage()` after debugpy.listen()."""

    def __init__(self) -> None:
        self.engaged = False
        self._py_db: t.Any = None
        self._undo_thread_patch: t.Callable[[], None] | None = None
        self._trace_frames: t.Callable[[int, t.Any], None] | None = None
        self._monitoring: t.Any = None
        self._redo_thread_patch: t.Callable[[], None] | None = None
        self._real_settrace: t.Callable[[t.Any], None] | None = None
        self._set_in_threads: t.Callable[..., t.Any] | None = None
        self._thread_on: t.Callable[[], object] | None = None
        self._thread_off: t.Callable[[], object] | None = None
        #: The module whose thread-local holds pydevd's record of each thread (3.12+).
        self._thread_records: t.Any = None
        #: Per thread: did its last request opt in? New threads started by it inherit that.
        self._local = threading.local()
        self._unpatch_start: t.Callable[[], None] | None = None
        #: Every breakpoint and exception filter carries the "developer's request" condition
        #: (set by the backend once it has put the exception filters' one in place).
        self.guarded = False
        #: Threads started by a traced request: they serve the developer, never switch off.
        self._debugging_threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
        self._stop_greeting: t.Callable[[], None] | None = None

    def engage(self) -> bool:
        """Stop tracing by default; True if requests can now opt in one by one."""
        pydevd = sys.modules.get("pydevd")
        py_db = getattr(pydevd, "get_global_debugger", lambda: None)()
        constants = sys.modules.get("_pydevd_bundle.pydevd_constants")
        monkey = sys.modules.get("_pydev_bundle.pydev_monkey")
        if getattr(constants, "PYDEVD_USE_SYS_MONITORING", False):
            monitoring = sys.modules.get("_pydevd_sys_monitoring.pydevd_sys_monitoring")
            if hasattr(monitoring, "start_monitoring") and hasattr(monitoring, "stop_monitoring"):
                self._monitoring = monitoring
                self._undo_thread_patch = getattr(monkey, "undo_patch_thread_modules", None)
                self._redo_thread_patch = getattr(monkey, "patch_thread_modules", None)
            else:
                log.info(
                    "remotedbg: this debugpy's sys.monitoring helpers are missing; debugpy "
                    "keeps monitoring after the window closes"
                )
            return self._engage_thread_switch(monitoring)
        undo = getattr(monkey, "undo_patch_thread_modules", None)
        if py_db is None or undo is None or not hasattr(py_db, "enable_tracing"):
            log.info(
                "remotedbg: this debugpy lacks what per-request tracing needs; every request "
                "is traced while debugpy runs (slower for everyone on Python < 3.12)"
            )
            return False
        self._py_db = py_db
        self._undo_thread_patch = undo
        method = getattr(type(py_db), "set_trace_for_frame_and_parents", None)
        self._trace_frames = method.__get__(py_db) if method is not None else None
        self._find_thread_tools()
        self.engaged = True
        self._stop_default_tracing()
        self._untrace_other_threads()
        self._inherit_in_new_threads()
        return True

    def _engage_thread_switch(self, monitoring: t.Any) -> bool:
        """3.12+: find pydevd's per-thread on/off switch, which its callbacks check first.

        The `*_current_thread_tracing` pair creates a thread's record when missing (a pool
        thread older than the window has none, and would be born switched on); the older
        `*_monitoring(all_threads=False)` pair does nothing for such a thread.
        """
        off = getattr(monitoring, "suspend_current_thread_tracing", None)
        on = getattr(monitoring, "resume_current_thread_tracing", None)
        if off is None or on is None:
            log.info(
                "remotedbg: this debugpy has no per-thread monitoring switch; every request "
                "can stop at a breakpoint while an IDE is attached, and pays for its callbacks"
            )
            return False
        self._thread_off, self._thread_on = off, on
        self._thread_records = sys.modules.get(getattr(on, "__module__", None) or "")
        if not hasattr(self._thread_records, "_thread_local_info"):
            log.info(
                "remotedbg: cannot reach debugpy's per-thread records; a stop in a thread "
                "that reuses an ended thread's id may name a thread that is gone"
            )
        pydevd = sys.modules.get("pydevd")
        self._py_db = getattr(pydevd, "get_global_debugger", lambda: None)()
        self.engaged = True
        # pydevd's thread-start wrap announces every new thread to the IDE (two DAP events
        # per visitor request on a thread-per-request server) and switches it on at birth.
        self._stop_default_tracing()
        self._inherit_in_new_threads()
        self._greet_running_threads()
        return True

    def _find_thread_tools(self) -> None:
        """pydevd's native helper sets a tracer in *other* threads, as listen() itself did."""
        tracing = sys.modules.get("pydevd_tracing")
        holder = getattr(tracing, "TracingFunctionHolder", None)
        load_helper = getattr(tracing, "_load_python_helper_lib", None)
        self._real_settrace = getattr(holder, "_original_tracing", None)
        if load_helper is not None and self._real_settrace is not None and load_helper():
            self._set_in_threads = getattr(tracing, "set_trace_to_threads", None)
        if self._set_in_threads is None:
            log.info(
                "remotedbg: cannot reach pydevd's thread helper; threads that existed before "
                "arming stay traced until they serve a request"
            )

    def _untrace_other_threads(self) -> None:
        """Drop the tracer listen() gave every running thread (the server's accept loop...).

        A thread's tracer can only be removed from inside it, so each gets a one-shot tracer
        that removes itself on its next call. Frames lose pydevd's f_trace first, or its
        dispatcher would put the tracer back on the next line event.
        """
        if self._set_in_threads is None:
            return
        me = threading.get_ident()
        frames = sys._current_frames()
        idents = [ident for ident in frames if ident != me]
        for ident in idents:
            frame: t.Any = frames[ident]
            while frame is not None:
                frame.f_trace = None
                frame = frame.f_back
        del frames
        if idents:
            real_settrace = self._real_settrace

            def untrace_myself(frame: t.Any, event: str, arg: t.Any) -> None:
                if real_settrace is not None:
                    real_settrace(None)

            self._set_in_threads(untrace_myself, thread_idents=idents, create_dummy_thread=False)

    def _stop_default_tracing(self) -> None:
        """New threads start untraced: undo pydevd's thread-start wrap and threading hook."""
        if self._undo_thread_patch is not None:
            self._undo_thread_patch()
        threading.settrace(None)

    def _inherit_in_new_threads(self) -> None:
        """A thread started by a traced request is traced; any other starts switched off.

        The developer's request hands work to threads the hook never sees: an ASGI app's
        sync endpoints (anyio's worker threads), Django's sync views under ASGI (asgiref's
        executors), the app's own pools. Those started from the developer's thread serve
        the developer; a pool's tasks are the developer's task by task (`pool_tasks`). On
        3.12+ every other new thread is born switched on: with guarded breakpoints that is
        as it should be, and otherwise it is switched off before it runs anything.
        """
        if self._unpatch_start is not None:
            return
        original = threading.Thread.start
        scope = self

        def start(thread: threading.Thread) -> None:
            debugging = getattr(scope._local, "debugging", False)
            # A visitor's new thread needs nothing when breakpoints are guarded: pydevd
            # switches it on when it meets it, as a visitor's thread should be.
            unguarded = scope._thread_off is not None and not scope.guarded
            if (debugging or unguarded) and not getattr(thread, "is_pydev_daemon_thread", False):
                run = thread.run

                def run_in_scope() -> None:
                    scope.enter(debugging)
                    run()

                thread.run = run_in_scope  # type: ignore[method-assign]
                if debugging:
                    scope._debugging_threads.add(thread)
            original(thread)

        threading.Thread.start = start  # type: ignore[method-assign,assignment]

        from .pool_tasks import carry_into_pool_tasks

        undo_pools = carry_into_pool_tasks(self._local)

        def unpatch() -> None:
            undo_pools()
            if threading.Thread.start is start:
                threading.Thread.start = original  # type: ignore[method-assign]

        self._unpatch_start = unpatch

    def _greet_running_threads(self) -> None:
        """3.12+: threads already running are switched off on their next call.

        Not when breakpoints are guarded: those threads then stay on, as visitors' threads
        do, and pydevd switches off for good the code they run (a server's accept loop, an
        ASGI server's event loop); they cannot stop, as no visitor's thread can.
        """
        if self._thread_off is None or self.guarded:
            return
        from .thread_greeting import greet_running_threads

        if self._stop_greeting is not None:
            self._stop_greeting()
        self._stop_greeting = greet_running_threads(
            self._switch_off, skip=set(self._debugging_threads)
        )

    def _stop_inheriting(self) -> None:
        unpatch, self._unpatch_start = self._unpatch_start, None
        if unpatch is not None:
            unpatch()

    @property
    def monitoring(self) -> t.Any:
        """pydevd's sys.monitoring module (3.12+), or None."""
        return self._monitoring

    def mine(self) -> bool:
        """True in the developer's request: every breakpoint's condition asks this.

        Without per-request tracing (an unknown debugpy) every thread counts as the
        developer's, as before any of this existed.
        """
        return not self.engaged or getattr(self._local, "debugging", False)

    def enter(self, debugging: bool) -> None:
        """At request entry, in the request's thread: trace it only if its client is debugging."""
        if not self.engaged:
            return
        self._local.debugging = debugging
        if self._thread_on is not None and self._thread_off is not None:
            # 3.12+: a visitor's thread stays switched on, so that pydevd switches off, for
            # good, the code only visitors run; the conditions on every breakpoint and
            # exception filter keep it from stopping. Without those (an unknown pydevd),
            # visitors' threads are switched off instead, as before.
            if debugging:
                self._local.off = False
                self._meet_afresh()
                self._thread_on()
            elif self.guarded:
                self._switch_on()
            else:
                self._switch_off()
            return
        if threading.gettrace() is not None:
            # pydevd re-arms its global hooks on some events (a new IDE session).
            self._stop_default_tracing()
        py_db = self._py_db
        if debugging:
            py_db.enable_tracing()
            if self._trace_frames is not None:
                # The frames already running (the server's and ours) are traced too, so
                # that stepping out of a view stops where the user expects.
                self._trace_frames(threading.get_ident(), sys._getframe(1))
        elif sys.gettrace() is not None:
            py_db.disable_tracing()

    def _meet_afresh(self) -> None:
        """3.12+, the developer's thread: pydevd forgets what it knows of it, and meets it
        again from here (`_thread_on` does), as the thread it is.

        pydevd meets a thread on its first callback there. One that comes while the thread
        is starting, before threading has registered it, takes the thread for whatever
        threading's registry still holds under its id: a placeholder pydevd made for an
        ended visitor's thread, whose id this one reuses (visitors' threads are left for
        pydevd to meet, and some never are until their teardown). A stop in the thread
        then names a thread that does not exist, and the IDE's next request there hangs.
        A visitor's thread never stops, so that is harmless in one.
        """
        records = getattr(self._thread_records, "_thread_local_info", None)
        known = getattr(records, "__dict__", None)
        if isinstance(known, dict):
            for name in ("thread_info", "f_bootstrap", "is_bootstrap_frame_internal"):
                known.pop(name, None)

    def _switch_on(self) -> None:
        """3.12+, a visitor's thread: switch it back on, if we switched it off.

        pydevd switches a thread on when it first meets it. Flipping the switch of a thread
        it has not met yet makes it meet the thread there and then, which walks the stack and
        builds its records: 5% to 10% of a small request's CPU on a thread-per-request
        server, for every visitor, for nothing. (Were the thread off all the same, the
        visitor would only not stop, and not pay for callbacks.)
        """
        if getattr(self._local, "off", False) and self._thread_on is not None:
            self._local.off = False
            self._thread_on()

    def _switch_off(self) -> None:
        """3.12+: switch this thread off, and remember it for `_switch_on`."""
        self._local.off = True
        if self._thread_off is not None:
            self._thread_off()

    def leave(self) -> None:
        """When the debugging request's response is closed, in its thread: trace it no more.

        Waiting for the thread's next request to switch it off would leave whatever runs
        in between (a middleware wrapped around the hook, a server's request hooks) traced
        for the next client, who may be a visitor.
        """
        if not self.engaged:
            return
        self._local.debugging = False
        if self._thread_off is not None:
            self._switch_off()
        elif sys.gettrace() is not None:
            self._py_db.disable_tracing()

    def reopen(self) -> None:
        """A new window on a debugpy that already runs: back to how listen() left it (3.12+)."""
        if self._monitoring is not None:
            if self._redo_thread_patch is not None and not self.engaged:
                self._redo_thread_patch()
            self._monitoring.start_monitoring(all_threads=True)
        if self.engaged:
            self._inherit_in_new_threads()
            self._greet_running_threads()

    def release(self) -> None:
        """The window closed: nothing is traced or monitored, and new threads start plain."""
        self._stop_inheriting()
        stop_greeting, self._stop_greeting = self._stop_greeting, None
        if stop_greeting is not None:
            stop_greeting()
        if self._monitoring is not None:
            self._monitoring.stop_monitoring(all_threads=True)
            if self._undo_thread_patch is not None:
                self._undo_thread_patch()
        elif self.engaged:
            self._stop_default_tracing()
            self._untrace_other_threads()

"""Python 3.12+: switch off threads that were already running when the window opened.

pydevd's per-thread switch is created on a thread's first monitoring callback, switched on.
Threads the request hook never runs in (an ASGI server's worker threads for sync endpoints,
an app's own pools) would then stop at the developer's breakpoints while serving visitors.
New threads are switched at birth (`TraceScope`); the ones already running get greeted
here: a monitoring tool of our own sees each one's next function start or resume and
switches it off, then lets go of the thread, and of the events once every thread has been
seen. Tools with a higher id are called first (checked in the tests), so the switch is off
before pydevd's own callback looks at it.
"""

from __future__ import annotations

import sys
import threading
import typing as t

__all__ = ["greet_running_threads"]

#: Tool ids tried in turn: above pydevd's (0, the debugger's), below sys.settrace's (6, 7).
_TOOL_IDS = (5, 4, 3)


def greet_running_threads(
    switch_off: t.Callable[[], object], skip: t.Collection[threading.Thread] = ()
) -> t.Callable[[], None] | None:
    """Switch off each running thread (but the caller and `skip`) on its next call.

    Returns a function that stops the greeting early, or None when there is nothing to
    greet or no free monitoring tool.
    """
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        return None
    me = threading.get_ident()
    pending = {
        thread.ident
        for thread in threading.enumerate()
        if thread.ident is not None
        and thread.ident != me
        and thread not in skip
        and not getattr(thread, "is_pydev_daemon_thread", False)
    }
    tool = next((i for i in _TOOL_IDS if monitoring.get_tool(i) is None), None)
    if not pending or tool is None:
        return None
    monitoring.use_tool_id(tool, "remotedbg")
    events = monitoring.events.PY_START | monitoring.events.PY_RESUME
    get_ident = threading.get_ident

    def stop() -> None:
        if monitoring.get_tool(tool) == "remotedbg":
            monitoring.set_events(tool, 0)
            monitoring.register_callback(tool, monitoring.events.PY_START, None)
            monitoring.register_callback(tool, monitoring.events.PY_RESUME, None)
            monitoring.free_tool_id(tool)

    def greet(code: object, offset: int) -> None:
        ident = get_ident()
        if ident not in pending:
            return
        pending.discard(ident)
        switch_off()
        pending.intersection_update(sys._current_frames())  # threads that ended meanwhile
        if not pending:
            stop()

    monitoring.register_callback(tool, monitoring.events.PY_START, greet)
    monitoring.register_callback(tool, monitoring.events.PY_RESUME, greet)
    monitoring.set_events(tool, events)
    return stop

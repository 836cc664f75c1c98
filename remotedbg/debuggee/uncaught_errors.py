"""Python 3.12+: the developer's uncaught errors reach the IDE without pydevd watching every
exception in every thread.

With "Uncaught Exceptions" ticked, pydevd asks sys.monitoring for PY_UNWIND: every frame an
exception leaves, in every thread, calls it back, and that event cannot be switched off where
it fires. Visitors pay for each one (Werkzeug alone raises and catches two per request), so
that pydevd can find the rare error that ends a thread. The developer's uncaught errors reach
the IDE another way already: the hook hands over a request's error (`report_uncaught`), and
`threading.excepthook` hands over an error that ends a thread the developer's request started.

So while "uncaught" is the only exception filter, PY_UNWIND is taken out of pydevd's events,
and the excepthook reports instead. With "Raised" or "User Uncaught" ticked, pydevd needs the
event for its own checks, keeps it, and finds thread-ending errors itself as before.
"""

from __future__ import annotations

import logging
import sys
import threading
import types
import typing as t

__all__ = ["UncaughtErrors"]

log = logging.getLogger("remotedbg")

ExcInfo = tuple[type[BaseException], BaseException, types.TracebackType | None]


class UncaughtErrors:
    """Keeps PY_UNWIND out of pydevd's events while the IDE asks for uncaught errors only."""

    def __init__(self, report: t.Callable[[ExcInfo], None], mine: t.Callable[[], bool]) -> None:
        self._report = report
        self._mine = mine
        self._py_db: t.Any = None
        #: PY_UNWIND is out of pydevd's events right now: thread-ending errors are ours.
        self.trimmed = False

    def install(self, py_db: t.Any, monitoring: t.Any) -> bool:
        """Watch pydevd's event updates; False (nothing changed) if this pydevd differs."""
        update = getattr(monitoring, "update_monitor_events", None)
        needed = ("break_on_uncaught_exceptions", "break_on_caught_exceptions")
        if update is None or not all(hasattr(py_db, name) for name in needed):
            log.info(
                "remotedbg: this debugpy's exception events are not as expected; with "
                "'Uncaught Exceptions' ticked, every exception of every thread reaches pydevd"
            )
            return False
        self._py_db = py_db
        if not getattr(update, "remotedbg_trimmed", False):
            trim = self.trim

            def update_monitor_events(*args: t.Any, **kwargs: t.Any) -> t.Any:
                result = update(*args, **kwargs)
                trim()
                return result

            update_monitor_events.remotedbg_trimmed = True  # type: ignore[attr-defined]
            monitoring.update_monitor_events = update_monitor_events
        self._hook_threads()
        self.trim()
        return True

    def trim(self) -> None:
        """Take PY_UNWIND out of pydevd's events if "uncaught" is its only exception filter."""
        py_db = self._py_db
        monitoring = getattr(sys, "monitoring", None)
        if py_db is None or monitoring is None:
            return
        only_uncaught = bool(py_db.break_on_uncaught_exceptions) and not (
            py_db.break_on_caught_exceptions
            or getattr(py_db, "break_on_user_uncaught_exceptions", None)
            or getattr(py_db, "has_plugin_exception_breaks", False)
        )
        tool = monitoring.DEBUGGER_ID
        if monitoring.get_tool(tool) != "pydevd":
            self.trimmed = False
            return
        events = monitoring.get_events(tool)
        unwind = monitoring.events.PY_UNWIND
        if only_uncaught and events & unwind:
            monitoring.set_events(tool, events & ~unwind)
        self.trimmed = only_uncaught

    def _hook_threads(self) -> None:
        previous = threading.excepthook
        if getattr(previous, "remotedbg_reports", False):
            return
        errors = self

        def excepthook(args: t.Any) -> None:
            if errors.trimmed and args.exc_value is not None and errors._mine():
                errors._report((args.exc_type, args.exc_value, args.exc_traceback))
            previous(args)

        excepthook.remotedbg_reports = True  # type: ignore[attr-defined]
        threading.excepthook = excepthook

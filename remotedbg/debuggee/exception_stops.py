"""Which exceptions the IDE has already stopped on, so that each error stops it once.

A view's error can reach the IDE twice: pydevd stops on it itself when the IDE asks for
"User Uncaught Exceptions" (the error leaves the developer's code for the framework's), and
the hook hands it over again when the framework turns it into a 500. pydevd marks neither
the exception nor its traceback, so we watch its one door to a pause, ``do_wait_suspend``,
for exception stops, and mark the exception. Exceptions take no weak references, and a
strong one would keep the request's frames and locals alive, so the mark is an attribute
on the exception itself (or, for the rare exception without a ``__dict__``, its id in a
short list).
"""

from __future__ import annotations

import collections
import typing as t

__all__ = ["ExceptionStops"]

#: pydevd's ``EXCEPTION_TYPE_*`` values for stops on an error nobody handled.
_UNHANDLED = frozenset({"UNHANDLED", "USER_UNHANDLED"})
_MARK = "_remotedbg_stopped_on"


class ExceptionStops:
    """Remembers the unhandled exceptions pydevd paused on."""

    def __init__(self) -> None:
        self._unmarkable: collections.deque[int] = collections.deque(maxlen=32)

    def remember(self, exception: BaseException) -> None:
        try:
            setattr(exception, _MARK, True)
        except (AttributeError, TypeError):
            self._unmarkable.append(id(exception))

    def watch(self, py_db: t.Any) -> bool:
        """Wrap `py_db`'s pause; False (and nothing changed) if this pydevd has none."""
        pause = getattr(py_db, "do_wait_suspend", None)
        if pause is None or getattr(pause, "remotedbg_watched", False):
            return pause is not None
        remember = self.remember

        def do_wait_suspend(
            thread: t.Any, frame: t.Any, event: str, arg: t.Any, *args: t.Any, **kwargs: t.Any
        ) -> t.Any:
            kind = args[0] if args else kwargs.get("exception_type")
            error = arg[1] if event == "exception" and isinstance(arg, tuple) and arg[1:] else None
            if kind in _UNHANDLED and isinstance(error, BaseException):
                remember(error)
            return pause(thread, frame, event, arg, *args, **kwargs)

        do_wait_suspend.remotedbg_watched = True  # type: ignore[attr-defined]
        py_db.do_wait_suspend = do_wait_suspend
        return True

    def already_stopped_on(self, exception: BaseException) -> bool:
        return getattr(exception, _MARK, False) is True or id(exception) in self._unmarkable

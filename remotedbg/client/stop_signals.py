"""Ctrl-C and SIGTERM, made to end `remotedbg attach` cleanly wherever they land."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import typing as t

if t.TYPE_CHECKING:
    from types import FrameType

__all__ = ["StopSignals"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Ctrl-C and SIGTERM, made to end `attach` cleanly wherever they land.

    Outside the event loop the first one raises KeyboardInterrupt (and the ones after it
    are ignored, so the clean-up runs to its end); inside it, they stop the loop through
    ``add_signal_handler``. Between the two they are held (blocked, on POSIX) rather than
    lost, so none lands inside asyncio's own machinery. Only in the main thread, and not
    for a signal ignored from the start (``cmd &`` in a script ignores SIGINT).
    """

    def __init__(self) -> None:
        main = threading.current_thread() is threading.main_thread()
        self.signals = [
            sig for sig in _STOP_SIGNALS if main and signal.getsignal(sig) is not signal.SIG_IGN
        ]
        self._previous: dict[int, t.Any] = {}
        self._mask: set[int] | None = None

    def install(self) -> None:
        for sig in self.signals:
            self._previous.setdefault(sig, signal.getsignal(sig))
            signal.signal(sig, _interrupt)

    def ignore(self) -> None:
        for sig in self.signals:
            signal.signal(sig, signal.SIG_IGN)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def hold(self) -> None:
        if self.signals and hasattr(signal, "pthread_sigmask") and self._mask is None:
            self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, self.signals)

    def release(self) -> None:
        if self._mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
            self._mask = None

    @contextlib.contextmanager
    def deferred(self) -> t.Iterator[None]:
        """A step not to be cut in half: a signal during it takes effect at its end.

        Deferred, not blocked: a child started meanwhile (ssh) would inherit blocked
        signals and ignore `terminate`.
        """
        came: list[int] = []
        for sig in self.signals:
            signal.signal(sig, lambda signum, frame: came.append(signum))
        try:
            yield
        finally:
            self.install()
        if came:
            _interrupt(came[0], None)

    def into_loop(self, stop: t.Callable[[], None]) -> None:
        """Called first thing in the loop, with the signals held since before it started."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows: no such API
            for sig in self.signals:
                loop.add_signal_handler(sig, stop)
        self.release()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt

"""Werkzeug's threaded server, with each request thread kept for the next request.

`remotedbg run` serves WSGI apps with Werkzeug's threaded server, which starts a thread for
every request. On Python 3.12+, while debugging is armed, each new thread also costs
debugpy a few callbacks that it can never switch off (it cannot tell which thread it is
in until threading has registered the thread): about 4% of a small request's CPU. Here a
request thread that is done waits up to a minute for the next request instead of exiting.
There is still no limit on threads: a request that finds none idle gets a new one, as
before, so a request paused at a breakpoint, or a slow one, never holds up the others.
"""

from __future__ import annotations

import logging
import queue
import threading
import typing as t

from werkzeug.serving import ThreadedWSGIServer

__all__ = ["ReusedThreads", "ThreadReusingWSGIServer"]

log = logging.getLogger("remotedbg")

Work = tuple[t.Callable[..., object], tuple[object, ...]]


class ReusedThreads:
    """Runs each call on an idle thread if there is one, else on a new thread.

    A thread idle for `linger` seconds exits. The count of idle threads and the hand-over
    of work share one lock, so a call is never left waiting for a thread that is leaving.
    """

    def __init__(self, linger: float = 60.0) -> None:
        self.linger = linger
        self._lock = threading.Lock()
        self._idle = 0
        self._work: queue.SimpleQueue[Work] = queue.SimpleQueue()

    def submit(self, function: t.Callable[..., object], *args: object) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._work.put((function, args))
                return
        threading.Thread(target=self._serve, args=((function, args),), daemon=True).start()

    def _serve(self, work: Work | None) -> None:
        while work is not None:
            function, args = work
            work = None
            try:
                function(*args)
            except Exception:  # the server's own handler reports a request's errors
                log.exception("remotedbg: a request thread's work failed")
            del function, args  # the finished request's socket is not kept while idle
            work = self._next()

    def _next(self) -> Work | None:
        """The next call, or None when none came within `linger` (the thread then exits)."""
        with self._lock:
            self._idle += 1
        try:
            return self._work.get(timeout=self.linger)
        except queue.Empty:
            with self._lock:
                try:  # handed over just as we gave up waiting
                    return self._work.get_nowait()
                except queue.Empty:
                    self._idle -= 1
                    return None


class ThreadReusingWSGIServer(ThreadedWSGIServer):
    """`ThreadedWSGIServer` whose request threads serve request after request."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_threads = ReusedThreads()

    def process_request(self, request: t.Any, client_address: t.Any) -> None:
        self.request_threads.submit(self.process_request_thread, request, client_address)

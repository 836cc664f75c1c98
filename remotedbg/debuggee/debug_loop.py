"""A thread with its own event loop, where the debugging client's ASGI requests run.

On an ASGI server every request of a worker runs on one thread, the event loop's. Were the
developer's request to stop at a breakpoint there, the whole loop would stop with it, and
every visitor of that worker would wait for the developer to press continue. Running the
developer's requests on a loop of their own keeps the server's loop, and the visitors on it,
served while the developer is paused, and it gives tracing a thread of its own: pydevd's
switches are per thread, so the server's loop is never traced and never stops.

The price: an object bound to the server's loop (a connection pool made at start-up) used
from the developer's request fails with asyncio's "attached to a different loop". The docs
say so. `receive` and `send` are carried across to the server's loop.
"""

from __future__ import annotations

import asyncio
import threading
import typing as t

if t.TYPE_CHECKING:
    import concurrent.futures

__all__ = ["DebugLoop"]

T = t.TypeVar("T")

#: The name the IDE shows for the thread the developer's requests run on.
THREAD_NAME = "remotedbg: your requests"


class DebugLoop:
    """Started on the first debugging request, never before (a forking server may load us)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def submit(self, coro: t.Coroutine[t.Any, t.Any, T]) -> concurrent.futures.Future[T]:
        """Run `coro` on the debug loop, in a copy of the caller's context."""
        return asyncio.run_coroutine_threadsafe(coro, self._running_loop())

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                ready = threading.Event()
                loop = asyncio.new_event_loop()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                # Not hidden from the debugger: this is where the developer's code stops.
                threading.Thread(target=run, name=THREAD_NAME, daemon=True).start()
                ready.wait()
                self._loop = loop
            return self._loop


async def on_loop(loop: asyncio.AbstractEventLoop, coro: t.Coroutine[t.Any, t.Any, T]) -> T:
    """Await `coro` run on another thread's `loop` (the server's `receive` and `send`)."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

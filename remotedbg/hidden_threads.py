"""Threads that the debugger neither traces, pauses nor lists, and ways to run work on them.

remotedbg's own machinery (the bridge, the expiry timer, debugger calls that may block) must
keep running while the developer is paused at a breakpoint, and must not show up in the
IDE's thread list among the app's threads.
"""

from __future__ import annotations

import asyncio
import threading
import typing as t

__all__ = ["hidden_thread", "hide_from_debugger", "off_loop", "run_bounded"]

TThread = t.TypeVar("TThread", bound=threading.Thread)
T = t.TypeVar("T")


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


async def off_loop(func: t.Callable[[], T], name: str) -> T:
    """Await `func` run on a hidden thread, so a blocking call does not stall the event loop.

    asyncio's default executor would do, but its threads are visible to the debugger: the
    IDE would list them among the app's threads.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: t.Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def target() -> None:
        try:
            value = func()
        except BaseException as exc:
            failure = exc
            loop.call_soon_threadsafe(settle, lambda: future.set_exception(failure))
        else:
            loop.call_soon_threadsafe(settle, lambda: future.set_result(value))

    hidden_thread(target, name).start()
    return await future

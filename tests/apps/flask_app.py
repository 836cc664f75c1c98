"""A Flask app for the end-to-end tests; the BREAK markers name the lines tests stop on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index() -> str:
    visitor = "tester"
    return f"hello {visitor}"  # BREAK: index


@app.route("/boom")
def boom() -> str:
    secret_number = 42
    raise RuntimeError(f"boom {secret_number}")  # RAISE: boom


@app.route("/health")
def health() -> str:
    return "ok"


@app.route("/tracer")
def tracer() -> str:
    """Whether pydevd watches this request: settrace before 3.12, its monitoring switch after."""
    import sys

    if sys.version_info >= (3, 12):
        monitoring = sys.modules.get("_pydevd_sys_monitoring.pydevd_sys_monitoring")
        if monitoring is None or sys.monitoring.get_tool(sys.monitoring.DEBUGGER_ID) is None:
            return "untraced"
        was_on = monitoring.suspend_current_thread_tracing()  # reads the switch, turns it off
        if was_on:
            monitoring.resume_current_thread_tracing()
        # A visitor's thread stays on (pydevd then switches off code only visitors run);
        # the breakpoints' condition, __remotedbg_mine__(), keeps it from stopping.
        mine = (
            __builtins__["__remotedbg_mine__"]()
            if isinstance(__builtins__, dict)
            else (__builtins__.__remotedbg_mine__())
        )
        return f"{'on' if was_on else 'off'}, {'mine' if mine else 'not mine'}"
    return "traced" if sys.gettrace() is not None else "untraced"


@app.route("/slow")
def slow() -> str:
    """A visitor's request that is still running when the developer's stops (20 x 50 ms)."""
    import time

    for _ in range(20):
        time.sleep(0.05)
    return "slow done"


@app.route("/thread-boom")
def thread_boom() -> str:
    """An error that ends a thread the request started: nobody catches it."""
    import threading

    def background() -> None:
        doomed = "in the background"
        raise ValueError(doomed)  # RAISE: thread

    worker = threading.Thread(target=background)
    worker.start()
    worker.join()
    return "thread ended"


@app.route("/thread-name")
def thread_name() -> str:
    """Which thread serves this request (a name is never reused, unlike an OS thread id)."""
    import threading

    return threading.current_thread().name


@app.route("/breakpoint")
def call_breakpoint() -> str:
    """A `breakpoint()` call left in code: the developer stops there, a visitor never."""
    breakpoint()
    return "after breakpoint"


POOL = ThreadPoolExecutor(max_workers=1)


def pooled_work() -> str:
    done = "pooled"
    return f"{done}"  # BREAK: pool


@app.route("/pool")
def pool() -> str:
    """Work on a pool the app keeps: its thread is started by whoever needs it first."""
    return POOL.submit(pooled_work).result()

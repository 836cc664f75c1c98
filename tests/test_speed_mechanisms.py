"""The mechanisms behind remotedbg's speed, checked directly (timing belongs in benchmarks/)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from servers import APPS, free_port, remotedbg_run, run_script

pytestmark = pytest.mark.e2e


def test_pydevd_talks_over_a_socket_pair_and_resume_is_prompt() -> None:
    """After attaching, pydevd's socket is a local pair (no TCP, so no Nagle stall) and a
    resume is noticed in milliseconds."""
    result = run_script(
        """
        import socket
        sys.path.insert(0, ".")
        from dap_client import DAPClient, initialize_arguments
        gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0}))
        assert gate.arm("127.0.0.1")
        import pydevd
        py_db = pydevd.get_global_debugger()
        client = DAPClient(gate.dap_address)
        client.request("initialize", initialize_arguments())
        client.send("attach", {})
        client.wait_event("initialized")
        lookup = py_db.get_internal_queue_and_event
        print(json.dumps({"family": py_db.writer.sock.family == socket.AF_UNIX,
                          "idle_poll": pydevd.TIMEOUT_SLOW,
                          "wrapped": getattr(lookup, "remotedbg_prompt", False),
                          "event": type(lookup("pid_1_id_1")[1]).__name__}))
        """
    )
    assert result["family"] is True
    assert result["idle_poll"] == 0.2, "pydevd's shared poll constant is left alone"
    assert result["wrapped"] is True
    assert result["event"] == "_PromptEvent"


def test_a_paused_thread_waits_at_most_the_resume_poll() -> None:
    """Only the waits on pydevd's per-thread events are capped; setting them still wakes."""
    import threading

    from remotedbg.debuggee.debugpy_backend import RESUME_POLL, _prompt_resume

    events: dict[str, threading.Event] = {}
    asked: list[float | None] = []

    class RecordingEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            asked.append(timeout)
            return super().wait(timeout)

    class PyDB:
        def get_internal_queue_and_event(self, thread_id: str) -> tuple[str, threading.Event]:
            return f"queue {thread_id}", events.setdefault(thread_id, RecordingEvent())

    py_db = PyDB()
    _prompt_resume(py_db)
    _prompt_resume(py_db)  # a second window does not wrap twice
    queue, event = py_db.get_internal_queue_and_event("t1")
    assert queue == "queue t1"
    assert event.wait(0.2) is False
    assert event.wait() is False
    assert asked == [RESUME_POLL, RESUME_POLL]
    event.set()  # pydevd posting work to the paused thread
    assert events["t1"].is_set()
    assert event.is_set()
    assert event.wait(0.2) is True
    event.clear()
    assert not events["t1"].is_set()


def test_only_the_debugging_client_is_traced(tmp_path: Path) -> None:
    """While armed, a visitor's request cannot stop: before 3.12 it runs untraced; on 3.12+
    its thread stays on (so pydevd switches off what only visitors run) but it is not the
    developer's, which every breakpoint's condition asks."""
    traced, untraced = (
        (b"on, mine", b"on, not mine") if sys.version_info >= (3, 12) else (b"traced", b"untraced")
    )
    server = remotedbg_run(str(APPS / "flask_app.py"), tmp_path, "--dap-port", str(free_port()))
    try:
        assert server.get("/tracer", source="127.0.0.2").body == b"untraced"
        assert server.get("/__remotedbg__").json()["armed"] is True
        assert server.get("/tracer").body == traced
        assert server.get("/tracer", source="127.0.0.2").body == untraced
        assert server.get("/tracer", source="127.0.0.3").body == untraced
    finally:
        server.stop()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is Python 3.12+")
def test_a_visitors_thread_makes_no_callback_after_a_functions_first_call() -> None:
    """pydevd switches off, for every thread, code its callback saw in a thread that is on
    and that has no breakpoint: a visitor's later calls cost nothing. (With visitors'
    threads switched off, every call would reach pydevd's callback, forever.)"""
    result = run_script(
        """
        import threading
        from pathlib import Path
        from dap_client import DAPClient
        from ide import attach
        from servers import APPS, marker_line
        gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0}))
        assert gate.arm("127.0.0.1")
        m = sys.monitoring
        # An IDE with a breakpoint elsewhere: pydevd now watches every call starting.
        ide = DAPClient(gate.dap_address)
        cold = APPS / "wsgi_app.py"
        attach(ide, breakpoints={cold: [marker_line(cold, "BREAK: index")]})

        def visitors_only(n):
            return n + 1

        counted = []

        def visitor():
            gate.tracing.enter(debugging=False)
            visitors_only(0)  # pydevd's callback sees it once
            pydevd_callback = m.register_callback(
                m.DEBUGGER_ID, m.events.PY_START, lambda code, offset: counted.append(code)
            )
            for n in range(100):
                visitors_only(n)
            m.register_callback(m.DEBUGGER_ID, m.events.PY_START, pydevd_callback)

        thread = threading.Thread(target=visitor)
        thread.start()
        thread.join()
        calls = sum(code is visitors_only.__code__ for code in counted)
        ide.close()
        print(json.dumps({"callbacks": calls, "guarded": gate.tracing.guarded}))
        """
    )
    assert result == {"callbacks": 0, "guarded": True}


def test_nothing_is_traced_after_the_window(tmp_path: Path) -> None:
    """Once the window has closed, even the (former) debugging client runs untraced."""
    server = remotedbg_run(
        str(APPS / "flask_app.py"), tmp_path, "--dap-port", str(free_port()), "--ttl", "2s"
    )
    try:
        traced = b"on, mine" if sys.version_info >= (3, 12) else b"traced"
        assert server.get("/tracer").body == traced
        server.wait_for_log("event=expired", timeout=20)
        assert server.get("/tracer", source="127.0.0.2").body == b"untraced"
    finally:
        server.stop()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is Python 3.12+")
def test_monitoring_stops_with_the_window_and_returns_with_the_next() -> None:
    """On 3.12+, pydevd's monitoring goes with the window and comes back with the next.

    Its thread-start wrap stays off throughout: it would announce every visitor's thread
    to the IDE and switch it on at birth.
    """
    result = run_script(
        """
        gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0, "ttl": 1}))
        tool = lambda: sys.monitoring.get_tool(sys.monitoring.DEBUGGER_ID)
        import threading
        # threading starts threads through _start_new_thread, or on 3.13+ through
        # _start_joinable_thread; pydevd wraps whichever there is.
        starters = ("_start_new_thread", "_start_joinable_thread")
        wrapped = lambda: any(
            getattr(getattr(threading, name, None), "__name__", "").startswith("pydev_start")
            for name in starters
        )
        assert gate.arm("127.0.0.1")
        armed, wrapped_armed = tool(), wrapped()
        deadline = time.monotonic() + 20
        while gate.armed and time.monotonic() < deadline:
            time.sleep(0.05)
        expired, wrapped_expired = tool(), wrapped()
        scoped_after = gate.tracing is not None  # requests would still flip pydevd's switch
        assert gate.arm("127.0.0.1")
        print(json.dumps({"armed": armed, "expired": expired, "again": tool(),
                          "wrapped": [wrapped_armed, wrapped_expired, wrapped()],
                          "scoped": [scoped_after, gate.tracing is not None]}))
        """
    )
    assert result == {
        "armed": "pydevd",
        "expired": None,
        "again": "pydevd",
        "wrapped": [False, False, False],
        "scoped": [False, True],
    }


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is Python 3.12+")
def test_uncaught_alone_leaves_exception_unwinds_unwatched() -> None:
    """With "Uncaught Exceptions" the only filter, no exception of any thread calls pydevd
    back as it unwinds (the developer's errors reach the IDE by the hook and the
    excepthook); "Raised Exceptions" needs those callbacks, and has them."""
    result = run_script(
        """
        from dap_client import DAPClient
        from ide import attach
        gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0}))
        assert gate.arm("127.0.0.1")
        m = sys.monitoring
        unwinds = lambda: bool(m.get_events(m.DEBUGGER_ID) & m.events.PY_UNWIND)
        ide = DAPClient(gate.dap_address)
        attach(ide, exception_filters=("uncaught",))
        seen = [unwinds()]
        for filters in (["raised", "uncaught"], ["uncaught"], ["userUnhandled"], ["uncaught"]):
            ide.request("setExceptionBreakpoints", {"filters": filters})
            seen.append(unwinds())
        ide.close()
        print(json.dumps({"unwinds": seen}))
        """
    )
    assert result == {"unwinds": [False, True, False, True, False]}

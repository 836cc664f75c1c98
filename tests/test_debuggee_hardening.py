"""The armed process gives nobody but the developer a way in, at any moment of the window.

Each test tries one attack from the security review: debugpy's own port, a visitor's request
on a thread the developer used, gevent, a fork after loading the app, the window's edge.
"""

from __future__ import annotations

import inspect
import sys
import time
import typing as t
from pathlib import Path

import pytest

from dap_client import DAPClient
from ide import Background, attach, pause_request
from servers import APPS, DevServers, free_port, listening_ports, marker_line, run_script

pytestmark = pytest.mark.e2e


def gunicorn_argv(http_port: int, app: str, *options: str) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "-w", "1", "--timeout", "120",
        "--bind", f"127.0.0.1:{http_port}", *options, f"{app}:app",
    ]  # fmt: skip


def visitors_pass(client: DAPClient, http_port: int, body: bytes, **kwargs: t.Any) -> None:
    """Three visitors from 127.0.0.2 get their answer, and the IDE sees no stop."""
    for _ in range(3):
        visitor = Background(http_port, source="127.0.0.2", **kwargs)
        with pytest.raises(TimeoutError):
            client.wait_event("stopped", timeout=1.0)
        assert visitor.result(timeout=10).body == body


def test_only_the_door_listens_while_armed_and_nothing_after(dev_server: DevServers) -> None:
    """debugpy has no port of its own; under gunicorn the door is a process of its own, and
    its port closes with the window."""
    http_port, dap_port = free_port(), free_port()
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port), "REMOTEDBG_TTL": "4s"}
    server = dev_server.start(
        gunicorn_argv(http_port, "wsgi_app"), http_port=http_port, env=env, cwd=APPS
    )
    worker = server.get("/__remotedbg__").json()["pid"]
    door = int(server.wait_for_log(r"event=door_started pid=(\d+)")[1])
    assert listening_ports(worker) == {http_port}
    assert listening_ports(door) == {dap_port}
    line = marker_line(APPS / "wsgi_app.py", "BREAK: index")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        attach(client, breakpoints={APPS / "wsgi_app.py": [line]})
        paused = pause_request(client, http_port)
        assert listening_ports(worker) == {http_port}, "a port opened on attach"
        assert listening_ports(door) == {dap_port}, "a port opened on attach"
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body == b"hello tester"
        assert client.wait_closed(timeout=15), "the window did not end the session"
    server.wait_for_log("event=expired")
    server.wait_for_log("event=door_closed")
    assert listening_ports(worker) == {http_port}
    deadline = time.monotonic() + 10
    while Path(f"/proc/{door}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{door}").exists(), "the door outlived its window"


def test_a_pydevd_listener_without_the_secret_runs_nothing() -> None:
    """Had pydevd's port stayed open, a client without this session's secret gets nothing."""
    result = run_script(
        """
        sys.path.insert(0, ".")
        from dap_client import DAPClient, initialize_arguments
        gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0}))
        assert gate.arm("127.0.0.1")
        with DAPClient(gate.dap_address) as ide:
            ide.request("initialize", initialize_arguments())
            ide.send("attach", {})
            ide.wait_event("initialized")
            import pydevd
            py_db = pydevd.get_global_debugger()
            py_db.create_wait_for_connection_thread()  # as if it had never been closed
            py_db.wait_for_server_socket_ready()
            deadline = time.monotonic() + 10
            while True:  # pydevd says "ready" once bound, a moment before it listens
                try:
                    intruder = DAPClient(py_db._server_socket_name)
                    break
                except ConnectionRefusedError:
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
            with intruder:
                evaluate = intruder.request("evaluate", {"expression": "__import__('os')"})
                authorize = intruder.request(
                    "pydevdAuthorize", {"debugServerAccessToken": "guess"})
                again = intruder.request("evaluate", {"expression": "1"})
        print(json.dumps({"evaluate": evaluate, "authorize": authorize, "again": again}))
        """
    )
    for answer in result.values():
        assert answer["success"] is False
        assert answer["message"] == "Client not authenticated."


def test_a_visitor_never_runs_traced_outside_the_hook(dev_server: DevServers) -> None:
    """On the thread the developer's request used, a visitor passes a breakpoint in code
    that runs before the hook (an outer middleware) without stopping."""
    http_port, dap_port = free_port(), free_port()
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port)}
    argv = gunicorn_argv(http_port, "outer_app", "-k", "gthread", "--threads", "1")
    server = dev_server.start(argv, http_port=http_port, env=env, cwd=APPS)
    app_file = APPS / "outer_app.py"
    server.get("/")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        lines = [marker_line(app_file, "BREAK: outer"), marker_line(app_file, "BREAK: inner")]
        attach(client, breakpoints={app_file: lines})
        paused = pause_request(client, http_port)  # the developer's, in the hook
        assert paused.frame["line"] == lines[1]
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body == b"inner"
        visitors_pass(client, http_port, b"inner", headers={"Authorization": "Basic c2VjcmV0"})


def test_a_visitor_never_runs_traced_in_the_runners_server_code(dev_server: DevServers) -> None:
    """Under `remotedbg run`, a breakpoint in Werkzeug's own serving code, which runs
    outside the hook, stops the developer's request and never a visitor's."""
    import werkzeug.serving

    source, first = inspect.getsourcelines(werkzeug.serving.WSGIRequestHandler.run_wsgi)
    # Run once per request, after the app returned and before the server closes its body.
    marker = 'hasattr(application_iter, "close")'
    [line] = [first + i for i, text in enumerate(source) if marker in text]
    http_port, dap_port = free_port(), free_port()
    argv = [sys.executable, "-m", "remotedbg", "run", "wsgi_app:bare_app", "--port",
            str(http_port), "--dap-port", str(dap_port)]  # fmt: skip
    server = dev_server.start(argv, http_port=http_port, env={}, cwd=APPS)
    server.get("/health")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        breakpoints = {Path(werkzeug.serving.__file__): [line]}
        attach(client, breakpoints=breakpoints, arguments={"justMyCode": False})
        paused = pause_request(client, http_port)  # the developer's: traced until closed
        assert paused.frame["line"] == line
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().body == b"hello tester"
        visitors_pass(client, http_port, b"hello tester")


def test_gevent_support_still_closes_everything_when_the_window_ends(
    dev_server: DevServers,
) -> None:
    """With GEVENT_SUPPORT=True, pydevd's own socket type does not keep a port open."""
    http_port = free_port()
    argv = [sys.executable, "-m", "remotedbg", "run", "wsgi_app:bare_app", "--port",
            str(http_port), "--dap-port", "0", "--ttl", "3s"]  # fmt: skip
    server = dev_server.start(argv, http_port=http_port, env={"GEVENT_SUPPORT": "True"}, cwd=APPS)
    status = server.get("/__remotedbg__").json()
    assert status["armed"] is True
    assert listening_ports(server.process.pid) == {http_port, status["dap_port"]}
    server.wait_for_log("event=expired")
    assert listening_ports(server.process.pid) == {http_port}
    assert "could not be closed" not in server.log


def test_a_gevent_worker_refuses_to_arm_and_says_what_to_use(dev_server: DevServers) -> None:
    """Under gunicorn -k gevent nothing arms, the app serves, and one line says why."""
    pytest.importorskip("gevent")
    http_port, dap_port = free_port(), free_port()
    env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port)}
    server = dev_server.start(
        gunicorn_argv(http_port, "wsgi_app", "-k", "gevent"), http_port=http_port, env=env, cwd=APPS
    )
    status = server.get("/__remotedbg__").json()
    assert status["armed"] is False
    assert "gevent" in status["error"]
    assert "gthread" in status["error"]
    assert server.get("/").body == b"hello tester"
    assert listening_ports(status["pid"]) == {http_port}
    server.get("/")
    time.sleep(0.2)
    assert server.log.count("could not arm") == 1, "refused once, not once per request"


def test_a_request_at_the_windows_edge_gets_its_normal_answer() -> None:
    """Past the window's end but before the expiry has run, arming neither raises nor arms,
    and the next window arms as usual."""
    result = run_script(
        """
        gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0, "ttl": 600}))
        assert gate.arm("127.0.0.1")
        real = gate.window.clock
        gate.window.clock = lambda: real() + 601  # the end passed; the timer has not run
        at_edge = gate.arm("127.0.0.1")
        deadline = time.monotonic() + 20
        while gate.state.listening or gate.state.closing:
            time.sleep(0.02)
            assert time.monotonic() < deadline
        gate.window.clock = real
        print(json.dumps({"at_edge": at_edge, "next": gate.arm("127.0.0.1")}))
        """
    )
    assert result == {"at_edge": False, "next": True}


def test_expiry_never_holds_the_lock_while_it_tears_down() -> None:
    """While a slow teardown runs, an allowlisted request is answered at once, unarmed."""
    result = run_script(
        """
        import threading
        gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0}))
        assert gate.arm("127.0.0.1")
        close = gate.state.bridge.close
        def slow_close(reason):
            time.sleep(3)
            close(reason)
        gate.state.bridge.close = slow_close
        threading.Thread(target=gate.expire).start()
        time.sleep(0.3)
        started = time.monotonic()
        armed = gate.arm("127.0.0.1")
        print(json.dumps({"armed": armed, "took": time.monotonic() - started}))
        """
    )
    assert result["armed"] is False
    assert result["took"] < 1.0


def test_creating_the_hook_starts_no_thread() -> None:
    """A process that may fork after loading the app (gunicorn --preload) gets no thread."""
    result = run_script(
        """
        import threading
        gate = Gate(Settings.load({}, {"enable": True}))
        print(json.dumps({"threads": [t.name for t in threading.enumerate()],
                          "debugpy": "debugpy.server.api" in sys.modules}))
        """
    )
    assert result == {"threads": ["MainThread"], "debugpy": True}

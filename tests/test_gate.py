"""The gate's rules: deadline, fork reset, expiry and re-arming, waiting for the IDE.

Anything that starts debugpy runs in a subprocess: debugpy cannot be stopped once started,
and would trace the rest of the test session. The gate's rules on their own are tested
in-process, with a FakeBackend, in test_gate_rules.py.
"""

from __future__ import annotations

import logging
import os
import sys
import types
import typing as t

import pytest

from remotedbg.audit import Audit
from remotedbg.debuggee.gate import Gate, monkey_patched
from remotedbg.hooks.wsgi import request_facts
from remotedbg.settings import Settings

from servers import run_script


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, t.Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(record.__dict__["remotedbg"])


def test_deadline_passed_refuses_and_audits() -> None:
    """After REMOTEDBG_UNTIL, arm() refuses, starts nothing and writes a refusal event."""
    recorder = Recorder()
    logger = logging.getLogger("test.gate.audit")
    logger.addHandler(recorder)
    logger.propagate = False
    settings = Settings.load({"REMOTEDBG_ENABLE": "1", "REMOTEDBG_UNTIL": "2020-01-01T00:00Z"})
    gate = Gate(settings, audit=Audit(logger))
    assert gate.arm("127.0.0.1") is False
    assert gate.state.bridge is None
    assert gate.state.backend is None
    assert recorder.events == [
        {"event": "refused", "client": "127.0.0.1", "reason": "REMOTEDBG_UNTIL has passed"}
    ]


def test_forked_child_does_not_believe_it_listens() -> None:
    """A child forked from an armed process starts unarmed, with no listener of its own."""
    result = run_script(
        """
        gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0}))
        assert gate.arm("127.0.0.1")
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(write, json.dumps({
                "armed": gate.armed, "bridge": gate.state.bridge is not None,
                "backend": gate.state.backend is not None,
            }).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        child = json.loads(os.read(read, 1000))
        print(json.dumps({"parent_armed": gate.armed, "child": child}))
        """
    )
    assert result["parent_armed"] is True
    assert result["child"] == {"armed": False, "bridge": False, "backend": False}


def test_window_expires_and_rearms() -> None:
    """When the window ends the bridge's port closes, debugpy has none, and a request re-arms."""
    result = run_script(
        """
        import logging
        from servers import listening_ports
        events = []
        class H(logging.Handler):
            def emit(self, record):
                events.append(record.remotedbg["event"])
        logging.getLogger("remotedbg.audit").addHandler(H())
        logging.getLogger("remotedbg.audit").setLevel(logging.INFO)
        gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0, "ttl": 1}))
        before = listening_ports(os.getpid())
        assert gate.arm("127.0.0.1")
        port = gate.dap_address[1]
        armed = listening_ports(os.getpid())
        deadline = time.monotonic() + 20
        while gate.armed and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        after = listening_ports(os.getpid())
        rearmed = gate.arm("127.0.0.1")
        again = listening_ports(os.getpid())
        print(json.dumps({"before": sorted(before), "armed": sorted(armed), "port": port,
                          "after": sorted(after), "rearmed": rearmed, "again": sorted(again),
                          "new_port": gate.dap_address[1], "events": events}))
        """
    )
    assert result["before"] == []
    assert result["armed"] == [result["port"]], "something but the bridge listens while armed"
    assert result["after"] == [], "a port outlived the window"
    assert result["rearmed"] is True
    assert result["again"] == [result["new_port"]]
    assert result["events"][:2] == ["armed", "expired"]
    assert result["events"].count("armed") == 2


def test_wait_holds_the_arming_request_until_an_ide_attaches() -> None:
    """With REMOTEDBG_WAIT, arm() returns when an IDE attaches, well before the wait is over."""
    result = run_script(
        """
        import threading
        sys.path.insert(0, ".")
        from dap_client import DAPClient, initialize_arguments
        gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0, "wait": 600}))
        done = threading.Event()
        threading.Thread(target=lambda: (gate.arm("127.0.0.1"), done.set()), daemon=True).start()
        deadline = time.monotonic() + 20
        while gate.state.bridge is None or gate.state.bridge.address is None:
            time.sleep(0.02)
            assert time.monotonic() < deadline
        waited_before_attach = not done.wait(0.5)
        client = DAPClient(gate.dap_address)
        client.request("initialize", initialize_arguments())
        client.send("attach", {})
        client.wait_event("initialized")
        released = done.wait(30)
        print(json.dumps({"waited": waited_before_attach, "released": released}))
        """
    )
    assert result == {"waited": True, "released": True}


def test_forwarding_headers_that_could_have_armed_are_on_record() -> None:
    """A spoofing attempt from an allowlisted peer is refused and audited; a visitor's
    headers, which could never have armed, are not."""
    recorder = Recorder()
    logger = logging.getLogger("test.gate.spoof")
    logger.addHandler(recorder)
    logger.propagate = False
    gate = Gate(Settings.load({"REMOTEDBG_ENABLE": "1"}), audit=Audit(logger))
    spoof = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    assert gate.debugging_client(request_facts(spoof)) is None
    visitor = {"REMOTE_ADDR": "127.0.0.2", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    assert gate.debugging_client(request_facts(visitor)) is None
    assert recorder.events == [
        {
            "event": "refused",
            "peer": "127.0.0.1",
            "reason": "forwarding header from a peer that is not a trusted proxy",
            "via": "http",
        }
    ]


def test_a_hook_past_its_deadline_says_so_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    """A hooked app whose REMOTEDBG_UNTIL has passed warns once, before anyone tries."""
    Gate(Settings.load({"REMOTEDBG_ENABLE": "1", "REMOTEDBG_UNTIL": "2020-01-01T00:00Z"}))
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"remotedbg: REMOTEDBG_UNTIL has passed, so the debugger will not arm (pid {os.getpid()})"
    ]


def test_eventlet_patching_is_named_as_the_reason_not_to_arm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An eventlet-patched process is refused like a gevent one (gevent: e2e under gunicorn)."""
    patcher = types.ModuleType("eventlet.patcher")
    patcher.is_monkey_patched = lambda name: name == "thread"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "eventlet.patcher", patcher)
    problem = monkey_patched()
    assert problem is not None
    assert "monkey-patched by eventlet" in problem
    assert "gunicorn -k gthread" in problem


@pytest.mark.parametrize("enable", ["0", "off"])
def test_disabled_hook_has_no_gate(enable: str) -> None:
    """Switched off, the middleware builds no gate: nothing can arm."""
    from remotedbg.hooks.wsgi import RemoteDebugMiddleware

    hooked = RemoteDebugMiddleware(lambda e, s: [b""], Settings.load({"REMOTEDBG_ENABLE": enable}))
    assert hooked.gate is None


def test_debugpy_itself_has_no_port() -> None:
    """Even with the bridge on every interface, the bridge's is the only port that listens."""
    result = run_script(
        """
        from servers import listening_ports
        token = "gate-Jt6Wq2Xm9Rv4Kp8Ln3Zc7Bh"
        gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0, "dap_host": "0.0.0.0",
                                       "token": token}))
        assert gate.arm("127.0.0.1")
        print(json.dumps({"listening": sorted(listening_ports(os.getpid())),
                          "bridge": list(gate.dap_address)}))
        """
    )
    assert result["listening"] == [result["bridge"][1]]
    assert result["bridge"][0] == "0.0.0.0"

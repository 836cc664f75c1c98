"""The gate's rules, in-process: a FakeBackend stands in for debugpy and fake clocks for time.

What is tested here is the gate (arming once, retries, the deadline, expiry, fork reset,
the audit trail); the real backends are tested end to end in test_gate.py and elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t
from datetime import datetime, timezone

import pytest

from remotedbg.audit import Audit
from remotedbg.debuggee.fake_backend import FakeBackend
from remotedbg.debuggee.gate import RETRY_AFTER, Gate
from remotedbg.settings import Settings

CLIENT = "127.0.0.1"
#: The wall clock's start: an hour before the deadline used by the REMOTEDBG_UNTIL test.
START = datetime(2029, 12, 31, 23, 0, tzinfo=timezone.utc).timestamp()


class Clock:
    """A clock that moves only when told."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Rig:
    """A gate on fake clocks, with the backends it made and the audit events it wrote."""

    def __init__(self, env: dict[str, str], overrides: dict[str, object], **fake: t.Any) -> None:
        self.clock = Clock(1000.0)
        self.wall = Clock(START)
        self.backends: list[FakeBackend] = []
        self.fake = fake
        self.events: list[dict[str, t.Any]] = []
        logger = logging.getLogger(f"test.gate_rules.{id(self)}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.addHandler(_Recorder(self.events))
        settings = Settings.load({"REMOTEDBG_ENABLE": "1", **env}, {"dap_port": 0, **overrides})
        self.gate = Gate(
            settings,
            audit=Audit(logger),
            backend=self._make,
            clock=self.clock,
            wall=self.wall,
        )

    def _make(self) -> FakeBackend:
        backend = FakeBackend(**self.fake)
        self.backends.append(backend)
        return backend

    @property
    def backend(self) -> FakeBackend:
        (backend,) = self.backends
        return backend

    def names(self) -> list[str]:
        return [event["event"] for event in self.events]

    def wait_torn_down(self) -> None:
        state = self.gate.state
        deadline = time.monotonic() + 10
        while state.listening or state.closing:
            assert time.monotonic() < deadline, "the window was never torn down"
            time.sleep(0.005)


class _Recorder(logging.Handler):
    def __init__(self, events: list[dict[str, t.Any]]) -> None:
        super().__init__()
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(record.__dict__["remotedbg"])


@pytest.fixture
def rigs() -> t.Iterator[t.Callable[..., Rig]]:
    """Makes rigs, and closes their windows afterwards so no expiry timer outlives a test."""
    made: list[Rig] = []

    def make(
        env: dict[str, str] | None = None, overrides: dict[str, object] | None = None, **fake: t.Any
    ) -> Rig:
        rig = Rig(env or {}, {"ttl": 600, **(overrides or {})}, **fake)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.gate.expire("the test ended")


def test_concurrent_first_requests_arm_once(rigs: t.Callable[..., Rig]) -> None:
    """Many first requests at once all find the debugger armed, and it is started once."""
    rig = rigs(on_start=lambda: time.sleep(0.05))
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def request() -> None:
        barrier.wait()
        results.append(rig.gate.arm(CLIENT))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [True] * 8
    assert rig.backend.calls == ["start"]
    assert rig.names() == ["armed"]


def test_a_failed_arm_is_retried_only_after_retry_after(rigs: t.Callable[..., Rig]) -> None:
    """After a failure, requests do not retry until RETRY_AFTER has passed; then one does."""
    rig = rigs(fail="the port is busy")
    assert rig.gate.arm(CLIENT) is False
    assert rig.gate.status().error == "the port is busy"
    rig.clock.now += RETRY_AFTER - 1
    assert rig.gate.arm(CLIENT) is False
    assert rig.backend.calls == ["start"]
    rig.clock.now += 2
    rig.backend.fail = None
    assert rig.gate.arm(CLIENT) is True
    assert rig.backend.calls == ["start", "start"]
    assert rig.gate.status().error is None
    assert rig.names() == ["arm_failed", "armed"]


def test_a_permanent_failure_is_never_retried(rigs: t.Callable[..., Rig]) -> None:
    """A backend that says it can never arm again is not started again, however long after."""
    rig = rigs(fail="debugpy's own port could not be closed", permanent=True)
    assert rig.gate.arm(CLIENT) is False
    rig.clock.now += 100 * RETRY_AFTER
    assert rig.gate.arm(CLIENT) is False
    assert rig.backend.calls == ["start"]
    assert rig.names() == ["arm_failed"]


def test_the_deadline_refuses_and_is_audited(rigs: t.Callable[..., Rig]) -> None:
    """Once REMOTEDBG_UNTIL passes, arming is refused on record and the backend is not started."""
    rig = rigs({"REMOTEDBG_UNTIL": "2030-01-01T00:00Z"})
    assert rig.gate.arm(CLIENT) is True
    rig.gate.expire()
    rig.wall.now += 3600
    assert rig.gate.arm(CLIENT) is False
    assert rig.backend.calls == ["start", "close"]
    assert rig.events[-1] == {
        "event": "refused",
        "client": CLIENT,
        "reason": "REMOTEDBG_UNTIL has passed",
    }
    assert rig.names() == ["armed", "expired", "refused"]


def test_the_window_is_cut_short_by_the_deadline(rigs: t.Callable[..., Rig]) -> None:
    """A window opened an hour before REMOTEDBG_UNTIL ends at it, not after its full TTL."""
    rig = rigs({"REMOTEDBG_UNTIL": "2030-01-01T00:00Z"}, {"ttl": 7200})
    assert rig.gate.arm(CLIENT) is True
    assert rig.gate.window.remaining() == 3600
    assert rig.events[0]["expires_at"] == rig.gate.window.expires_at_iso()


def test_expiry_closes_the_bridge_and_backend_outside_the_lock(
    rigs: t.Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the window's end the bridge stops listening and the backend closes, lock released."""
    rig = rigs(needs_bridge=True)
    assert rig.gate.arm(CLIENT) is True
    bridge = rig.gate.state.bridge
    assert bridge is not None
    assert bridge.address is not None
    assert rig.gate.dap_address == bridge.address
    lock = rig.gate.state.lock
    held: dict[str, object] = {}
    real_close = bridge.close

    def close_bridge(reason: str) -> None:
        held["bridge"] = lock.locked()
        real_close(reason)

    def close_backend() -> None:
        held["backend"] = lock.locked()
        held["bridge listens"] = bridge.address is not None

    monkeypatch.setattr(bridge, "close", close_bridge)
    rig.backend.on_close = close_backend
    rig.gate.expire("the armed window ended")
    assert held == {"bridge": False, "backend": False, "bridge listens": False}
    assert rig.backend.calls == ["start", "close"]
    assert rig.gate.armed is False
    assert rig.gate.tracing is None
    assert rig.names() == ["armed", "expired"]


def test_a_request_at_the_windows_edge_is_served_unarmed(rigs: t.Callable[..., Rig]) -> None:
    """A request after the end but before the teardown is not armed, raises nothing, and the
    next request arms a new window."""
    rig = rigs()
    assert rig.gate.arm(CLIENT) is True
    rig.clock.now += 601  # the window is over; its expiry timer has not run
    assert rig.gate.arm(CLIENT) is False
    rig.wait_torn_down()
    assert rig.gate.arm(CLIENT) is True
    assert rig.backend.calls == ["start", "close", "start"]
    assert rig.names() == ["armed", "expired", "armed"]


def test_a_forked_child_starts_from_nothing(rigs: t.Callable[..., Rig]) -> None:
    """After the fork hook, the process is unarmed and its next arm makes a backend of its own."""
    rig = rigs()
    assert rig.gate.arm(CLIENT) is True
    parent = rig.gate.state
    rig.gate._reset_process()  # what register_at_fork runs in the child
    assert parent.expiry_timer is not None
    parent.expiry_timer.cancel()  # in a real child, the parent's timer thread is gone
    assert rig.gate.armed is False
    assert rig.gate.state.backend is None
    assert rig.gate.state.bridge is None
    assert rig.gate.tracing is None
    assert rig.gate.arm(CLIENT) is True
    assert [backend.calls for backend in rig.backends] == [["start"], ["start"]]


def test_the_audit_trail_in_order(rigs: t.Callable[..., Rig]) -> None:
    """Arming, expiry and a failed re-arm are written in order, with who, where and until when."""
    rig = rigs(overrides={"ttl": 60})
    assert rig.gate.arm(CLIENT) is True
    rig.gate.expire("the armed window ended")
    rig.backend.fail = "it broke"
    assert rig.gate.arm("127.0.0.9") is False
    pid = rig.gate.state.pid
    host, port = rig.gate.dap_address
    assert rig.events == [
        {
            "event": "armed",
            "client": CLIENT,
            "pid": pid,
            "dap": f"{host}:{port}",
            "backend": "fake",
            "expires_at": "2029-12-31T23:01:00Z",
        },
        {"event": "expired", "pid": pid, "reason": "the armed window ended"},
        {"event": "arm_failed", "client": "127.0.0.9", "pid": pid, "reason": "it broke"},
    ]


def test_uncaught_exceptions_reach_the_backend_only_while_armed(
    rigs: t.Callable[..., Rig],
) -> None:
    """An exception is handed to the backend during a window, and not after it."""
    rig = rigs()
    error = ValueError("boom")
    excinfo = (ValueError, error, None)
    assert rig.gate.arm(CLIENT) is True
    rig.gate.report_uncaught(excinfo)
    rig.gate.expire()
    rig.gate.report_uncaught(excinfo)
    assert rig.backend.calls == ["start", "report_uncaught ValueError", "close"]


def test_waiting_for_an_ide_needs_a_bridge(rigs: t.Callable[..., Rig]) -> None:
    """REMOTEDBG_WAIT does not hold a request when the backend has no bridge to attach through."""
    rig = rigs(overrides={"wait": 600})
    started = time.monotonic()
    assert rig.gate.arm(CLIENT) is True
    assert time.monotonic() - started < 5

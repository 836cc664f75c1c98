"""A `Backend` that debugs nothing: it records what the gate asked, and fails when told to.

debugpy cannot be stopped once started, so a test that arms it must run in a subprocess.
With this backend the gate's own rules (arming once, retries, expiry, fork reset, the audit
trail) are tested in-process, the way httpx's ``MockTransport`` tests a client.
"""

from __future__ import annotations

import threading
import typing as t

from ..errors import ArmError

if t.TYPE_CHECKING:
    import types

    from ..door.session import Upstream
    from .trace_scope import TraceScope

__all__ = ["FakeBackend"]


class FakeBackend:
    """Records calls in `calls`; `fail` makes the next starts raise ArmError with it.

    With `permanent`, a failing start also makes the failure permanent, as a debugpy whose
    own port would not close does. `started` is set by each successful start, for tests that
    wait on one; `on_start` and `on_close` run inside those calls, to observe the gate then.
    """

    name = "fake"
    address: tuple[str, int] | None = None
    tracing: TraceScope | None = None

    def __init__(
        self,
        *,
        needs_bridge: bool = False,
        fail: str | None = None,
        permanent: bool = False,
        on_start: t.Callable[[], None] | None = None,
        on_close: t.Callable[[], None] | None = None,
    ) -> None:
        self.needs_bridge = needs_bridge
        self.fail = fail
        self.permanent = permanent
        self.on_start = on_start
        self.on_close = on_close
        self.calls: list[str] = []
        self.started = threading.Event()
        self._failure: str | None = None
        self._lock = threading.Lock()  # starts and closes may come from several threads

    @property
    def permanent_failure(self) -> str | None:
        return self._failure

    def start(self) -> None:
        with self._lock:
            self.calls.append("start")
        if self.on_start is not None:
            self.on_start()
        if self.fail is not None:
            if self.permanent:
                self._failure = self.fail
            raise ArmError(self.fail)
        self.started.set()

    def close(self) -> None:
        with self._lock:
            self.calls.append("close")
        if self.on_close is not None:
            self.on_close()

    def upstream(self) -> Upstream:
        with self._lock:
            self.calls.append("upstream")
        raise ConnectionError("the fake backend has no debugger to connect to")

    def report_uncaught(
        self,
        excinfo: tuple[type[BaseException], BaseException, types.TracebackType | None],
    ) -> None:
        with self._lock:
            self.calls.append(f"report_uncaught {excinfo[0].__name__}")

    def describe(self, host: str, port: int, *, token: bool) -> tuple[str, str]:
        return f"fake debugger at {host}:{port}", "Nothing can run code through it."

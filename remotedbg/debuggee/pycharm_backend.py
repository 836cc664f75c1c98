"""Connect out to PyCharm's debug server, for PyCharm versions without "Attach to DAP".

``REMOTEDBG_BACKEND=pycharm`` with ``REMOTEDBG_IDE=host:port``: arming calls
``pydevd_pycharm.settrace()`` toward the IDE instead of opening a port, and the window's end
calls ``stoptrace()``. Nothing listens on the server at all; who may arm and for how long
are the same rules as for debugpy.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import typing as t

from ..errors import ArmError
from ..hidden_threads import run_bounded

if t.TYPE_CHECKING:
    import types

    from ..door.session import Upstream
    from .trace_scope import TraceScope

__all__ = ["PycharmBackend"]

INSTALL_HINT = (
    "pip install 'pydevd-pycharm~=<build>' with the build number from PyCharm's Help | About "
    "(or remotedbg[pycharm] for the newest)"
)


class PycharmBackend:
    """pydevd-pycharm's connection to the IDE, for one process.

    A `Backend` that needs no bridge: nothing listens here, the process connects out.
    """

    name = "pycharm"
    needs_bridge = False
    #: Failures here (no IDE listening, no pydevd-pycharm) may be fixed; none is permanent.
    permanent_failure = None
    #: pydevd-pycharm traces every thread; there is no per-request switch.
    tracing: TraceScope | None = None

    def __init__(self, ide: tuple[str, int], connect_timeout: float = 15.0) -> None:
        self.ide = ide
        self.connect_timeout = connect_timeout
        self.connected = False

    @property
    def address(self) -> tuple[str, int]:
        return self.ide

    def start(self) -> None:
        """Connect to the IDE's debug server; raises ArmError with the fix on any failure."""
        try:
            import pydevd_pycharm
        except ImportError:
            raise ArmError(f"pydevd-pycharm is not installed; {INSTALL_HINT}") from None
        self._check_same_pydevd(pydevd_pycharm.__file__)
        host, port = self.ide

        def connect() -> None:
            with _stderr_of_this_thread_swallowed():
                pydevd_pycharm.settrace(
                    host,
                    port=port,
                    suspend=False,
                    stdout_to_server=False,
                    stderr_to_server=False,
                    trace_only_current_thread=False,
                    patch_multiprocessing=False,
                )

        # settrace() waits for the IDE to say "run" after connecting; something else on that
        # port would hold the arming request forever.
        try:
            run_bounded(connect, "remotedbg-pycharm-connect", self.connect_timeout)
        except OSError as exc:
            raise ArmError(
                f"PyCharm's debug server does not answer at {host}:{port} ({exc.strerror or exc}); "
                "start the Python Debug Server run configuration, or fix REMOTEDBG_IDE"
            ) from None
        except TimeoutError:
            raise ArmError(
                f"{host}:{port} accepted the connection but started no debug session within "
                f"{self.connect_timeout:g}s; is it PyCharm's Python Debug Server?"
            ) from None
        self.connected = True

    @staticmethod
    def _check_same_pydevd(pycharm_file: str | None) -> None:
        """pydevd-pycharm and debugpy both ship a module named pydevd; only one may be loaded."""
        loaded = sys.modules.get("pydevd")
        if loaded is None or pycharm_file is None:
            return
        expected = os.path.dirname(os.path.abspath(pycharm_file))
        actual = os.path.dirname(os.path.abspath(getattr(loaded, "__file__", "") or ""))
        if actual != expected:
            raise ArmError(
                f"another pydevd is already loaded from {actual} (debugpy's?), which does not "
                f"match pydevd-pycharm in {expected}; do not import debugpy in this app when "
                "REMOTEDBG_BACKEND=pycharm"
            )

    def upstream(self) -> Upstream:
        raise ConnectionError("PyCharm's backend connects out to the IDE; nothing attaches here")

    def describe(self, host: str, port: int, *, token: bool) -> tuple[str, str]:
        return (
            f"connected out to PyCharm's debug server at {host}:{port}",
            "That IDE can run any code in this process until the window closes.",
        )

    def report_uncaught(
        self,
        excinfo: tuple[type[BaseException], BaseException, types.TracebackType | None],
    ) -> None:
        """Nothing to do: the gate only reported uncaught exceptions to debugpy."""

    def close(self) -> None:
        """The window ended: hang up on the IDE."""
        self.stop()

    def stop(self) -> None:
        if not self.connected:
            return
        import pydevd_pycharm

        pydevd_pycharm.stoptrace()
        # stoptrace() leaves pydevd's module-level `connected` set, and the next window's
        # settrace() would then skip connecting; settrace_forked() resets it the same way.
        pydevd = sys.modules.get("pydevd")
        if getattr(pydevd, "connected", False):
            pydevd.connected = False  # type: ignore[union-attr]
        self.connected = False


class _ThreadStderr:
    """sys.stderr for everyone, except one thread whose writes are dropped."""

    def __init__(self, real: t.TextIO) -> None:
        self.real = real
        self.ident = threading.get_ident()

    def write(self, text: str) -> int:
        if threading.get_ident() == self.ident:
            return len(text)
        return self.real.write(text)

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self.real, name)


@contextlib.contextmanager
def _stderr_of_this_thread_swallowed() -> t.Iterator[None]:
    """pydevd prints a full traceback when it cannot connect; we report it in one line."""
    real = sys.stderr
    proxy = _ThreadStderr(real)
    sys.stderr = proxy
    try:
        yield
    finally:
        if sys.stderr is proxy:
            sys.stderr = real

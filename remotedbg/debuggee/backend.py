"""What the gate needs from a debugger backend, and the choice of one from the settings.

A backend is the debugger of one process: debugpy (the IDE attaches through the bridge) or
PyCharm's pydevd (the process connects out to the IDE). The gate decides who may arm and for
how long; the backend only starts for a window and closes at its end. ``FakeBackend``
(``fake_backend.py``) implements the same protocol so the gate's rules are tested in-process.
"""

from __future__ import annotations

import typing as t

from ..errors import ArmError

if t.TYPE_CHECKING:
    import types

    from ..door.session import Upstream
    from ..settings import Settings
    from .trace_scope import TraceScope

__all__ = ["Backend", "backend_for"]


class Backend(t.Protocol):
    """One process's debugger, as the gate drives it."""

    #: The backend's name, for the audit trail ("debugpy", "pycharm").
    name: str
    #: True when IDEs attach through the bridge, which then calls `upstream()` per session.
    needs_bridge: bool

    @property
    def address(self) -> tuple[str, int] | None:
        """Where the IDE is, when the backend connects out to it; None if the IDE attaches."""

    @property
    def permanent_failure(self) -> str | None:
        """Why this process can never arm again, or None."""

    @property
    def tracing(self) -> TraceScope | None:
        """The per-request tracing switch the middleware flips while started, or None."""

    def start(self) -> None:
        """Start debugging for a window; raises ArmError if that cannot be done safely."""

    def close(self) -> None:
        """The window ended: no IDE keeps or regains control through this backend."""

    def upstream(self) -> Upstream:
        """A fresh session for the bridge; raises ConnectionError when there is none."""

    def report_uncaught(
        self,
        excinfo: tuple[type[BaseException], BaseException, types.TracebackType | None],
    ) -> None:
        """Stop the attached IDE on an exception the web server would swallow."""

    def describe(self, host: str, port: int, *, token: bool) -> tuple[str, str]:
        """The banner's two lines: where the debugger is, and who can now run code."""


def backend_for(settings: Settings) -> t.Callable[[], Backend]:
    """How the gate makes a process's backend, chosen once from `settings`.

    Making one starts nothing. For debugpy, its imports are done now, in the caller's
    thread, so that a first arm takes milliseconds.
    """
    if settings.backend == "pycharm":
        ide = settings.ide

        def pycharm() -> Backend:
            from .pycharm_backend import PycharmBackend

            if ide is None:
                raise ArmError("REMOTEDBG_BACKEND=pycharm needs REMOTEDBG_IDE=host:port")
            return PycharmBackend(ide)

        return pycharm

    from .debugpy_backend import DebugpyBackend

    if settings.dap_port:
        from .shared_door_backend import SharedDoorBackend, several_workers

        if several_workers():
            DebugpyBackend.preload("remotedbg.debuggee.door_link")
            return lambda: SharedDoorBackend(settings)
    DebugpyBackend.preload("remotedbg.door.bridge")
    return DebugpyBackend

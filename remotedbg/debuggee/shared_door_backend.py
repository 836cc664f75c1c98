"""debugpy in one worker of a multi-process server, behind the door all its workers share.

Each worker keeps its own pydevd, as in a single process (listener closed, secret demanded,
per-request tracing); what changes is the way in. Instead of a bridge of its own on the
public port, the worker joins the server's door (`door_link.py`), which owns the port and
opens a debug session into every worker while an IDE is attached. Its pydevd hands out ids
in a range of its own (its slot), so the door can tell the workers' threads, frames and
variables apart without reading what they say.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import sys
import typing as t
from functools import partial

from ..errors import ArmError
from .debugpy_backend import DebugpyBackend

if t.TYPE_CHECKING:
    from ..settings import Settings
    from .door_link import DoorLink

__all__ = ["STRIDE", "SharedDoorBackend", "several_workers"]

log = logging.getLogger("remotedbg")

#: Ids per worker: slot N's pydevd numbers from N * STRIDE + 1 (see sansio/worker_mux.py).
STRIDE = 1 << 24
#: How long a worker's first request may wait for the IDE's breakpoints to reach it.
CONFIGURE_TIMEOUT = 10.0


def several_workers() -> bool:
    """True in a worker process of a server that may run several (or replace this one).

    gunicorn forks its workers from an arbiter; uvicorn and hypercorn spawn theirs with
    multiprocessing; uWSGI runs the app in its workers. In all of these the process that
    happens to arm first may be gone long before the IDE is done.
    """
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        return True
    return any(name in sys.modules for name in ("gunicorn.arbiter", "uwsgi"))


class SharedDoorBackend(DebugpyBackend):
    """A `Backend`: the IDE attaches through the server's door, not through this process."""

    needs_bridge = False

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self._link: DoorLink | None = None
        self._secret = ""
        self._on_end: t.Callable[[str], None] | None = None
        self.window_left: float | None = None

    @property
    def address(self) -> tuple[str, int] | None:  # type: ignore[override]
        """The door's public address: where the IDE is, whichever worker it reaches."""
        return (self.settings.dap_host, self.settings.dap_port)

    def watch_end(self, callback: t.Callable[[str], None]) -> None:
        self._on_end = callback

    def start(self) -> None:
        from .door_link import DoorLink

        # First what can fail without side effects (this user's private directory).
        link = DoorLink(self.settings, on_open=self._open_session, on_close=self._door_closed)
        super().start()
        self._secret = secrets.token_hex(32)
        self._link = link  # before joining: the door may ask for a session at once
        try:
            # Ids are numbered in this worker's range before any session can start.
            welcome = link.join(self._secret, lambda w: _number_ids_from(w.slot * STRIDE + 1))
        except BaseException:
            self.close()
            raise
        if welcome.remaining <= 0:
            self.close()
            raise ArmError("the shared debugger window has just ended")
        self.window_left = welcome.remaining
        if welcome.session and not link.wait_configured(welcome.session, CONFIGURE_TIMEOUT):
            log.warning("remotedbg: the IDE's breakpoints did not reach this worker in time")

    def _open_session(self, session: int) -> None:
        link = self._link
        if link is None:
            return
        self.attach_session(link.open_session(session), self._secret)

    def _door_closed(self, reason: str) -> None:
        self._link = None
        if self._on_end is not None:
            self._on_end(reason)

    def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.leave()
        super().close()

    def describe(self, host: str, port: int, *, token: bool) -> tuple[str, str]:
        where, danger = super().describe(host, port, token=token)
        return (f"{where}, shared by the server's workers", danger)


def _number_ids_from(first: int) -> None:
    """pydevd's DAP ids (threads, frames, variables; sources) start at `first` from now on.

    Forgetting the earlier translations is safe: a worker joins with no session open.
    """
    schema = sys.modules.get("_pydevd_bundle._debug_adapter.pydevd_base_schema")
    files = sys.modules.get("pydevd_file_utils")
    base = getattr(schema, "BaseSchema", None)
    if base is None or files is None or not hasattr(base, "initialize_ids_translation"):
        raise ArmError("this debugpy numbers its ids in a way remotedbg cannot share")
    base.initialize_ids_translation()
    base._next_dap_id = partial(next, itertools.count(first))
    setattr(files, "_next_source_reference", partial(next, itertools.count(first)))  # noqa: B010

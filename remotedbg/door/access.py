"""Who may attach to the debugger, and until when: the rules the DAP bridge enforces.

The rules themselves are pure (``remotedbg.sansio.access_policy``); this module gives them
their clocks and a lock each, since request threads open windows while the bridge thread
checks peers. Shared by the in-process bridge and ``remotedbg bridge``.
"""

from __future__ import annotations

import threading
import time
import typing as t

from ..sansio.access_policy import (
    MAX_DELAY,
    TOKEN_FIELD,
    AccessRules,
    PeerDenial,
    Verdict,
    WindowState,
)

if t.TYPE_CHECKING:
    from datetime import datetime

    from ..sansio.addresses import AddressSet

__all__ = ["MAX_DELAY", "TOKEN_FIELD", "AccessPolicy", "Verdict", "Window"]


class Window:
    """The armed time window: opened by an allowlisted request, closed by time.

    One clock decides: whether the window is open, and when the expiry timer fires, are
    both read from `clock` (monotonic, like threading.Timer), so a request can never find
    the window over while the timer has yet to run, or the other way round. The wall clock
    only places the end for people (``expires_at``) and applies ``REMOTEDBG_UNTIL``.
    """

    def __init__(
        self,
        ttl: float,
        until: datetime | None = None,
        clock: t.Callable[[], float] = time.monotonic,
        wall: t.Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.wall = wall
        self._state = WindowState(ttl, until.timestamp() if until is not None else None)
        self._lock = threading.Lock()

    @property
    def ttl(self) -> float:
        return self._state.ttl

    @property
    def until(self) -> float | None:
        return self._state.until

    @property
    def expires_at(self) -> float | None:
        """The wall-clock end, for the banner and the status page; None while closed."""
        return self._state.expires_at

    def open(self) -> bool:
        """Start (or keep) the window; False once the absolute deadline has passed."""
        now, wall_now = self.clock(), self.wall()
        with self._lock:
            return self._state.open(now, wall_now)

    def close(self) -> None:
        with self._lock:
            self._state.close()

    def end_within(self, seconds: float) -> None:
        """End no later than `seconds` from now (the server's shared window decides)."""
        now, wall_now = self.clock(), self.wall()
        with self._lock:
            self._state.end_within(seconds, now, wall_now)

    def deadline_passed(self, wall_now: float | None = None) -> bool:
        """True once ``REMOTEDBG_UNTIL`` is past: nothing arms again."""
        return self._state.deadline_passed(self.wall() if wall_now is None else wall_now)

    def is_open(self) -> bool:
        return self._state.is_open(self.clock())

    def remaining(self) -> float:
        return self._state.remaining(self.clock())

    def expires_at_iso(self) -> str | None:
        """The end as ISO 8601 UTC, which is what the status page and banner show."""
        return self._state.expires_at_iso()


class AccessPolicy:
    """Peer, window and token checks, with wrong tokens slowing further checks down.

    `clock` is monotonic seconds; tests pass a fake one.
    """

    def __init__(
        self,
        allow: AddressSet,
        token: str | None,
        window: Window,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.clock = clock
        self._rules = AccessRules(allow, token, clock())
        self._lock = threading.Lock()  # guards the failure scores in `_rules`

    @property
    def allow(self) -> AddressSet:
        return self._rules.allow

    @property
    def token(self) -> str | None:
        return self._rules.token

    def peer_denial(self, peer: str) -> PeerDenial | None:
        """None if `peer` may start a DAP session now, else why it may not (typed)."""
        return self._rules.peer_denial(peer, self.window.is_open())

    def check_peer(self, peer: str) -> str | None:
        """None if `peer` may start a DAP session now, else the reason it may not."""
        denial = self.peer_denial(peer)
        return None if denial is None else denial.reason

    def verdict(self, peer: str, arguments: t.Mapping[str, object] | None) -> Verdict:
        """Judge the token in attach `arguments`; the caller waits `delay` before acting."""
        now = self.clock()
        with self._lock:
            return self._rules.verdict(peer, arguments, now)

    def check_token(self, peer: str, arguments: t.Mapping[str, object] | None) -> str | None:
        """None if the attach arguments carry the right token, else a message for the IDE.

        The verdict without its delay; the bridge calls `verdict` and waits.
        """
        return self.verdict(peer, arguments).problem

"""Who may attach to the debugger, and until when: the rules the DAP bridge enforces.

Kept apart from the bridge's sockets so that each rule can be tested directly and shared
by the in-process bridge and ``remotedbg bridge``. All methods are thread-safe: request
threads open windows while the bridge thread checks peers.
"""

from __future__ import annotations

import hmac
import threading
import time
import typing as t
from datetime import datetime, timezone

from .addresses import AddressSet, parse_address

__all__ = ["MAX_TOKEN_FAILURES", "AccessPolicy", "Window"]

#: Wrong tokens from one address before it is locked out for the rest of the window.
MAX_TOKEN_FAILURES = 5
#: The attach argument that carries the token.
TOKEN_FIELD = "remotedbgToken"  # noqa: S105 - the name of a field, not a secret


class Window:
    """The armed time window: opened by an allowlisted request, closed by time."""

    def __init__(
        self, ttl: float, until: datetime | None = None, clock: t.Callable[[], float] = time.time
    ) -> None:
        self.ttl = ttl
        self.until = until.timestamp() if until is not None else None
        self.clock = clock
        self.expires_at: float | None = None
        self._lock = threading.Lock()

    def open(self) -> bool:
        """Start (or extend) the window; False once the absolute deadline has passed."""
        now = self.clock()
        with self._lock:
            if self.deadline_passed(now):
                return False
            end = now + self.ttl
            if self.until is not None:
                end = min(end, self.until)
            if self.expires_at is None or self.expires_at <= now:
                self.expires_at = end
            return True

    def close(self) -> None:
        with self._lock:
            self.expires_at = None

    def deadline_passed(self, now: float | None = None) -> bool:
        return self.until is not None and (self.clock() if now is None else now) >= self.until

    def is_open(self) -> bool:
        expires_at = self.expires_at
        return expires_at is not None and self.clock() < expires_at

    def remaining(self) -> float:
        expires_at = self.expires_at
        return 0.0 if expires_at is None else max(0.0, expires_at - self.clock())

    def expires_at_iso(self) -> str | None:
        """The end as ISO 8601 UTC, which is what the status page and banner show."""
        if self.expires_at is None:
            return None
        moment = datetime.fromtimestamp(self.expires_at, tz=timezone.utc)
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


class AccessPolicy:
    """Peer, window and token checks, with a per-address lockout after wrong tokens."""

    def __init__(
        self,
        allow: AddressSet,
        token: str | None,
        window: Window,
        max_failures: int = MAX_TOKEN_FAILURES,
    ) -> None:
        self.allow = allow
        self.token = token
        self.window = window
        self.max_failures = max_failures
        self._failures: dict[str, int] = {}
        self._window_of_failures: float | None = None
        self._lock = threading.Lock()

    def _failures_now(self) -> dict[str, int]:
        # Lockouts last for the rest of the window: a new window forgives.
        if self._window_of_failures != self.window.expires_at:
            self._window_of_failures = self.window.expires_at
            self._failures = {}
        return self._failures

    def check_peer(self, peer: str) -> str | None:
        """None if `peer` may start a DAP session now, else the reason it may not."""
        address = parse_address(peer)
        if address is None or address not in self.allow:
            if address is not None and address.is_loopback:
                return (
                    "peer is not on the allowlist (SSH tunnels arrive from 127.0.0.1: add it "
                    "to REMOTEDBG_ALLOW to admit them)"
                )
            return "peer is not on the allowlist"
        if not self.window.is_open():
            return "no armed window"
        with self._lock:
            if self._failures_now().get(str(address), 0) >= self.max_failures:
                return f"locked out after {self.max_failures} wrong tokens"
        return None

    def check_token(self, peer: str, arguments: t.Mapping[str, object] | None) -> str | None:
        """None if the attach arguments carry the right token, else a message for the IDE."""
        if self.token is None:
            return None
        presented = (arguments or {}).get(TOKEN_FIELD)
        if presented is None:
            problem = f'the attach request has no "{TOKEN_FIELD}"'
        elif not isinstance(presented, str):
            problem = f'"{TOKEN_FIELD}" must be a string'
        elif hmac.compare_digest(presented.encode(), self.token.encode()):
            return None
        else:
            problem = f'the "{TOKEN_FIELD}" is wrong'
        key = str(parse_address(peer) or peer)
        with self._lock:
            failures = self._failures_now()
            failures[key] = failures.get(key, 0) + 1
            left = self.max_failures - failures[key]
        if left <= 0:
            return f"remotedbg: {problem}; this address is now locked out until the window ends"
        return (
            f"remotedbg: {problem}; add it to the attach configuration "
            f'("{TOKEN_FIELD}": "${{env:REMOTEDBG_TOKEN}}") or use `remotedbg attach` '
            f"({left} tries left)"
        )

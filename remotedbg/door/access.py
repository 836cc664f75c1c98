"""Who may attach to the debugger, and until when: the rules the DAP bridge enforces.

Kept apart from the bridge's sockets so that each rule can be tested directly and shared
by the in-process bridge and ``remotedbg bridge``. All methods are thread-safe: request
threads open windows while the bridge thread checks peers.

Wrong tokens slow guessing down; they never lock anyone out. Every SSH tunnel arrives from
127.0.0.1, so a lockout per address would let anyone on the server lock every developer
out. Instead, after a few wrong tokens from an address (or many from everywhere), each
token check waits a little longer, up to `MAX_DELAY`, and the failures fade with time. The
policy only says how long; the connection does the waiting, off the policy's lock.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone

from ..sansio.addresses import parse_address

if t.TYPE_CHECKING:
    from ..sansio.addresses import AddressSet

__all__ = ["MAX_DELAY", "AccessPolicy", "Verdict", "Window"]

#: The attach argument that carries the token.
TOKEN_FIELD = "remotedbgToken"  # noqa: S105 - the name of a field, not a secret
#: Wrong tokens from one address that cost nothing: a typo, a stale configuration.
FREE_FAILURES = 3
#: Wrong tokens from all addresses together that cost nothing.
FREE_GLOBAL_FAILURES = 30
#: Global failures beyond the free ones per doubling of everyone's delay.
GLOBAL_FAILURES_PER_DOUBLING = 4
#: The delay once the free failures are used up; it doubles with each further failure.
FIRST_DELAY = 0.25
#: No token check ever waits longer: guessing is slowed, never banned.
MAX_DELAY = 4.0
#: Failures fade with this half-life, so a developer is soon back to no delay.
FAILURE_HALF_LIFE = 60.0
#: Failure scores stop growing here: an attack that stops is forgotten within minutes.
MAX_SCORE = 64.0
#: Addresses whose failures are remembered; the one idle longest is forgotten first (the
#: global score still counts its failures).
MAX_TRACKED_ADDRESSES = 4096

#: Added to a refusal that waited; fixed text, so that audit lines about it coalesce.
_SLOW_DOWN = (
    f" (many wrong tokens lately, so each try waits up to {MAX_DELAY:g} s: slow down, then retry)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """An attach's token check: what to answer, and how long to wait before answering.

    The wait is fixed before the token is looked at, so its length says nothing about
    whether the token was right; the connection waits (asynchronously), never the policy.
    """

    #: None to admit, else the message for the IDE.
    problem: str | None
    #: Seconds to wait before acting on `problem`; 0.0 unless wrong tokens came lately.
    delay: float = 0.0
    #: Why there is a delay, for the audit log (a fixed phrase), or None.
    throttled: str | None = None


class _Score:
    """A failure count that halves every `FAILURE_HALF_LIFE` seconds."""

    __slots__ = ("at", "value")

    def __init__(self, now: float) -> None:
        self.value = 0.0
        self.at = now

    def now(self, now: float) -> float:
        """The decayed count at `now` (a clock that steps back decays nothing)."""
        elapsed = max(0.0, now - self.at)
        self.value *= math.pow(0.5, elapsed / FAILURE_HALF_LIFE)
        self.at = max(self.at, now)
        return self.value

    def add(self, now: float) -> None:
        self.value = min(MAX_SCORE, self.now(now) + 1.0)


def _delay(excess: float) -> float:
    """FIRST_DELAY once `excess` reaches 0, doubling per unit, capped at MAX_DELAY.

    Scores fade continuously, so "reaches 0" means "rounds to 0 or more": three quick
    failures are not forgiven because a few milliseconds passed.
    """
    if excess < -0.5:
        return 0.0
    return min(MAX_DELAY, FIRST_DELAY * math.pow(2.0, min(excess, 32.0)))


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
        self.ttl = ttl
        self.until = until.timestamp() if until is not None else None
        self.clock = clock
        self.wall = wall
        #: The wall-clock end, for the banner and the status page; None while closed.
        self.expires_at: float | None = None
        self._deadline: float | None = None  # the end on `clock`
        self._lock = threading.Lock()

    def open(self) -> bool:
        """Start (or keep) the window; False once the absolute deadline has passed."""
        now, wall_now = self.clock(), self.wall()
        with self._lock:
            if self.deadline_passed(wall_now):
                return False
            if self._deadline is None or self._deadline <= now:
                length = self.ttl
                if self.until is not None:
                    length = min(length, self.until - wall_now)
                self._deadline = now + length
                self.expires_at = wall_now + length
            return True

    def close(self) -> None:
        with self._lock:
            self.expires_at = self._deadline = None

    def deadline_passed(self, wall_now: float | None = None) -> bool:
        """True once ``REMOTEDBG_UNTIL`` is past: nothing arms again."""
        now = self.wall() if wall_now is None else wall_now
        return self.until is not None and now >= self.until

    def is_open(self) -> bool:
        deadline = self._deadline
        return deadline is not None and self.clock() < deadline

    def remaining(self) -> float:
        deadline = self._deadline
        return 0.0 if deadline is None else max(0.0, deadline - self.clock())

    def expires_at_iso(self) -> str | None:
        """The end as ISO 8601 UTC, which is what the status page and banner show."""
        if self.expires_at is None:
            return None
        moment = datetime.fromtimestamp(self.expires_at, tz=timezone.utc)
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


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
        self.allow = allow
        self.token = token
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        # Below: under the lock. Oldest-touched address first, so forgetting one is O(1).
        self._failures: dict[str, _Score] = {}
        self._global = _Score(clock())

    def check_peer(self, peer: str) -> str | None:
        """None if `peer` may start a DAP session now, else the reason it may not."""
        address = parse_address(peer)
        if address is None or address not in self.allow:
            if address is not None and address.is_loopback:
                if "127.0.0.1" in self.allow:
                    return (
                        "peer is not on the allowlist (REMOTEDBG_ALLOW admits 127.0.0.1 but "
                        "not this loopback address: connect from 127.0.0.1, or add it)"
                    )
                return (
                    "peer is not on the allowlist (SSH tunnels arrive from 127.0.0.1: add it "
                    "to REMOTEDBG_ALLOW to admit them)"
                )
            return "peer is not on the allowlist"
        if not self.window.is_open():
            return "no armed window"
        return None

    def verdict(self, peer: str, arguments: t.Mapping[str, object] | None) -> Verdict:
        """Judge the token in attach `arguments`; the caller waits `delay` before acting.

        The delay comes from wrong tokens before this one, from `peer` and from everyone;
        a wrong token here adds to both. A missing or misplaced token is a configuration
        mistake, not a guess: it waits like any check but does not count.
        """
        if self.token is None:
            return Verdict(problem=None)
        presented = (arguments or {}).get(TOKEN_FIELD)
        right = isinstance(presented, str) and hmac.compare_digest(
            presented.encode("utf-8", "surrogatepass"), self.token.encode()
        )
        wrong = isinstance(presented, str) and not right
        key = str(parse_address(peer) or peer)
        now = self.clock()
        with self._lock:
            mine = self._failures.get(key)
            own = _delay(mine.now(now) - FREE_FAILURES) if mine is not None else 0.0
            excess = self._global.now(now) - FREE_GLOBAL_FAILURES
            everyone = _delay(excess / GLOBAL_FAILURES_PER_DOUBLING)
            if wrong:
                self._count_failure(key, now)
        delay = max(own, everyone)
        throttled = None
        if delay:
            throttled = "wrong tokens from this address" if own >= everyone else "wrong tokens"
        if presented is None:
            problem = f'the attach request has no "{TOKEN_FIELD}"'
        elif not isinstance(presented, str):
            problem = f'"{TOKEN_FIELD}" must be a string'
        elif right:
            return Verdict(problem=None, delay=delay, throttled=throttled)
        else:
            problem = f'the "{TOKEN_FIELD}" is wrong'
        message = (
            f"remotedbg: {problem}; add it to the attach configuration "
            f'("{TOKEN_FIELD}": "${{env:REMOTEDBG_TOKEN}}") or use `remotedbg attach`'
        )
        if delay:
            message += _SLOW_DOWN
        return Verdict(problem=message, delay=delay, throttled=throttled)

    def check_token(self, peer: str, arguments: t.Mapping[str, object] | None) -> str | None:
        """None if the attach arguments carry the right token, else a message for the IDE.

        The verdict without its delay; the bridge calls `verdict` and waits.
        """
        return self.verdict(peer, arguments).problem

    def _count_failure(self, key: str, now: float) -> None:
        score = self._failures.pop(key, None)
        if score is None:
            if len(self._failures) >= MAX_TRACKED_ADDRESSES:
                del self._failures[next(iter(self._failures))]
            score = _Score(now)
        self._failures[key] = score  # re-inserted: now the most recently touched
        score.add(now)
        self._global.add(now)

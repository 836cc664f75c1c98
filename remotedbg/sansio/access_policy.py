"""Who may attach to the debugger, and until when: the door's rules as pure decisions.

No clock is read and no lock is taken here: every method is told the time (`now`
monotonic seconds, `wall_now` epoch seconds), so each rule is tested with plain numbers.
``remotedbg.door.access`` wraps these objects with the clocks and the locks that the
request threads and the bridge thread share.

Wrong tokens slow guessing down; they never lock anyone out. Every SSH tunnel arrives from
127.0.0.1, so a lockout per address would let anyone on the server lock every developer
out. Instead, after a few wrong tokens from an address (or many from everywhere), each
token check waits a little longer, up to `MAX_DELAY`, and the failures fade with time. The
rules only say how long; the connection does the waiting.
"""

from __future__ import annotations

import enum
import hmac
import math
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone

from .addresses import parse_address

if t.TYPE_CHECKING:
    from .addresses import AddressSet

__all__ = [
    "MAX_DELAY",
    "TOKEN_FIELD",
    "AccessRules",
    "Denial",
    "PeerDenial",
    "Score",
    "Verdict",
    "WindowState",
    "delay_for",
]

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


class Denial(enum.Enum):
    """Why the rules turn an attach away: callers branch on this, people read the text."""

    PEER_NOT_ALLOWED = enum.auto()
    WINDOW_CLOSED = enum.auto()
    TOKEN_MISSING = enum.auto()
    TOKEN_NOT_STRING = enum.auto()
    TOKEN_WRONG = enum.auto()


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerDenial:
    """A peer that may not start a session now, and the reason as the audit log says it."""

    kind: Denial
    reason: str


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
    #: What is wrong with the token, when `problem` is set.
    denial: Denial | None = None


class Score:
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


def delay_for(excess: float) -> float:
    """FIRST_DELAY once `excess` reaches 0, doubling per unit, capped at MAX_DELAY.

    Scores fade continuously, so "reaches 0" means "rounds to 0 or more": three quick
    failures are not forgiven because a few milliseconds passed.
    """
    if excess < -0.5:
        return 0.0
    return min(MAX_DELAY, FIRST_DELAY * math.pow(2.0, min(excess, 32.0)))


class WindowState:
    """The armed window's arithmetic: a deadline on the monotonic clock, an end for people.

    Whether the window is open is decided on the monotonic clock alone (as the expiry timer
    is), so the two never disagree; the wall clock only places the end for people and
    applies the absolute ``until``.
    """

    __slots__ = ("deadline", "expires_at", "ttl", "until")

    def __init__(self, ttl: float, until: float | None = None) -> None:
        self.ttl = ttl
        #: ``REMOTEDBG_UNTIL`` as epoch seconds, or None.
        self.until = until
        #: The wall-clock end, for the banner and the status page; None while closed.
        self.expires_at: float | None = None
        #: The end on the monotonic clock; None while closed.
        self.deadline: float | None = None

    def open(self, now: float, wall_now: float) -> bool:
        """Start (or keep) the window; False once the absolute deadline has passed."""
        if self.deadline_passed(wall_now):
            return False
        if self.deadline is None or self.deadline <= now:
            length = self.ttl
            if self.until is not None:
                length = min(length, self.until - wall_now)
            self.deadline = now + length
            self.expires_at = wall_now + length
        return True

    def close(self) -> None:
        self.expires_at = self.deadline = None

    def end_within(self, seconds: float, now: float, wall_now: float) -> None:
        """An open window ends no later than `seconds` from now (a shared door's window,
        opened earlier by another worker, decides)."""
        if self.deadline is not None and now + seconds < self.deadline:
            self.deadline = now + seconds
            self.expires_at = wall_now + seconds

    def deadline_passed(self, wall_now: float) -> bool:
        """True once ``until`` is past: nothing arms again."""
        return self.until is not None and wall_now >= self.until

    def is_open(self, now: float) -> bool:
        deadline = self.deadline
        return deadline is not None and now < deadline

    def remaining(self, now: float) -> float:
        deadline = self.deadline
        return 0.0 if deadline is None else max(0.0, deadline - now)

    def expires_at_iso(self) -> str | None:
        """The end as ISO 8601 UTC, which is what the status page and banner show."""
        if self.expires_at is None:
            return None
        moment = datetime.fromtimestamp(self.expires_at, tz=timezone.utc)
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _token_matches(presented: str, token: str) -> bool:
    # Constant time: how long the comparison takes says nothing about the token.
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), token.encode())


class AccessRules:
    """Peer and token checks, with wrong tokens slowing further checks down.

    Not thread-safe on its own: `verdict` updates the failure scores.
    """

    def __init__(self, allow: AddressSet, token: str | None, now: float) -> None:
        self.allow = allow
        self.token = token
        # Oldest-touched address first, so forgetting one is O(1).
        self._failures: dict[str, Score] = {}
        self._global = Score(now)

    def peer_denial(self, peer: str, window_open: bool) -> PeerDenial | None:
        """None if `peer` may start a DAP session now, else why it may not."""
        address = parse_address(peer)
        if address is None or address not in self.allow:
            reason = "peer is not on the allowlist"
            if address is not None and address.is_loopback:
                if "127.0.0.1" in self.allow:
                    reason += (
                        " (REMOTEDBG_ALLOW admits 127.0.0.1 but not this loopback address:"
                        " connect from 127.0.0.1, or add it)"
                    )
                else:
                    reason += (
                        " (SSH tunnels arrive from 127.0.0.1: add it to REMOTEDBG_ALLOW to"
                        " admit them)"
                    )
            return PeerDenial(kind=Denial.PEER_NOT_ALLOWED, reason=reason)
        if not window_open:
            return PeerDenial(kind=Denial.WINDOW_CLOSED, reason="no armed window")
        return None

    def verdict(self, peer: str, arguments: t.Mapping[str, object] | None, now: float) -> Verdict:
        """Judge the token in attach `arguments`; the caller waits `delay` before acting.

        The delay comes from wrong tokens before this one, from `peer` and from everyone;
        a wrong token here adds to both. A missing or misplaced token is a configuration
        mistake, not a guess: it waits like any check but does not count.
        """
        if self.token is None:
            return Verdict(problem=None)
        presented = (arguments or {}).get(TOKEN_FIELD)
        right = isinstance(presented, str) and _token_matches(presented, self.token)
        key = str(parse_address(peer) or peer)
        mine = self._failures.get(key)
        own = delay_for(mine.now(now) - FREE_FAILURES) if mine is not None else 0.0
        excess = self._global.now(now) - FREE_GLOBAL_FAILURES
        everyone = delay_for(excess / GLOBAL_FAILURES_PER_DOUBLING)
        if isinstance(presented, str) and not right:
            self._count_failure(key, now)
        delay = max(own, everyone)
        throttled = None
        if delay:
            throttled = "wrong tokens from this address" if own >= everyone else "wrong tokens"
        if right:
            return Verdict(problem=None, delay=delay, throttled=throttled)
        if presented is None:
            denial, problem = Denial.TOKEN_MISSING, f'the attach request has no "{TOKEN_FIELD}"'
        elif not isinstance(presented, str):
            denial, problem = Denial.TOKEN_NOT_STRING, f'"{TOKEN_FIELD}" must be a string'
        else:
            denial, problem = Denial.TOKEN_WRONG, f'the "{TOKEN_FIELD}" is wrong'
        message = (
            f"remotedbg: {problem}; add it to the attach configuration "
            f'("{TOKEN_FIELD}": "${{env:REMOTEDBG_TOKEN}}") or use `remotedbg attach`'
        )
        if delay:
            message += _SLOW_DOWN
        return Verdict(problem=message, delay=delay, throttled=throttled, denial=denial)

    def _count_failure(self, key: str, now: float) -> None:
        score = self._failures.pop(key, None)
        if score is None:
            if len(self._failures) >= MAX_TRACKED_ADDRESSES:
                del self._failures[next(iter(self._failures))]
            score = Score(now)
        self._failures[key] = score  # re-inserted: now the most recently touched
        score.add(now)
        self._global.add(now)

"""Structured audit events on the ``remotedbg.audit`` logger.

A debugger port is a code-execution door, so whoever opened it, used it or was turned away
must be on record. Each event is one log line in ``key=value`` form (greppable, and read by
log shippers as logfmt) and carries the same fields as a dict in ``record.remotedbg`` for
handlers that want structure.

Refusals and faults are what a peer can cause at will, so a connect loop must not flood
the log. Per (event, peer, reason) the first `BURST` lines in each `INTERVAL` are written,
and at most `EVENT_BURST` lines per event in all (peers and reasons can vary); the rest are
counted, and the first audit event after their interval writes one ``event=suppressed``
line with the count. Arming, attaching, detaching and expiry are never suppressed.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

__all__ = ["AUDIT_LOGGER", "BURST", "EVENT_BURST", "INTERVAL", "Audit"]

AUDIT_LOGGER = "remotedbg.audit"

#: Events that mean someone was refused or something broke: logged at WARNING.
_WARNINGS = frozenset(
    {
        "arm_failed",
        "refused",
        "dropped",
        "token_rejected",
        "throttled",
        "fault",
        "expired",
        "suppressed",
    }
)
#: The warnings a peer can repeat at will: rate-limited. (Expiry happens once a window.)
_LIMITED = _WARNINGS - {"expired", "suppressed"}

#: Lines per (event, peer, reason) and interval before the rest are only counted.
BURST = 5
#: Lines per event and interval, over all peers and reasons.
EVENT_BURST = 50
#: Seconds a count runs before its suppressed lines are reported and it starts again.
INTERVAL = 60.0
#: Counts kept at most; beyond, the oldest is reported early and forgotten.
MAX_KEYS = 1024

_Key = tuple[str, str | None, str | None]  # (event, peer, reason)


def _logfmt(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\\') or not text.isprintable():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class _Count:
    """Lines written and suppressed for one key since `start`."""

    __slots__ = ("start", "suppressed", "written")

    def __init__(self, start: float) -> None:
        self.start = start
        self.written = 0
        self.suppressed = 0


class Audit:
    """Writes audit events; one instance per gate or bridge, so tests can give their own.

    Thread-safe; each event costs O(1) and at most `MAX_KEYS` counts are kept. `clock` is
    monotonic seconds; tests pass a fake one.
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        clock: t.Callable[[], float] = time.monotonic,
        interval: float = INTERVAL,
        burst: int = BURST,
        event_burst: int = EVENT_BURST,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.logger = logger or logging.getLogger(AUDIT_LOGGER)
        self.clock = clock
        self.interval = interval
        self.burst = burst
        self.event_burst = event_burst
        self.max_keys = max(1, max_keys)
        self._lock = threading.Lock()
        # Below: under the lock. Oldest start first: a count that restarts is re-inserted.
        self._keys: dict[_Key, _Count] = {}
        self._events: dict[str, _Count] = {}

    def __call__(self, event: str, **fields: object) -> None:
        record = {"event": event, **{k: v for k, v in fields.items() if v is not None}}
        peer, reason = fields.get("peer", fields.get("client")), fields.get("reason")
        key: _Key = (event, _text(peer), _text(reason))
        with self._lock:
            now = self.clock()
            reports = self._expired(now, limit=2)  # any event reports counts that are due
            allowed = event not in _LIMITED or self._allow(key, now, reports)
        for report in reports:
            self._write(report)
        if allowed:
            self._write(record)

    def after_fork(self) -> None:
        """In a forked child: a lock held by a parent's thread at the fork is never released."""
        self._lock = threading.Lock()

    def flush(self) -> None:
        """Report every suppressed count now, as if its interval were over."""
        with self._lock:
            reports = self._expired(None, limit=None)
        for report in reports:
            self._write(report)

    def _write(self, record: dict[str, object]) -> None:
        level = logging.WARNING if record["event"] in _WARNINGS else logging.INFO
        message = " ".join(f"{key}={_logfmt(value)}" for key, value in record.items())
        self.logger.log(level, "%s", message, extra={"remotedbg": record})

    def _allow(self, key: _Key, now: float, reports: list[dict[str, object]]) -> bool:
        """Count one `key` event; True if it is to be written. Under the lock."""
        count = self._keys.get(key)
        if count is not None and now - count.start >= self.interval:
            self._report(key, self._keys.pop(key), reports)
            count = None
        if count is None:
            if len(self._keys) >= self.max_keys:
                oldest = next(iter(self._keys))
                self._report(oldest, self._keys.pop(oldest), reports)
            count = self._keys[key] = _Count(now)
        overall = self._events.get(key[0])
        if overall is None:
            overall = self._events[key[0]] = _Count(now)
        if count.written >= self.burst:
            count.suppressed += 1
            return False
        if overall.written >= self.event_burst:
            overall.suppressed += 1
            return False
        count.written += 1
        overall.written += 1
        return True

    def _expired(self, now: float | None, limit: int | None) -> list[dict[str, object]]:
        """Reports for counts whose interval is over (all if `now` is None). Under the lock.

        Counts sit oldest first, so only the front is looked at, at most `limit` of them:
        each event adds at most one count and retires up to two, so none pile up.
        """
        reports: list[dict[str, object]] = []
        retired = 0
        while self._keys and (limit is None or retired < limit):
            key, count = next(iter(self._keys.items()))
            if now is not None and now - count.start < self.interval:
                break
            del self._keys[key]
            retired += 1
            self._report(key, count, reports)
        for event, overall in list(self._events.items()):  # one per event name: few
            if now is None or now - overall.start >= self.interval:
                del self._events[event]
                self._report((event, None, None), overall, reports)
        return reports

    def _report(self, key: _Key, count: _Count, reports: list[dict[str, object]]) -> None:
        if count.suppressed:
            event, peer, reason = key
            reports.append(
                {
                    "event": "suppressed",
                    "of": event,
                    **({"peer": peer} if peer is not None else {}),
                    "reason": reason if reason is not None else "from several peers or reasons",
                    "count": count.suppressed,
                    "interval": f"{self.interval:g}s",
                }
            )

"""Audit's rate limit, in memory with a fake clock: floods of refusals become a count."""

from __future__ import annotations

import logging
import threading
import typing as t

import pytest

from remotedbg.audit import BURST, EVENT_BURST, Audit


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lines(logging.Handler):
    """Keeps each audit record's fields and level."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[int, dict[str, t.Any]]] = []
        self.logger = logging.getLogger(f"remotedbg.audit.test-door{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelno, dict(record.__dict__["remotedbg"])))

    def events(self, name: str | None = None) -> list[dict[str, t.Any]]:
        return [fields for _, fields in self.records if name is None or fields["event"] == name]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lines() -> t.Iterator[Lines]:
    handler = Lines()
    yield handler
    handler.logger.removeHandler(handler)


@pytest.fixture
def audit(clock: Clock, lines: Lines) -> Audit:
    return Audit(lines.logger, clock=clock)


def test_a_flood_of_refusals_writes_a_few_lines_then_a_count(
    audit: Audit, clock: Clock, lines: Lines
) -> None:
    """500 identical refusals write BURST lines; the next interval opens with one count line."""
    for _ in range(500):
        audit("refused", peer="127.0.0.2", reason="peer is not on the allowlist")
    assert len(lines.events("refused")) == BURST
    assert not lines.events("suppressed")
    clock.now += 61
    audit("refused", peer="127.0.0.2", reason="peer is not on the allowlist")
    [summary] = lines.events("suppressed")
    assert summary == {
        "event": "suppressed",
        "of": "refused",
        "peer": "127.0.0.2",
        "reason": "peer is not on the allowlist",
        "count": 500 - BURST,
        "interval": "60s",
    }
    assert lines.events()[-1]["event"] == "refused"  # the count comes first
    assert len(lines.events("refused")) == BURST + 1


def test_count_is_reported_when_any_later_event_arrives(
    audit: Audit, clock: Clock, lines: Lines
) -> None:
    """Suppressed lines are counted out by the next event of any kind once their time is up."""
    for _ in range(20):
        audit("token_rejected", peer="127.0.0.1", reason="wrong")
    clock.now += 61
    audit("attached", peer="127.0.0.9")
    assert [e["count"] for e in lines.events("suppressed")] == [20 - BURST]


def test_info_events_are_never_suppressed(audit: Audit, lines: Lines) -> None:
    """Arming, attaching, detaching and expiry are all written, however many."""
    for _ in range(100):
        for event in ("armed", "attached", "detached", "expired"):
            audit(event, peer="127.0.0.1", reason="the same")
    assert len(lines.records) == 400


def test_levels_are_kept(audit: Audit, lines: Lines) -> None:
    """Refusals, throttling and drops are warnings; attaching is info."""
    audit("throttled", peer="127.0.0.1", reason="wrong tokens", delay=0.5)
    audit("dropped", peer="127.0.0.1", reason="too many")
    audit("attached", peer="127.0.0.1")
    assert [level for level, _ in lines.records] == [logging.WARNING] * 2 + [logging.INFO]


def test_each_peer_and_reason_has_its_own_allowance(audit: Audit, lines: Lines) -> None:
    """A flood from one peer does not hide another peer's refusals, or another reason's."""
    for _ in range(50):
        audit("refused", peer="127.0.0.2", reason="peer is not on the allowlist")
    audit("refused", peer="127.0.0.3", reason="peer is not on the allowlist")
    audit("refused", peer="127.0.0.2", reason="no armed window")
    assert len(lines.events("refused")) == BURST + 2


def test_varying_peers_and_reasons_still_hit_a_cap_per_event(audit: Audit, lines: Lines) -> None:
    """1000 refusals, each from a new peer with a new reason, write at most EVENT_BURST lines."""
    for n in range(1000):
        audit("refused", peer=f"10.0.{n // 256}.{n % 256}", reason=f"reason {n}")
    assert len(lines.events("refused")) == EVENT_BURST
    audit.flush()
    assert sum(e["count"] for e in lines.events("suppressed")) == 1000 - EVENT_BURST


def test_memory_is_bounded(clock: Clock, lines: Lines) -> None:
    """However many keys arrive, only max_keys counts are kept; the oldest is reported first."""
    audit = Audit(lines.logger, clock=clock, max_keys=100, event_burst=10**6)
    for n in range(2000):
        for _ in range(BURST + 1):
            audit("fault", peer=f"10.1.{n // 256}.{n % 256}", reason="boom")
    assert len(audit._keys) <= 100
    assert len(lines.events("suppressed")) == 2000 - 100
    audit.flush()
    assert sum(e["count"] for e in lines.events("suppressed")) == 2000


def test_threads_lose_no_count(audit: Audit, lines: Lines) -> None:
    """Eight threads refusing at once: lines written plus lines counted equal events sent."""
    barrier = threading.Barrier(8)

    def flood() -> None:
        barrier.wait()
        for _ in range(1000):
            audit("refused", peer="127.0.0.2", reason="peer is not on the allowlist")

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    audit.flush()
    written = len(lines.events("refused"))
    counted = sum(e["count"] for e in lines.events("suppressed"))
    assert (written, written + counted) == (BURST, 8000)

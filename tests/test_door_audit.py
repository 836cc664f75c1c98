"""Audit's rate limit, in memory with a fake clock: floods of refusals become a count."""

from __future__ import annotations

import logging
import threading

import pytest

from remotedbg.audit import BURST, EVENT_BURST, Audit

from servers import AuditCapture, Clock


@pytest.fixture
def audit(clock: Clock, audit_log: AuditCapture) -> Audit:
    return Audit(audit_log.logger, clock=clock)


def test_a_flood_of_refusals_writes_a_few_lines_then_a_count(
    audit: Audit, clock: Clock, audit_log: AuditCapture
) -> None:
    """500 identical refusals write BURST lines; the next interval opens with one count line."""
    for _ in range(500):
        audit("refused", peer="127.0.0.2", reason="peer is not on the allowlist")
    assert len(audit_log.events("refused")) == BURST
    assert not audit_log.events("suppressed")
    clock.now += 61
    audit("refused", peer="127.0.0.2", reason="peer is not on the allowlist")
    [summary] = audit_log.events("suppressed")
    assert summary == {
        "event": "suppressed",
        "of": "refused",
        "peer": "127.0.0.2",
        "reason": "peer is not on the allowlist",
        "count": 500 - BURST,
        "interval": "60s",
    }
    assert audit_log.events()[-1]["event"] == "refused"  # the count comes first
    assert len(audit_log.events("refused")) == BURST + 1


def test_count_is_reported_when_any_later_event_arrives(
    audit: Audit, clock: Clock, audit_log: AuditCapture
) -> None:
    """Suppressed lines are counted out by the next event of any kind once their time is up."""
    for _ in range(20):
        audit("token_rejected", peer="127.0.0.1", reason="wrong")
    clock.now += 61
    audit("attached", peer="127.0.0.9")
    assert [e["count"] for e in audit_log.events("suppressed")] == [20 - BURST]


def test_info_events_are_never_suppressed(audit: Audit, audit_log: AuditCapture) -> None:
    """Arming, attaching, detaching and expiry are all written, however many."""
    for _ in range(100):
        for event in ("armed", "attached", "detached", "expired"):
            audit(event, peer="127.0.0.1", reason="the same")
    assert len(audit_log.records) == 400


def test_levels_are_kept(audit: Audit, audit_log: AuditCapture) -> None:
    """Refusals, throttling and drops are warnings; attaching is info."""
    audit("throttled", peer="127.0.0.1", reason="wrong tokens", delay=0.5)
    audit("dropped", peer="127.0.0.1", reason="too many")
    audit("attached", peer="127.0.0.1")
    assert audit_log.levels == [logging.WARNING] * 2 + [logging.INFO]


def test_each_peer_and_reason_has_its_own_allowance(audit: Audit, audit_log: AuditCapture) -> None:
    """A flood from one peer does not hide another peer's refusals, or another reason's."""
    for _ in range(50):
        audit("refused", peer="127.0.0.2", reason="peer is not on the allowlist")
    audit("refused", peer="127.0.0.3", reason="peer is not on the allowlist")
    audit("refused", peer="127.0.0.2", reason="no armed window")
    assert len(audit_log.events("refused")) == BURST + 2


def test_varying_peers_and_reasons_still_hit_a_cap_per_event(
    audit: Audit, audit_log: AuditCapture
) -> None:
    """1000 refusals, each from a new peer with a new reason, write at most EVENT_BURST lines."""
    for n in range(1000):
        audit("refused", peer=f"10.0.{n // 256}.{n % 256}", reason=f"reason {n}")
    assert len(audit_log.events("refused")) == EVENT_BURST
    audit.flush()
    assert sum(e["count"] for e in audit_log.events("suppressed")) == 1000 - EVENT_BURST


def test_memory_is_bounded(clock: Clock, audit_log: AuditCapture) -> None:
    """However many keys arrive, only max_keys counts are kept; the oldest is reported first."""
    audit = Audit(audit_log.logger, clock=clock, max_keys=100, event_burst=10**6)
    for n in range(2000):
        for _ in range(BURST + 1):
            audit("fault", peer=f"10.1.{n // 256}.{n % 256}", reason="boom")
    assert len(audit._keys) <= 100
    assert len(audit_log.events("suppressed")) == 2000 - 100
    audit.flush()
    assert sum(e["count"] for e in audit_log.events("suppressed")) == 2000


def test_threads_lose_no_count(audit: Audit, audit_log: AuditCapture) -> None:
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
    written = len(audit_log.events("refused"))
    counted = sum(e["count"] for e in audit_log.events("suppressed"))
    assert (written, written + counted) == (BURST, 8000)

"""AccessPolicy's token throttle, in memory with a fake clock: slowed down, never locked out."""

from __future__ import annotations

import threading

import pytest

from remotedbg.door.access import MAX_DELAY, TOKEN_FIELD, AccessPolicy, Verdict, Window
from remotedbg.sansio.addresses import AddressSet

from servers import Clock

TOKEN = "test-Vq3Xr8Lm2Kp9Tz4Wn7Bc6Hd"
RIGHT = {TOKEN_FIELD: TOKEN}
WRONG = {TOKEN_FIELD: "wrong"}


def make_policy(clock: Clock, token: str | None = TOKEN) -> AccessPolicy:
    window = Window(ttl=600)
    window.open()
    allow = AddressSet.parse(["127.0.0.0/8", "10.0.0.0/8"])
    return AccessPolicy(allow, token, window, clock=clock)


def wrong_tokens(policy: AccessPolicy, count: int, peer: str = "127.0.0.1") -> list[Verdict]:
    return [policy.verdict(peer, WRONG) for _ in range(count)]


@pytest.mark.parametrize("wrong", [5, 50, 5000])
def test_right_token_is_admitted_after_any_number_of_wrong_ones(clock: Clock, wrong: int) -> None:
    """After 5, 50 or 5000 wrong tokens the right one is admitted, after at most MAX_DELAY."""
    policy = make_policy(clock)
    wrong_tokens(policy, wrong)
    verdict = policy.verdict("127.0.0.1", RIGHT)
    assert verdict.problem is None
    assert 0 < verdict.delay <= MAX_DELAY <= 5
    assert policy.check_peer("127.0.0.1") is None


def test_first_wrong_tokens_cost_nothing_then_the_delay_grows_to_a_cap(clock: Clock) -> None:
    """Three wrong tokens are free; then each check waits longer, doubling up to MAX_DELAY."""
    policy = make_policy(clock)
    delays = [v.delay for v in wrong_tokens(policy, 10)]
    assert delays[:3] == [0.0, 0.0, 0.0]
    assert delays[3] == pytest.approx(0.25)
    assert delays[4] == pytest.approx(0.5)
    assert delays == sorted(delays)
    assert delays[-1] == MAX_DELAY


def test_the_delay_does_not_depend_on_the_token(clock: Clock) -> None:
    """Right and wrong tokens wait the same, so the wait tells a guesser nothing."""
    first, second = make_policy(clock), make_policy(clock)
    wrong_tokens(first, 6)
    wrong_tokens(second, 6)
    assert first.verdict("127.0.0.1", RIGHT).delay == second.verdict("127.0.0.1", WRONG).delay


def test_failures_fade_with_time(clock: Clock) -> None:
    """Ten minutes after fifty wrong tokens the address waits no more."""
    policy = make_policy(clock)
    wrong_tokens(policy, 50)
    clock.now += 600
    assert policy.verdict("127.0.0.1", RIGHT).delay == 0.0


def test_each_address_pays_for_its_own_wrong_tokens(clock: Clock) -> None:
    """Wrong tokens from one address do not slow another down while they are few overall."""
    policy = make_policy(clock)
    wrong_tokens(policy, 20, peer="127.0.0.2")
    assert policy.verdict("127.0.0.2", RIGHT).delay == MAX_DELAY
    assert policy.verdict("127.0.0.1", RIGHT).delay == 0.0


def test_many_wrong_tokens_overall_slow_everyone(clock: Clock) -> None:
    """Guesses spread over many addresses raise the delay for a fresh address too."""
    policy = make_policy(clock)
    for n in range(60):
        wrong_tokens(policy, 1, peer=f"10.0.0.{n}")
    verdict = policy.verdict("10.0.1.1", RIGHT)
    assert verdict.problem is None
    assert verdict.delay == MAX_DELAY
    assert verdict.throttled == "wrong tokens"


def test_messages_say_slow_down_not_locked_out(clock: Clock) -> None:
    """Refusals never talk of lockouts or tries left; throttled ones say to slow down."""
    policy = make_policy(clock)
    verdicts = wrong_tokens(policy, 8)
    messages = [v.problem or "" for v in verdicts]
    assert all("is wrong" in m and "locked" not in m and "tries" not in m for m in messages)
    assert "slow down, then retry" not in messages[0]
    assert "slow down, then retry" in messages[-1]
    assert verdicts[-1].throttled == "wrong tokens from this address"


def test_missing_or_misplaced_tokens_are_not_guesses(clock: Clock) -> None:
    """An attach without the token, or with a non-string one, does not count as a failure."""
    policy = make_policy(clock)
    for _ in range(20):
        assert "has no" in (policy.verdict("127.0.0.1", {}).problem or "")
        assert "must be a string" in (policy.verdict("127.0.0.1", {TOKEN_FIELD: 1}).problem or "")
    assert policy.verdict("127.0.0.1", RIGHT).delay == 0.0


def test_no_token_means_no_checks(clock: Clock) -> None:
    """Without a configured token every attach is admitted at once."""
    policy = make_policy(clock, token=None)
    assert policy.verdict("127.0.0.1", {}) == Verdict(problem=None)


def test_check_token_is_the_verdict_without_the_wait(clock: Clock) -> None:
    """check_token() returns the same message as verdict().problem."""
    policy = make_policy(clock)
    assert policy.check_token("127.0.0.1", RIGHT) is None
    assert policy.check_token("127.0.0.1", WRONG) == policy.verdict("127.0.0.1", WRONG).problem


def test_concurrent_checks_count_every_failure(clock: Clock) -> None:
    """Wrong tokens checked from several threads at once all count, as if one after another."""
    policy = make_policy(clock)
    peers = [f"127.0.0.{n}" for n in range(2, 6)]
    barrier = threading.Barrier(len(peers))

    def guess(peer: str) -> None:
        barrier.wait()
        wrong_tokens(policy, 6, peer=peer)

    threads = [threading.Thread(target=guess, args=(peer,)) for peer in peers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sequential = make_policy(clock)
    wrong_tokens(sequential, 6)
    expected = sequential.verdict("127.0.0.1", RIGHT).delay
    assert [policy.verdict(peer, RIGHT).delay for peer in peers] == [expected] * len(peers)

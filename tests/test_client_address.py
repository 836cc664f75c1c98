"""Which client a request came from: forwarding headers count only from trusted proxies."""

from __future__ import annotations

import ipaddress
import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remotedbg.addresses import AddressSet
from remotedbg.client_address import resolve_client

PROXY = AddressSet.parse(["10.0.0.1", "10.0.0.2"])
NONE = AddressSet()


def env(remote: str, **headers: str) -> dict[str, t.Any]:
    return {"REMOTE_ADDR": remote, **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}


@pytest.mark.parametrize(
    ("environ", "trusted", "expected"),
    [
        (env("203.0.113.7"), NONE, "203.0.113.7"),
        (env("::ffff:203.0.113.7"), NONE, "203.0.113.7"),
        # Spoofed headers from an untrusted peer never arm, even from loopback.
        (env("127.0.0.1", x_forwarded_for="127.0.0.1"), NONE, None),
        (env("127.0.0.2", x_forwarded_for="127.0.0.1"), NONE, None),
        (env("127.0.0.1", forwarded="for=127.0.0.1"), NONE, None),
        (env("127.0.0.1", x_real_ip="127.0.0.1"), NONE, None),
        (env("198.51.100.9", x_forwarded_for="203.0.113.7"), PROXY, None),
        # A trusted proxy: walk from the right, skipping trusted hops.
        (env("10.0.0.1", x_forwarded_for="203.0.113.7"), PROXY, "203.0.113.7"),
        (env("10.0.0.1", x_forwarded_for="1.1.1.1, 203.0.113.7"), PROXY, "203.0.113.7"),
        (env("10.0.0.1", x_forwarded_for="1.1.1.1, 203.0.113.7, 10.0.0.2"), PROXY, "203.0.113.7"),
        (env("10.0.0.1", x_forwarded_for="203.0.113.7:5555"), PROXY, "203.0.113.7"),
        (env("10.0.0.1", x_forwarded_for="[2001:db8::7]:80"), PROXY, "2001:db8::7"),
        (env("10.0.0.1", forwarded='for="[2001:db8::7]:4711";proto=https'), PROXY, "2001:db8::7"),
        (
            env("10.0.0.1", forwarded="for=1.1.1.1, for=203.0.113.7;by=10.0.0.1"),
            PROXY,
            "203.0.113.7",
        ),
        # All hops trusted: the leftmost is the client.
        (env("10.0.0.1", x_forwarded_for="10.0.0.2"), PROXY, "10.0.0.2"),
        # Unknowable: no hop header from a proxy, junk hops, disagreeing headers.
        (env("10.0.0.1"), PROXY, None),
        (env("10.0.0.1", x_real_ip="203.0.113.7"), PROXY, None),
        (env("10.0.0.1", x_forwarded_for="unknown"), PROXY, None),
        (env("10.0.0.1", forwarded="for=_hidden"), PROXY, None),
        (env("10.0.0.1", forwarded="proto=https"), PROXY, None),
        (env("10.0.0.1", forwarded="for=127.0.0.1", x_forwarded_for="203.0.113.7"), PROXY, None),
        (
            env("10.0.0.1", forwarded="for=203.0.113.7", x_forwarded_for="203.0.113.7"),
            PROXY,
            "203.0.113.7",
        ),
        (env(""), NONE, None),
        ({}, NONE, None),
        (env("unix:/tmp/sock"), NONE, None),
    ],
)
def test_resolution_table(
    environ: dict[str, t.Any], trusted: AddressSet, expected: str | None
) -> None:
    """Each case resolves to the expected client or to None (cannot know, never arm)."""
    result = resolve_client(environ, trusted)
    assert (str(result) if result is not None else None) == expected


ips = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))


@given(st.lists(ips, max_size=6), ips, st.sets(ips, max_size=4))
def test_walk_matches_reference(hops: list[str], peer: str, trusted_extra: set[str]) -> None:
    """The result equals a plain reference walk of the hop list from the right."""
    trusted_list = {peer} | trusted_extra
    trusted = AddressSet.parse(sorted(trusted_list))
    environ = env(peer, x_forwarded_for=", ".join(hops)) if hops else env(peer)
    chain = [*hops, peer]
    expected: str | None = None
    if hops:
        expected = chain[0]
        for hop in reversed(chain):
            if hop not in trusted_list:
                expected = hop
                break
    result = resolve_client(environ, trusted)
    assert (str(result) if result is not None else None) == expected


@given(ips, st.text(max_size=40))
def test_untrusted_peer_with_any_header_never_resolves(peer: str, header: str) -> None:
    """Whatever an untrusted peer writes in X-Forwarded-For, it resolves to nobody."""
    assert resolve_client(env(peer, x_forwarded_for=header), NONE) is None

"""Which client a request came from: forwarding headers count only from trusted proxies."""

from __future__ import annotations

import ipaddress
import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remotedbg.sansio.addresses import AddressSet
from remotedbg.sansio.client_address import (
    FORWARDING_HEADER_NAMES,
    forwarded_hops,
    resolve_client,
    resolve_client_from,
    x_forwarded_for_hops,
)

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


# -- the strict parser: what a visitor writes cannot swallow what a proxy appends ----------

#: Forwarded values a visitor sends, each ending inside a quoted string or a quoted-pair.
FORGED = [
    'for=127.0.0.1;by="',
    'for=127.0.0.1;by="\\',
    'for=127.0.0.1;by="x\\"',
    'for="127.0.0.1',
    'for=127.0.0.1;by=""x"',
    'for=127.0.0.1, for=127.0.0.1;by="',
    'FOR=127.0.0.1;BY="',
]
#: What a trusted proxy appends for the visitor it saw, 203.0.113.9 or 2001:db8::9.
APPENDED = ["for=203.0.113.9", 'for="[2001:db8::9]:4711"', "for=203.0.113.9;proto=https"]


@pytest.mark.parametrize("forged", FORGED)
@pytest.mark.parametrize("joiner", [", ", ",", " ,\t"])
@pytest.mark.parametrize("appended", APPENDED)
def test_unbalanced_quote_cannot_swallow_the_appended_hop(
    forged: str, joiner: str, appended: str
) -> None:
    """A visitor's open quote never hides the hop a trusted proxy appends: nobody resolves."""
    environ = env("10.0.0.1", forwarded=forged + joiner + appended)
    assert resolve_client(environ, PROXY) is None


@pytest.mark.parametrize("appended", APPENDED)
def test_unbalanced_quote_behind_two_appending_proxies(appended: str) -> None:
    """With two trusted proxies appending in turn, the forged hop is still never the client."""
    header = f'for=127.0.0.1;by=", {appended}, for=10.0.0.2'
    assert resolve_client(env("10.0.0.1", forwarded=header), PROXY) is None
    assert resolve_client(env("10.0.0.1", x_forwarded_for="1.1.1.1, 10.0.0.2"), PROXY) == (
        ipaddress.ip_address("1.1.1.1")
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('for=127.0.0.1;by="", for=203.0.113.9', ["127.0.0.1", "203.0.113.9"]),
        ('for=1.2.3.4;by="a\\"b, c;d=e", for=5.6.7.8', ["1.2.3.4", "5.6.7.8"]),
        ('For="\\[2001:db8::7\\]:80"', ["2001:db8::7"]),
        ('for="[::ffff:127.0.0.1]"', ["127.0.0.1"]),
        ('for="1.2.3.4:65535";proto=https;host="example.com:443"', ["1.2.3.4"]),
        (" \tfor=1.2.3.4 \t,\t for=5.6.7.8 ", ["1.2.3.4", "5.6.7.8"]),
        ("by=10.0.0.1;for=1.2.3.4;ext-param!=x", ["1.2.3.4"]),
    ],
)
def test_forwarded_valid(header: str, expected: list[str]) -> None:
    """Well-formed RFC 7239 headers give every element's for= node, quoted-pairs undone."""
    assert forwarded_hops(header) == [ipaddress.ip_address(a) for a in expected]


@pytest.mark.parametrize(
    "header",
    [
        "",
        " ",
        'for=1.2.3.4;by="',  # unbalanced quote
        'for="1.2.3.4"x',  # junk after a quoted string
        'for="1.2.3.4" x',
        "for=1.2.3.4,",  # empty element
        ",for=1.2.3.4",
        "for=1.2.3.4,,for=5.6.7.8",
        "for=1.2.3.4;",  # empty pair
        "for=1.2.3.4;;proto=http",
        "for=1.2.3.4;for=5.6.7.8",  # a parameter twice
        "for=1.2.3.4;FOR=5.6.7.8",
        "for=1.2.3.4;proto=http;Proto=https",
        "proto=https",  # no for=
        "for=1.2.3.4, proto=https",
        "for=1.2.3.4 ;proto=https",  # whitespace where the RFC has none
        "for= 1.2.3.4",
        "for =1.2.3.4",
        "for=1.2.3.4:80",  # ':' is not a token character: must be quoted
        "for=[::1]",
        'for="2001:db8::1"',  # IPv6 must be bracketed
        'for="[2001:db8::1"',
        'for="[2001:db8::1]:"',
        'for="[2001:db8::1]:123456"',
        'for="[fe80::1%eth0]"',
        'for="[1.2.3.4]"',
        "for=unknown",
        'for="unknown:80"',
        "for=_hidden",
        'for="_hidden:_port"',
        'for="1.2.3.4:_port"',
        "for=01.2.3.4",
        "for=1.2.3.256",
        "for=1.2.3",
        "for=\u0661.\u0662.\u0663.\u0664",  # Arabic-Indic digits, which \d would match
        'for="[\uff10::1]"',  # a fullwidth digit
        'for="1.2.3.4\x00"',  # control characters
        "for=1.2.3.4\x7f",
        'for="1.2.3.4";by="\x01"',
        'for="1.2.3.4";by="caf\xe9"',  # obs-text is not needed to name a node
        "for=1.2.3.4\r\n, for=5.6.7.8",
        "=1.2.3.4",
        "for",
        "for=",
        'for=""',
        "for=1.2.3.4;by",
        "for=1.2.3.4=5",
        "for=1.2.3.4 for=5.6.7.8",
    ],
)
def test_forwarded_refused(header: str) -> None:
    """Anything not fully understood makes the whole header unusable, and nobody resolves."""
    assert forwarded_hops(header) is None
    appended = f"{header}, for=203.0.113.9"
    assert resolve_client(env("10.0.0.1", forwarded=appended), PROXY) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1.2.3.4", ["1.2.3.4"]),
        ("1.2.3.4:80, [2001:db8::1]:443,2001:db8::2", ["1.2.3.4", "2001:db8::1", "2001:db8::2"]),
        (" 1.2.3.4 ,\t[::1] ", ["1.2.3.4", "::1"]),
        ("::ffff:10.0.0.1", ["10.0.0.1"]),
    ],
)
def test_x_forwarded_for_valid(header: str, expected: list[str]) -> None:
    """X-Forwarded-For items are IPv4 or IPv6 addresses, optionally bracketed or with ports."""
    assert x_forwarded_for_hops(header) == [ipaddress.ip_address(a) for a in expected]


@pytest.mark.parametrize(
    "header",
    [
        "",
        "1.2.3.4,",
        ",1.2.3.4",
        "1.2.3.4,,5.6.7.8",
        '"1.2.3.4"',
        "unknown",
        "_hidden",
        "1.2.3.4 5.6.7.8",
        "1.2.3.4;5.6.7.8",
        "[1.2.3.4]",
        "[2001:db8::1",
        "2001:db8::1]",
        "fe80::1%eth0",
        "01.2.3.4",
        "1.2.3.4:",
        "1.2.3.4:123456",
        "1.2.3.4\x00",
        "for=1.2.3.4",
    ],
)
def test_x_forwarded_for_refused(header: str) -> None:
    """An X-Forwarded-For item that is not an address refuses the header, appended or not."""
    assert x_forwarded_for_hops(header) is None
    appended = f"{header}, 203.0.113.9"
    assert resolve_client(env("10.0.0.1", x_forwarded_for=appended), PROXY) is None


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("203.0.113.7", {}, "203.0.113.7"),
        (None, {}, None),
        ("10.0.0.1", {"x-forwarded-for": "203.0.113.7"}, "203.0.113.7"),
        ("10.0.0.1", {"forwarded": 'for=127.0.0.1;by=", for=203.0.113.9'}, None),
        ("127.0.0.1", {"true-client-ip": "127.0.0.1"}, None),
        ("127.0.0.1", {"cf-connecting-ip": ""}, None),
        ("10.0.0.1", {"x-real-ip": "203.0.113.7"}, None),
    ],
)
def test_resolve_client_from_headers(
    peer: str | None, headers: dict[str, str], expected: str | None
) -> None:
    """The framework-neutral entry point takes the peer and lower-case header names."""
    result = resolve_client_from(peer, headers, PROXY)
    assert (str(result) if result is not None else None) == expected


@given(
    st.sampled_from(["10.0.0.1", "127.0.0.1", "203.0.113.7", "", "junk"]),
    st.dictionaries(st.sampled_from(FORWARDING_HEADER_NAMES), st.text(max_size=30), max_size=3),
)
def test_wsgi_adapter_equals_the_neutral_function(peer: str, headers: dict[str, str]) -> None:
    """resolve_client(environ) is resolve_client_from on REMOTE_ADDR and the same headers."""
    environ = {"REMOTE_ADDR": peer}
    for name, value in headers.items():
        environ[f"HTTP_{name.upper().replace('-', '_')}"] = value
    assert resolve_client(environ, PROXY) == resolve_client_from(peer, headers, PROXY)

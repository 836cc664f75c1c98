"""AddressSet answers membership like a brute-force scan of `ipaddress` networks."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remotedbg.addresses import AddressSet, IPAddress, IPNetwork, parse_address, parse_network

v4_networks = st.builds(
    lambda addr, prefix: ipaddress.IPv4Network((addr, prefix), strict=False),
    st.integers(0, 2**32 - 1),
    st.integers(1, 32),
)
v6_networks = st.builds(
    lambda addr, prefix: ipaddress.IPv6Network((addr, prefix), strict=False),
    st.integers(0, 2**128 - 1),
    st.integers(1, 128),
)
v4_addresses = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
v6_addresses = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)


def brute_force(networks: list[IPNetwork], address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks if network.version == address.version)


@settings(max_examples=300)
@given(
    st.lists(st.one_of(v4_networks, v6_networks), max_size=20),
    st.lists(st.one_of(v4_addresses, v6_addresses), min_size=1, max_size=10),
)
def test_matches_brute_force(networks: list[IPNetwork], addresses: list[IPAddress]) -> None:
    """Membership equals a scan of every network, for random networks and addresses."""
    address_set = AddressSet(networks)
    for address in addresses:
        assert (address in address_set) is brute_force(networks, address)
        assert (str(address) in address_set) is brute_force(networks, address)


@settings(max_examples=200)
@given(st.lists(v4_networks, min_size=1, max_size=20), st.data())
def test_addresses_inside_networks_match(networks: list[IPNetwork], data: st.DataObject) -> None:
    """Every address drawn from inside a listed network is a member, also IPv4-mapped."""
    address_set = AddressSet(networks)
    network = data.draw(st.sampled_from(networks))
    offset = data.draw(st.integers(0, network.num_addresses - 1))
    address = network.network_address + offset
    assert address in address_set
    assert f"::ffff:{address}" in address_set


@pytest.mark.parametrize(
    ("entries", "address", "expected"),
    [
        (["127.0.0.1"], "127.0.0.1", True),
        (["127.0.0.1"], "127.0.0.2", False),
        (["127.0.0.1"], "::ffff:127.0.0.1", True),
        (["::ffff:127.0.0.1"], "127.0.0.1", True),
        (["10.0.0.0/8"], "10.255.255.255", True),
        (["10.0.0.0/8"], "11.0.0.0", False),
        (["2001:db8::/32"], "2001:db8::1", True),
        (["2001:db8::/32"], "2001:db9::1", False),
        (["::1"], "127.0.0.1", False),
        (["127.0.0.1"], "::1", False),
        (["fe80::/10"], "fe80::1%eth0", True),
        (["127.0.0.1"], "not-an-ip", False),
        (["127.0.0.1"], "", False),
        ([], "127.0.0.1", False),
    ],
)
def test_membership_table(entries: list[str], address: str, expected: bool) -> None:
    """Known cases: exact hosts, CIDR edges, families, mapped addresses and junk."""
    assert (address in AddressSet.parse(entries)) is expected


def test_non_address_objects_are_not_members() -> None:
    """Objects that are neither strings nor addresses are never members."""
    assert None not in AddressSet.parse(["0.0.0.0/1"])


@pytest.mark.parametrize(
    ("entries", "catch_all"),
    [
        (["0.0.0.0/0"], True),
        (["::/0"], True),
        (["0.0.0.0/1", "128.0.0.0/1"], True),
        (["::ffff:0:0/96"], True),
        (["10.0.0.0/8"], False),
        (["0.0.0.0/1"], False),
    ],
)
def test_covers_everything(entries: list[str], catch_all: bool) -> None:
    """A catch-all is recognised however it is split or spelt."""
    assert AddressSet.parse(entries).covers_everything() is catch_all


def test_parse_network_refuses_host_bits() -> None:
    """A CIDR with host bits set is a typo, not a wider network."""
    with pytest.raises(ValueError, match="host bits"):
        parse_network("10.0.0.1/8")


def test_parse_address_folds_mapped() -> None:
    """IPv4-mapped IPv6 addresses come back as IPv4."""
    assert parse_address("::ffff:192.0.2.1") == ipaddress.IPv4Address("192.0.2.1")
    assert parse_address("garbage") is None

"""AddressSet answers membership like a brute-force scan of `ipaddress` networks."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remotedbg.sansio.addresses import (
    NOT_PUBLIC,
    AddressSet,
    IPAddress,
    IPNetwork,
    parse_address,
    parse_network,
)

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


def brute_force_public(networks: list[IPNetwork], version: int) -> int:
    """Public addresses by CIDR nesting: two CIDRs are nested or disjoint, never crossing."""
    same = [n for n in networks if n.version == version]
    collapsed: list[IPNetwork] = list(ipaddress.collapse_addresses(same))  # type: ignore[type-var]
    private = [ipaddress.ip_network(text) for text in NOT_PUBLIC[version]]
    total = 0
    for network in collapsed:
        total += network.num_addresses
        for other in private:
            if network.subnet_of(other):  # type: ignore[arg-type]
                total -= network.num_addresses
            elif other.subnet_of(network):  # type: ignore[arg-type]
                total -= other.num_addresses
    return total


@settings(max_examples=300)
@given(st.lists(st.one_of(v4_networks, v6_networks), max_size=20))
def test_public_size_matches_cidr_arithmetic(networks: list[IPNetwork]) -> None:
    """The public count from merged ranges equals one from collapsed CIDRs and nesting."""
    address_set = AddressSet(networks)
    for version in (4, 6):
        assert address_set.public_size(version) == brute_force_public(networks, version)


@pytest.mark.parametrize(
    ("entries", "v4", "v6"),
    [
        (["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], 0, 0),
        (["100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"], 0, 0),
        (["fc00::/7", "fe80::/10", "::1"], 0, 0),
        (["0.0.0.0/0"], 2**32 - 2**24 * 2 - 2**22 - 2**20 - 2**16 * 2, 0),
        (["10.0.0.0/7"], 2**24, 0),
        (["203.0.113.0/24", "203.0.113.7"], 256, 0),
        (["2000::/3"], 0, 2**125),
        (["fc00::/6"], 0, 2**121 - 2**118),  # fe00::/7 is public but for fe80::/10
        (["::/0"], 0, 2**128 - 2**121 - 2**118 - 1),
    ],
)
def test_public_size_table(entries: list[str], v4: int, v6: int) -> None:
    """Private, loopback, link-local, CGNAT and unique-local space is not counted."""
    address_set = AddressSet.parse(entries)
    assert (address_set.public_size(4), address_set.public_size(6)) == (v4, v6)


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        (
            [f"{1 << (8 - bits)}.0.0.0/{bits}" for bits in range(8, 0, -1)],
            "4.24 billion public IPv4 addresses, more than a /8 (16.8 million)",
        ),
        (["11.0.0.0/8", "12.0.0.0/32"], "16.8 million public IPv4 addresses"),
        (["2000::/3"], "2^125 public IPv6 addresses, more than a /32 (2^96)"),
        (["2001:db8::/32", "2001:db9::/128"], "about 2^96 public IPv6 addresses"),
        (["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], None),
        (["11.0.0.0/8", "10.0.0.0/8", "fc00::/7"], None),
        (["198.51.0.0/16", "2001:db8:1234::/48"], None),
        (["2001:db8::/32"], None),
        ([], None),
    ],
)
def test_too_public(entries: list[str], reason: str | None) -> None:
    """More than a /8 of public IPv4 or a /32 of public IPv6 is too public, however split."""
    found = AddressSet.parse(entries).too_public()
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(reason)

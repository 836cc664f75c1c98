"""IP address sets with a lookup whose cost does not grow with the number of networks.

Networks are merged into sorted, disjoint integer ranges, one list per address family, so
a lookup is one bisection: 10,000 CIDRs cost about as much as one. IPv4-mapped IPv6
addresses (``::ffff:10.0.0.1``, what a dual-stack socket reports) are folded to IPv4, so
they match IPv4 entries and cannot slip past them.

The same ranges say how much of the internet a set admits (`AddressSet.too_public`), so a
near catch-all (every IPv4 network but 0.0.0.0/8, or ``2000::/3``) is refused like a real
one. "Not public" is narrow on purpose: only ranges a stranger's packets do not come from
(RFC 1918, shared CGNAT space, loopback, link-local, IPv6 unique-local). Everything else
counts as public, documentation, multicast and reserved ranges included, since counting
too much only refuses sets nobody needs.
"""

from __future__ import annotations

import ipaddress
import math
import typing as t
from bisect import bisect_right
from functools import lru_cache

__all__ = [
    "MAX_PUBLIC",
    "NOT_PUBLIC",
    "AddressSet",
    "IPAddress",
    "IPNetwork",
    "parse_address",
    "parse_network",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _fold(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return mapped
        if address.scope_id:
            return ipaddress.IPv6Address(int(address))
    return address


def parse_address(text: str) -> IPAddress | None:
    """The address in `text` folded to its canonical family, or None if it is not an IP."""
    try:
        return _fold(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def parse_network(text: str) -> IPNetwork:
    """Parse an IP or CIDR strictly; raises ValueError with ipaddress's explanation.

    Host bits must be zero (``10.0.0.1/8`` is refused): a CIDR with host bits set is almost
    always a typo, and quietly widening it would change what the user wrote.
    """
    text = text.strip()
    network = ipaddress.ip_network(text, strict=True)
    if isinstance(network, ipaddress.IPv6Network):
        mapped = network.network_address.ipv4_mapped
        if mapped is not None and network.prefixlen >= 96:
            return ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
    return network


def _merge(networks: t.Iterable[IPNetwork]) -> tuple[list[int], list[int]]:
    ranges = sorted((int(net.network_address), int(net.broadcast_address)) for net in networks)
    starts: list[int] = []
    ends: list[int] = []
    for start, end in ranges:
        if ends and start <= ends[-1] + 1:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


#: Ranges that are not the public internet, by IP version. They must not overlap.
NOT_PUBLIC: dict[int, tuple[str, ...]] = {
    4: (
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
    ),
    6: ("::1/128", "fc00::/7", "fe80::/10"),
}
#: The most public addresses a set may match, by IP version: a /8 of IPv4, a /32 of IPv6.
MAX_PUBLIC = {4: 2**24, 6: 2**96}
_NOT_PUBLIC_RANGES: dict[int, list[tuple[int, int]]] = {
    version: list(zip(*_merge(map(ipaddress.ip_network, texts)), strict=True))
    for version, texts in NOT_PUBLIC.items()
}


def _amount(count: int) -> str:
    """A count as people say it: ``4.24 billion``, ``2^96``, ``about 2^125``."""
    if count >= 10**12:
        exact = count & (count - 1) == 0
        return f"2^{count.bit_length() - 1}" if exact else f"about 2^{math.log2(count):.3g}"
    for size, word in ((10**9, "billion"), (10**6, "million"), (10**3, "thousand")):
        if count >= size:
            return f"{count / size:.3g} {word}"
    return str(count)


class AddressSet:
    """An immutable set of IP networks answering `address in set` in O(log n)."""

    __slots__ = ("_v4", "_v6", "contains_text", "networks")

    def __init__(self, networks: t.Iterable[IPNetwork] = ()) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(networks)
        self._v4 = _merge(n for n in self.networks if n.version == 4)
        self._v6 = _merge(n for n in self.networks if n.version == 6)
        # Request paths see the same few client strings over and over; parsing dominates.
        #: `text in self`, for the request path: skips the type dispatch of __contains__.
        self.contains_text = lru_cache(maxsize=4096)(self._contains_text)

    @classmethod
    def parse(cls, entries: t.Iterable[str]) -> AddressSet:
        return cls(parse_network(entry) for entry in entries)

    def __contains__(self, address: object) -> bool:
        if isinstance(address, str):
            return self.contains_text(address)
        if isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return self._contains(_fold(address))
        return False

    def _contains_text(self, text: str) -> bool:
        address = parse_address(text)
        return address is not None and self._contains(address)

    def _contains(self, address: IPAddress) -> bool:
        starts, ends = self._v4 if address.version == 4 else self._v6
        value = int(address)
        index = bisect_right(starts, value) - 1
        return index >= 0 and value <= ends[index]

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __len__(self) -> int:
        return len(self.networks)

    def __iter__(self) -> t.Iterator[IPNetwork]:
        return iter(self.networks)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AddressSet) and self.networks == other.networks

    def __hash__(self) -> int:
        return hash(self.networks)

    def __repr__(self) -> str:
        return f"AddressSet({', '.join(map(str, self.networks))})"

    def __str__(self) -> str:
        return ",".join(map(str, self.networks)) or "(none)"

    def covers_everything(self) -> bool:
        """True if the set holds every IPv4 or every IPv6 address, however it is split up."""
        return self._v4 == ([0], [2**32 - 1]) or self._v6 == ([0], [2**128 - 1])

    def public_size(self, version: int) -> int:
        """How many IPv`version` addresses the set matches outside the `NOT_PUBLIC` ranges.

        Merged ranges minus their overlaps with each not-public range: no address is visited.
        """
        starts, ends = self._v4 if version == 4 else self._v6
        total = 0
        for start, end in zip(starts, ends, strict=True):
            total += end - start + 1
            for low, high in _NOT_PUBLIC_RANGES[version]:
                total -= max(0, min(end, high) - max(start, low) + 1)
        return total

    def too_public(self) -> str | None:
        """Why the set matches too much of the internet (more than `MAX_PUBLIC`), or None.

        The answer reads like ``4.24 billion public IPv4 addresses, more than a /8 (16.8
        million)``.
        """
        for version, prefix in ((4, 8), (6, 32)):
            count, limit = self.public_size(version), MAX_PUBLIC[version]
            if count > limit:
                return (
                    f"{_amount(count)} public IPv{version} addresses, more than a "
                    f"/{prefix} ({_amount(limit)})"
                )
        return None

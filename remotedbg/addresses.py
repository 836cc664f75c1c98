"""IP address sets with a lookup whose cost does not grow with the number of networks.

Networks are merged into sorted, disjoint integer ranges, one list per address family, so
a lookup is one bisection: 10,000 CIDRs cost about as much as one. IPv4-mapped IPv6
addresses (``::ffff:10.0.0.1``, what a dual-stack socket reports) are folded to IPv4, so
they match IPv4 entries and cannot slip past them.
"""

from __future__ import annotations

import ipaddress
import typing as t
from bisect import bisect_right
from functools import lru_cache

__all__ = ["AddressSet", "IPAddress", "IPNetwork", "parse_address", "parse_network"]

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

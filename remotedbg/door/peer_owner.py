"""Which local user owns the other end of a loopback TCP connection; Linux only.

`remotedbg attach` adds the token to whatever connects to its local port, so on a shared
machine it must relay only its own user's connections. Linux lists every TCP socket in
``/proc/net/tcp`` and ``/proc/net/tcp6`` with the uid that created it: the peer of an
accepted loopback connection is the entry whose local address is our peer's address and
whose remote address is ours. Only a live (ESTABLISHED) entry counts: a socket its owner
has closed is listed with uid 0, which must not pass for root's.

The kernel's sock_diag interface answers the same question for one socket without writing
out the table (:mod:`.sock_diag`), and is asked first; the table is the fallback.

macOS and Windows have no such table to read cheaply (``lsof``/``netstat`` per connection
would be slow and parse-fragile), so there :func:`loopback_peer_uid` returns None and the
relay is for single-user machines, as its start-up text says.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
import typing as t

from . import sock_diag

__all__ = ["PROC_NET_TCP", "loopback_peer_uid", "owner_known_here", "parse_proc_net_tcp"]

PROC_NET_TCP = ("/proc/net/tcp", "/proc/net/tcp6")
_ESTABLISHED = "01"

Address = tuple[str, int]


def owner_known_here() -> bool:
    """Whether this platform can tell who owns a loopback peer (Linux, through /proc)."""
    return sys.platform.startswith("linux")


def _decode(field: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    """``0100007F:1F90`` -> (127.0.0.1, 8080): the kernel prints each 32-bit word natively."""
    hex_address, _, hex_port = field.partition(":")
    words = [int(hex_address[i : i + 8], 16) for i in range(0, len(hex_address), 8)]
    packed = struct.pack(f"={len(words)}I", *words)
    address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped, int(hex_port, 16)
    return address, int(hex_port, 16)


def _key(address: Address) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    ip = ipaddress.ip_address(address[0].split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip, int(address[1])


def _lines_with_port(text: str, port: int) -> t.Iterator[str]:
    """The table's lines that mention `port`, found at C speed.

    A busy server's table holds tens of thousands of lines (TIME_WAIT among them), and this
    runs for every connection to a door: splitting them all took 33 ms for 8,000 lines.
    """
    needle = f":{port:04X} "
    start = 0
    while (hit := text.find(needle, start)) >= 0:
        begin = text.rfind("\n", 0, hit) + 1
        end = text.find("\n", hit)
        end = len(text) if end < 0 else end
        yield text[begin:end]
        start = end


def parse_proc_net_tcp(text: str, *, peer: Address, local: Address) -> int | None:
    """The uid of the socket at `peer` connected to `local`, from a /proc/net/tcp* table.

    None when no live entry matches, or the table cannot be read as one.
    """
    want_local, want_remote = _key(peer), _key(local)
    for line in _lines_with_port(text, want_local[1]):
        fields = line.split()
        if len(fields) < 8 or fields[3] != _ESTABLISHED:
            continue
        try:
            if _decode(fields[1]) == want_local and _decode(fields[2]) == want_remote:
                return int(fields[7])
        except ValueError:
            continue
    return None


def loopback_peer_uid(peer: Address, local: Address) -> int | None:
    """The uid that owns the socket at `peer`, connected to our `local`; None if unknown.

    The kernel's exact lookup first (`sock_diag`); the /proc tables when it cannot say.
    """
    if not owner_known_here():
        return None
    source, destination = _key(peer), _key(local)
    uid = sock_diag.lookup_uid(source, destination)
    if uid is None and source[0].version == 4 and destination[0].version == 4:
        # The peer's socket may be an IPv6 one speaking to an IPv4-mapped address.
        mapped = (ipaddress.IPv6Address(f"::ffff:{source[0]}"), source[1])
        uid = sock_diag.lookup_uid(
            mapped, (ipaddress.IPv6Address(f"::ffff:{destination[0]}"), destination[1])
        )
    if uid is not None:
        return uid
    for path in PROC_NET_TCP:
        try:
            with open(path, encoding="ascii", errors="replace") as table:
                uid = parse_proc_net_tcp(table.read(), peer=peer, local=local)
        except OSError:
            continue
        if uid is not None:
            return uid
    return None

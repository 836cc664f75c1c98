"""Who owns one TCP socket, asked of the Linux kernel by its four addresses (sock_diag).

``/proc/net/tcp`` answers the same question, but the kernel writes out every socket of the
box to do it: on a busy server, tens of thousands of TIME_WAIT lines, about 100 ms per
connection to the door. sock_diag's exact lookup finds the one socket in the kernel's hash
table, in microseconds, and reports the uid that created it.

No library does this one query without a dependency far larger than it (pyroute2 dumps
sockets; psutil reads /proc), so the request and reply are packed here: `request()` and
`owner()` are pure and tested against /proc's answer for real connections; `lookup_uid()`
asks the kernel. Any surprise (no netlink, a refusal, a reply that does not describe the
socket asked for) is None, and the caller falls back to /proc.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

__all__ = ["lookup_uid", "owner", "request"]

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
TCP_ESTABLISHED = 1
#: Matches any socket cookie: the lookup is by addresses only.
_NO_COOKIE = 0xFFFFFFFF

#: struct nlmsghdr: length, type, flags, sequence, port id (native order).
_HEADER = struct.Struct("=IHHII")
#: struct inet_diag_req_v2 up to its socket id: family, protocol, extensions, pad, states.
_REQUEST = struct.Struct("=BBBBI")
#: struct inet_diag_msg up to its socket id: family, state, timer, retransmits.
_MESSAGE = struct.Struct("=BBBB")
#: After the socket id: expires, receive queue, send queue, uid, inode.
_MESSAGE_TAIL = struct.Struct("=IIIII")
_ID_SIZE = 48

Address = tuple[str, int]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def _socket_id(source: tuple[IP, int], destination: tuple[IP, int]) -> bytes:
    """struct inet_diag_sockid: ports and addresses in network order, then if and cookie."""
    (src, sport), (dst, dport) = source, destination
    return (
        struct.pack("!HH", sport, dport)
        + src.packed.ljust(16, b"\0")
        + dst.packed.ljust(16, b"\0")
        + struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE)
    )


def request(source: tuple[IP, int], destination: tuple[IP, int], sequence: int) -> bytes:
    """The netlink message asking for the TCP socket at `source` connected to `destination`."""
    family = socket.AF_INET if source[0].version == 4 else socket.AF_INET6
    body = _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_ESTABLISHED)
    body += _socket_id(source, destination)
    header = _HEADER.pack(_HEADER.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, sequence, 0)
    return header + body


def owner(
    reply: bytes, source: tuple[IP, int], destination: tuple[IP, int], sequence: int
) -> int | None:
    """The uid in the kernel's `reply` to `request(source, destination, sequence)`.

    None unless it describes exactly that socket, live: a closed socket is listed with
    uid 0, which must not pass for root's.
    """
    if len(reply) < _HEADER.size:
        return None
    length, kind, _flags, seq, _port = _HEADER.unpack_from(reply)
    if kind != SOCK_DIAG_BY_FAMILY or seq != sequence or length > len(reply):
        return None
    message = reply[_HEADER.size : length]
    if len(message) < _MESSAGE.size + _ID_SIZE + _MESSAGE_TAIL.size:
        return None
    family, state, _timer, _retransmits = _MESSAGE.unpack_from(message)
    expected_family = socket.AF_INET if source[0].version == 4 else socket.AF_INET6
    socket_id = message[_MESSAGE.size : _MESSAGE.size + _ID_SIZE]
    if family != expected_family or state != TCP_ESTABLISHED:
        return None
    if socket_id[:36] != _socket_id(source, destination)[:36]:  # ports and addresses
        return None
    *_, uid, _inode = _MESSAGE_TAIL.unpack_from(message, _MESSAGE.size + _ID_SIZE)
    return int(uid)


def lookup_uid(source: tuple[IP, int], destination: tuple[IP, int]) -> int | None:
    """Ask the kernel; None if it cannot say (see the module's docstring)."""
    family = getattr(socket, "AF_NETLINK", None)
    if family is None:
        return None
    sequence = 1
    try:
        with socket.socket(family, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as sock:
            sock.settimeout(1.0)
            sock.sendto(request(source, destination, sequence), (0, 0))
            reply, sender = sock.recvfrom(65536)
    except OSError:
        return None
    if sender[0] != 0:  # only the kernel (port id 0) answers for the kernel
        return None
    return owner(reply, source, destination, sequence)

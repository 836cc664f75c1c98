"""Who is at a connection's far end: the /proc/net/tcp reader, and the kernel's sock_diag lookup
that is asked first, checked against it."""

from __future__ import annotations

import ipaddress
import os
import pwd
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from remotedbg.door import sock_diag
from remotedbg.door.peer_owner import PROC_NET_TCP, _key, loopback_peer_uid, parse_proc_net_tcp

from servers import python_for

# The kernel prints each 32-bit word of an address in the machine's byte order; these
# samples were taken on a little-endian machine.
little_endian = pytest.mark.skipif(sys.byteorder != "little", reason="samples are little-endian")

HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n"
)
# The IDE at 127.0.0.1:56282 (uid 1000) connected to the relay at 127.0.0.1:42841 (uid 0),
# next to a listener, an old TIME_WAIT of the same pair (listed as uid 0) and noise.
TCP = HEADER + (
    "   0: 0100007F:A759 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0"
    "        0 30111 1 000000007f54c7f5 100 0 0 10 0\n"
    "   1: 0100007F:DBDA 0100007F:A759 01 00000000:00000000 00:00000000 00000000  1000"
    "        0 30113 1 000000000a324dbf 20 0 0 10 -1\n"
    "   2: 0100007F:A759 0100007F:DBDA 01 00000000:00000000 00:00000000 00000000     0"
    "        0 30114 1 00000000c439eb1d 20 0 0 10 -1\n"
    "   3: 0100007F:DBDB 0100007F:A759 06 00000000:00000000 03:000004D4 00000000     0"
    "        0 0 3 0000000050c0f42b\n"
    "   4: not a socket line\n"
    "   5: ZZZZZZZZ:DBDC 0100007F:A759 01 00000000:00000000 00:00000000 00000000     7"
    "        0 1 1 0000000050c0f42b\n"
)
TCP6 = HEADER + (
    "   0: 0000000000000000FFFF00000100007F:DBDA 0000000000000000FFFF00000100007F:A759 01 "
    "00000000:00000000 00:00000000 00000000  1001        0 30113 1 000000000a324dbf 20 0 0 10 -1\n"
    "   1: 00000000000000000000000001000000:9000 00000000000000000000000001000000:1F90 01 "
    "00000000:00000000 00:00000000 00000000  1002        0 30115 1 000000000a324dbf 20 0 0 10 -1\n"
)
IDE, RELAY = ("127.0.0.1", 56282), ("127.0.0.1", 42841)


@little_endian
def test_finds_the_peers_owner_not_ours() -> None:
    """The entry whose local end is the peer and remote end is us gives the uid, not our side's."""
    assert parse_proc_net_tcp(TCP, peer=IDE, local=RELAY) == 1000
    assert parse_proc_net_tcp(TCP, peer=RELAY, local=IDE) == 0


@little_endian
def test_closed_sockets_do_not_count() -> None:
    """A TIME_WAIT entry, listed with uid 0, is not taken for root's live connection."""
    assert parse_proc_net_tcp(TCP, peer=("127.0.0.1", 56283), local=RELAY) is None


@little_endian
def test_unknown_and_malformed_give_none() -> None:
    """No matching line, a garbled line, or an empty table: the owner is unknown."""
    assert parse_proc_net_tcp(TCP, peer=("127.0.0.1", 1), local=RELAY) is None
    assert parse_proc_net_tcp(TCP, peer=("127.0.0.1", 56284), local=RELAY) is None
    assert parse_proc_net_tcp("", peer=IDE, local=RELAY) is None
    assert parse_proc_net_tcp(HEADER + "garbage\n", peer=IDE, local=RELAY) is None


@little_endian
def test_ipv6_table() -> None:
    """tcp6 entries match, IPv4-mapped ones under either spelling of the address."""
    assert parse_proc_net_tcp(TCP6, peer=IDE, local=RELAY) == 1001
    mapped = ("::ffff:127.0.0.1", 56282), ("::ffff:127.0.0.1", 42841)
    assert parse_proc_net_tcp(TCP6, peer=mapped[0], local=mapped[1]) == 1001
    assert parse_proc_net_tcp(TCP6, peer=("::1", 0x9000), local=("::1", 8080)) == 1002


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_real_connection_is_ours() -> None:
    """This process's own live loopback connection is found as ours; a closed one is unknown."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, peer = server.accept()
        with accepted:
            local = accepted.getsockname()
            assert loopback_peer_uid(peer, local) == os.getuid()
            client.close()
            time.sleep(0.05)
            assert loopback_peer_uid(peer, local) is None


# The kernel's exact lookup (sock_diag), checked against /proc's answer for the same sockets.

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's sock_diag")


def _both_answers(peer: tuple[str, int], local: tuple[str, int]) -> tuple[int | None, int | None]:
    """(sock_diag's uid, /proc's uid) for the socket at `peer` connected to `local`."""
    diag = sock_diag.lookup_uid(_key(peer), _key(local))
    if diag is None and ":" not in peer[0]:  # an IPv6 socket speaking to a mapped address
        diag = sock_diag.lookup_uid(
            _key(("::ffff:" + peer[0], peer[1])), _key(("::ffff:" + local[0], local[1]))
        )
    tables = "".join(Path(path).read_text() for path in PROC_NET_TCP)
    return diag, parse_proc_net_tcp(tables, peer=peer, local=local)


@linux
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_the_kernel_names_our_own_connection_as_proc_does(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, 0), family=family) as server:
        client = socket.create_connection(server.getsockname()[:2])
        accepted, peer = server.accept()
        with accepted:
            local = accepted.getsockname()[:2]
            assert _both_answers(peer[:2], local) == (os.getuid(), os.getuid())
            assert _both_answers(local, peer[:2]) == (os.getuid(), os.getuid())
            client.close()
            time.sleep(0.05)
            assert _both_answers(peer[:2], local) == (None, None), "a closed end has no owner"


@linux
def test_the_kernel_names_another_users_connection_as_proc_does() -> None:
    try:
        uid = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no user called nobody")
    if os.getuid() != 0:
        pytest.skip("starting a process as nobody needs root")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        script = (
            f"import socket, time; s = socket.create_connection(('127.0.0.1', {port})); "
            "time.sleep(5)"
        )
        visitor = subprocess.Popen([python_for("nobody"), "-c", script], user="nobody", cwd="/")
        try:
            server.settimeout(20)
            accepted, peer = server.accept()
            with accepted:
                assert _both_answers(peer, accepted.getsockname()) == (uid, uid)
                assert loopback_peer_uid(peer, accepted.getsockname()) == uid
        finally:
            visitor.kill()
            visitor.wait()


SOURCE = (ipaddress.ip_address("127.0.0.1"), 56282)
DESTINATION = (ipaddress.ip_address("127.0.0.1"), 42841)


def _reply(
    *, sequence: int = 7, state: int = 1, uid: int = 1000, kind: int = 20, sport: int = 56282
) -> bytes:
    """A kernel reply describing the socket from SOURCE to DESTINATION (or not quite)."""
    message = struct.pack("=BBBB", socket.AF_INET, state, 0, 0)
    message += struct.pack("!HH", sport, DESTINATION[1])
    message += SOURCE[0].packed.ljust(16, b"\0") + DESTINATION[0].packed.ljust(16, b"\0")
    message += struct.pack("=III", 0, 1, 2) + struct.pack("=IIIII", 0, 0, 0, uid, 99)
    return struct.pack("=IHHII", 16 + len(message), kind, 0, sequence, 0) + message


def test_only_a_reply_about_the_socket_asked_for_names_an_owner() -> None:
    assert sock_diag.owner(_reply(), SOURCE, DESTINATION, 7) == 1000
    assert sock_diag.owner(_reply(sequence=8), SOURCE, DESTINATION, 7) is None
    assert sock_diag.owner(_reply(state=6, uid=0), SOURCE, DESTINATION, 7) is None  # TIME_WAIT
    assert sock_diag.owner(_reply(state=10), SOURCE, DESTINATION, 7) is None  # a listener
    assert sock_diag.owner(_reply(sport=1), SOURCE, DESTINATION, 7) is None
    assert sock_diag.owner(_reply(kind=2), SOURCE, DESTINATION, 7) is None  # NLMSG_ERROR
    assert sock_diag.owner(_reply()[:40], SOURCE, DESTINATION, 7) is None
    assert sock_diag.owner(b"", SOURCE, DESTINATION, 7) is None
    request = sock_diag.request(SOURCE, DESTINATION, 7)
    assert len(request) == 72
    assert struct.unpack_from("=IHHII", request) == (72, 20, 1, 7, 0)

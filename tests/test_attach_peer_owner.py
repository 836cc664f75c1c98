"""The /proc/net/tcp reader that tells `remotedbg attach` who is at a connection's far end."""

from __future__ import annotations

import os
import socket
import sys
import time

import pytest

from remotedbg.door.peer_owner import loopback_peer_uid, parse_proc_net_tcp

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

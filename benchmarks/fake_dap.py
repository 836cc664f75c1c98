"""A scripted DAP server that answers `variables` with a body of a given size, for transport tests.

    python fake_dap.py SIZE_BYTES [--bridge]

It prints its port, then serves until killed. With --bridge it also runs remotedbg's bridge
in front of itself, in the same process on its own thread, as in an armed app, and prints
the bridge's port on a second line.

It stands in for debugpy where only the bytes matter: debugpy itself takes far longer to
build a 10 MB response than any proxy takes to move it, which would hide the proxy's cost.
"""

from __future__ import annotations

import json
import socket
import sys
import threading

from remotedbg.sansio.dap_codec import NEED_DATA, Decoder, Request, encode, frame


def serve(conn: socket.socket, big: bytes) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    decoder = Decoder()
    seq = 0
    while data := conn.recv(65536):
        decoder.receive_data(data)
        while (msg := decoder.next_message()) not in (NEED_DATA, None):
            if not isinstance(msg, Request):
                continue
            seq += 1
            if msg.command == "variables":
                head = json.dumps(
                    {"seq": seq, "type": "response", "request_seq": msg.seq, "success": True,
                     "command": "variables"}
                )[:-1]  # fmt: skip
                conn.sendall(frame(head.encode() + b',"body":' + big + b"}"))
                continue
            reply = {"seq": seq, "type": "response", "request_seq": msg.seq, "success": True,
                     "command": msg.command, "body": {}}  # fmt: skip
            conn.sendall(encode(reply))
            if msg.command == "attach":
                seq += 1
                conn.sendall(encode({"seq": seq, "type": "event", "event": "initialized"}))
    conn.close()


def main() -> None:
    size = int(sys.argv[1])
    value = "x" * (size - 64)
    big = json.dumps({"variables": [{"name": "big", "value": value, "variablesReference": 0}]})
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    print(port, flush=True)
    if "--bridge" in sys.argv:
        from remotedbg.audit import Audit
        from remotedbg.door.access import AccessPolicy, Window
        from remotedbg.door.bridge import Bridge
        from remotedbg.sansio.addresses import AddressSet

        window = Window(3600)
        window.open()
        policy = AccessPolicy(AddressSet.parse(["127.0.0.1"]), None, window)
        bridge = Bridge(
            listen=("127.0.0.1", 0), upstream=lambda: ("127.0.0.1", port), policy=policy,
            audit=Audit(),
        )  # fmt: skip
        print(bridge.start()[1], flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, big.encode()), daemon=True).start()


if __name__ == "__main__":
    main()

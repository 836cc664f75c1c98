"""A small blocking DAP client for tests: what an IDE does, one request at a time.

Every wait is bounded, so a broken bridge fails a test instead of hanging it.
"""

from __future__ import annotations

import socket
import time
import typing as t

from remotedbg.sansio.dap_codec import NEED_DATA, Decoder, Message, encode, message_to_dict

__all__ = ["DAPClient", "initialize_arguments"]


def initialize_arguments() -> dict[str, t.Any]:
    """What VS Code sends in ``initialize``, trimmed."""
    return {
        "clientID": "vscode",
        "adapterID": "debugpy",
        "pathFormat": "path",
        "linesStartAt1": True,
        "columnsStartAt1": True,
    }


class DAPClient:
    """Connects, optionally from a chosen source address (any of 127.0.0.0/8 on Linux)."""

    def __init__(
        self, address: tuple[str, int], *, source: str | None = None, timeout: float = 10.0
    ) -> None:
        self.timeout = timeout
        source_address = (source, 0) if source is not None else None
        self.sock = socket.create_connection(address, timeout, source_address=source_address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.decoder = Decoder()
        self.seq = 0
        self.received: list[dict[str, t.Any]] = []  # everything, in order
        self.events: list[dict[str, t.Any]] = []  # not yet taken by wait_event()
        self.responses: dict[int, dict[str, t.Any]] = {}
        self.eof = False

    def __enter__(self) -> DAPClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, command: str, arguments: dict[str, t.Any] | None = None) -> int:
        self.seq += 1
        message: dict[str, t.Any] = {"seq": self.seq, "type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        self.sock.sendall(encode(message))
        return self.seq

    def request(
        self, command: str, arguments: dict[str, t.Any] | None = None, timeout: float | None = None
    ) -> dict[str, t.Any]:
        """Send a request and return its response; events that arrive meanwhile are kept."""
        seq = self.send(command, arguments)
        return self.wait_response(seq, timeout)

    def wait_response(self, seq: int, timeout: float | None = None) -> dict[str, t.Any]:
        self._read_until(lambda: seq in self.responses, timeout, f"response to request {seq}")
        return self.responses.pop(seq)

    def wait_event(self, name: str, timeout: float | None = None) -> dict[str, t.Any]:
        """The first event called `name`, received already or within `timeout`."""
        found: list[dict[str, t.Any]] = []

        def take() -> bool:
            for event in self.events:
                if event["event"] == name:
                    self.events.remove(event)
                    found.append(event)
                    return True
            return False

        self._read_until(take, timeout, f"event {name!r}")
        return found[0]

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Read until the peer closes; True on a clean close, False on a reset."""
        try:
            self._read_until(lambda: self.eof, timeout, "the connection to close")
        except ConnectionResetError:
            return False
        return True

    def read_some(self, timeout: float | None = None) -> int:
        """One recv() into the decoder; how many bytes came (0 at EOF)."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        data = self.sock.recv(256 * 1024)
        self._receive(data)
        return len(data)

    def recv_raw(self, timeout: float | None = None) -> bytes:
        """One recv(): b"" means the peer closed without a byte."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        return self.sock.recv(65536)

    def _read_until(self, done: t.Callable[[], bool], timeout: float | None, what: str) -> None:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not done():
            if self.eof:
                raise EOFError(f"connection closed while waiting for {what}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} within the timeout; got {self.received!r}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(256 * 1024)
            except TimeoutError:
                continue
            self._receive(data)

    def _receive(self, data: bytes) -> None:
        self.decoder.receive_data(data)
        while True:
            msg = self.decoder.next_message()
            if msg is NEED_DATA:
                return
            if msg is None:
                self.eof = True
                return
            self._store(msg)

    def _store(self, msg: Message) -> None:
        obj = message_to_dict(msg)
        self.received.append(obj)
        if obj["type"] == "response":
            self.responses[obj["request_seq"]] = obj
        elif obj["type"] == "event":
            self.events.append(obj)

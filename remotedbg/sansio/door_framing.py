"""Debugger -> IDE bytes, passed on as they arrive with frame boundaries tracked.

Each header is checked whole by the codec before it goes out; the body then passes in
whatever pieces the socket delivers, so a 10 MB variable never waits to be complete and is
never JSON-decoded. While answers are awaited (`watch`) whole frames go through the
decoder instead, and the door's own answers are kept from the IDE. Modes switch only
between frames, so the IDE's stream is always well formed.
"""

from __future__ import annotations

from ..errors import MissingContentLength, TruncatedMessage
from .dap_codec import DEFAULT_MAX_HEADER_SIZE, Decoder, Response, frame, parse_message

__all__ = ["PEEK_LIMIT", "FrameTracker"]

#: Debugger frames larger than this are never parsed: the answers we wait for are tiny.
PEEK_LIMIT = 64 * 1024


class FrameTracker:
    """Cuts the debugger's byte stream into what goes to the IDE and the answers we await.

    After `feed`, `out` holds what to send to the IDE (memoryviews of the fed bytes where
    possible: no copies) and `answers` the awaited responses; the caller empties both.
    """

    __slots__ = (
        "_header",
        "_hushing",
        "_left",
        "_watched",
        "answers",
        "decoder",
        "forwarding",
        "hushed",
        "out",
    )

    def __init__(self) -> None:
        self.forwarding = True
        self.decoder = Decoder()
        self.out: list[bytes | memoryview] = []
        self.answers: list[Response] = []
        #: True once a `hush` took effect: the IDE's stream ended between two frames.
        self.hushed = False
        self._hushing = False
        self._watched: dict[int, bool] = {}  # request seq -> kept from the IDE
        self._header = bytearray()  # an incomplete header, not yet forwarded
        self._left = 0  # body bytes of the current frame still to come

    def watch(self, seq: int, *, private: bool = False) -> None:
        """Collect the debugger's answer to request `seq`; a private one is not forwarded."""
        self._watched[seq] = private

    def hush(self) -> bool:
        """Stop forwarding at the next frame boundary; True if that is now."""
        self._hushing = True
        self._check_hush()
        return self.hushed

    def feed(self, data: bytes) -> None:
        """Take a read; raises a ProtocolError for bytes that are not DAP frames."""
        view = memoryview(data)
        while view:
            at_boundary = not self._left and not self._header
            if self.decoder.pending or (self._watched and at_boundary):
                self.decoder.receive_data(bytes(view))
                self._feed_decoded()
                return
            view = view[self._pass(view) :]
            self._check_hush()

    def feed_eof(self) -> None:
        """The debugger closed: raises TruncatedMessage if it stopped mid-frame."""
        if self.decoder.pending:
            self.decoder.receive_data(b"")
            self._feed_decoded()  # raises TruncatedMessage
        elif self._left or self._header:
            raise TruncatedMessage("the debugger closed the connection in the middle of a message")

    def _feed_decoded(self) -> None:
        body = self.decoder.next_body()
        while isinstance(body, bytes):
            if not self._answer(body):
                self._out(frame(body))
            body = self.decoder.next_body()

    def _answer(self, body: bytes) -> bool:
        """Collect a watched answer; True if it is the door's alone."""
        if not self._watched or len(body) > PEEK_LIMIT:
            return False
        msg = parse_message(body)
        if not isinstance(msg, Response) or msg.request_seq not in self._watched:
            return False
        self.answers.append(msg)
        return self._watched.pop(msg.request_seq)

    def _pass(self, view: memoryview) -> int:
        """Forward what of `view` can go out now; return how many of its bytes were used."""
        if self._left:
            piece = view[: self._left]
            self._left -= len(piece)
            self._out(piece)
            return len(piece)
        seen = len(self._header)
        self._header += view[:DEFAULT_MAX_HEADER_SIZE]
        end = self._header.find(b"\r\n\r\n", max(0, seen - 3))
        if end < 0:
            if len(self._header) >= DEFAULT_MAX_HEADER_SIZE:
                announced_length(bytes(self._header))  # raises MessageTooLarge
            return len(self._header) - seen
        header = bytes(self._header[: end + 4])
        self._header.clear()
        self._left = announced_length(header)
        self._out(header)
        return len(header) - seen

    def _out(self, data: bytes | memoryview) -> None:
        if self.forwarding:
            self.out.append(data)

    def _check_hush(self) -> None:
        if self._hushing and not self._left:
            self._hushing = False
            self.forwarding = False
            self.hushed = True


def announced_length(header: bytes) -> int:
    """The body length a header block announces, validated by the codec's own rules."""
    decoder = Decoder()
    decoder.receive_data(header)
    decoder.next_body()  # raises a ProtocolError for a malformed or oversized header
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            return int(value.strip(b" \t"))
    raise MissingContentLength("no Content-Length")  # unreachable: the decoder checked

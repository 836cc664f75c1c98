"""One debugger connection as the door's conversation sees it.

What is per debugger process lives here (its framing, the answer the door awaits, the
numbers of the door's own requests), so that one conversation can later hold several of
these, one per worker process, without its rules changing.
"""

from __future__ import annotations

from .dap_codec import Message, Request, Response, encode
from .door_events import Action, SendToClient, SendToUpstream
from .door_framing import FrameTracker
from .door_messages import guarded, without_token

__all__ = ["UpstreamLink"]


class UpstreamLink:
    """The door's side of one debugger connection: what to send it, what came back."""

    __slots__ = ("awaiting", "guarded", "last_seq", "number", "tracker")

    def __init__(self, number: int = 0) -> None:
        self.number = number
        #: Breakpoints get the "developer's request" condition (breakpoint_guard.py).
        self.guarded = False
        self.tracker = FrameTracker()
        #: The request whose answer moves the conversation on, if any.
        self.awaiting: int | None = None
        #: Highest request seq sent: the door's own requests must not collide with them.
        self.last_seq = 0

    def send(self, msg: Message) -> SendToUpstream:
        if isinstance(msg, Request):
            self.last_seq = max(self.last_seq, msg.seq)
        msg = without_token(msg)
        return SendToUpstream(
            data=encode(guarded(msg) if self.guarded else msg), upstream=self.number
        )

    def ask(self, request: Request) -> SendToUpstream:
        """One of the door's own requests; its answer is awaited and kept from the IDE."""
        self.tracker.watch(request.seq, private=True)
        self.awaiting = request.seq
        return self.send(request)

    def forward(self, msg: Message) -> SendToUpstream:
        """An IDE message; a ``disconnect``'s answer (which the IDE gets too) is awaited."""
        if isinstance(msg, Request) and msg.command == "disconnect":
            self.tracker.watch(msg.seq)
            self.awaiting = msg.seq
        return self.send(msg)

    def release(self) -> list[SendToUpstream]:
        """Resume paused threads and detach: debugpy keeps them paused when its client goes."""
        go_on, detach = self.last_seq + 1, self.last_seq + 2
        self.tracker.watch(go_on, private=True)
        self.tracker.watch(detach, private=True)
        self.awaiting = detach
        return [
            self.send(Request(go_on, "continue", {"threadId": 0})),
            self.send(Request(detach, "disconnect", {"terminateDebuggee": False})),
        ]

    def receive(self, data: bytes, out: list[Action]) -> Response | None:
        """Debugger bytes: what the IDE gets goes to `out`; returns the awaited answer.

        Raises a ProtocolError for bytes that are not DAP, after `out` got what came before.
        """
        try:
            self.tracker.feed(data)
        finally:
            self._collect(out)
        return self._awaited()

    def receive_eof(self, out: list[Action]) -> None:
        """Raises TruncatedMessage if the debugger stopped in the middle of a frame."""
        try:
            self.tracker.feed_eof()
        finally:
            self._collect(out)

    def _collect(self, out: list[Action]) -> None:
        pieces = self.tracker.out
        if pieces:
            out += [SendToClient(data=piece) for piece in pieces]
            pieces.clear()

    def _awaited(self) -> Response | None:
        answers = self.tracker.answers
        if not answers:
            return None
        found = next((a for a in answers if a.request_seq == self.awaiting), None)
        answers.clear()
        if found is not None:
            self.awaiting = None
        return found

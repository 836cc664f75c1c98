"""What goes into the door's conversation (events) and what comes out of it (actions).

The conversation (`door_conversation.py`) does no I/O: its shell reports what happened as
an event and carries out the actions it gets back, in order. Upstream events and actions
name their upstream (`upstream`, 0 today) so that one conversation may later speak to
several debugger processes without changing these types.
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass, field

__all__ = [
    "Action",
    "Attached",
    "Audit",
    "ClientBytes",
    "ClientEOF",
    "ClientLost",
    "Close",
    "CloseUpstream",
    "ConnectUpstream",
    "Detached",
    "Event",
    "HandshakeTimeout",
    "RefusalKind",
    "SendToClient",
    "SendToUpstream",
    "Stop",
    "TimerFired",
    "UpstreamBytes",
    "UpstreamConnected",
    "UpstreamEOF",
    "UpstreamFailed",
    "UpstreamLost",
    "Wait",
]


class RefusalKind(enum.Enum):
    """Why an IDE was turned away before attaching; the IDE reads the text, code reads this."""

    BUSY = enum.auto()
    UNSUPPORTED_COMMAND = enum.auto()
    ATTACH_BEFORE_INITIALIZE = enum.auto()
    PEER_NOT_ALLOWED = enum.auto()
    WINDOW_CLOSED = enum.auto()
    TOKEN_MISSING = enum.auto()
    TOKEN_NOT_STRING = enum.auto()
    TOKEN_WRONG = enum.auto()
    UPSTREAM_UNREACHABLE = enum.auto()


# -- events: what the shell saw ---------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientBytes:
    """Bytes read from the IDE (never empty: the end of its stream is `ClientEOF`)."""

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientEOF:
    """The IDE closed its side."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientLost:
    """Reading from the IDE failed (a reset, say); `reason` is for the audit log."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamConnected:
    """The connection `ConnectUpstream` asked for is open; `secret` is pydevd's, if any.

    `guarded`: breakpoints are to get the "developer's request" condition on the way.
    """

    secret: str | None = None
    upstream: int = 0
    guarded: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamFailed:
    """`ConnectUpstream` could not connect; `reason` is for the IDE and the audit log."""

    reason: str
    upstream: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamBytes:
    """Bytes read from the debugger."""

    data: bytes
    upstream: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamEOF:
    """The debugger closed its side cleanly."""

    upstream: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamLost:
    """The debugger's connection is gone; `reason` None for a clean close."""

    reason: str | None = None
    upstream: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired:
    """The last `Wait` is over."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeTimeout:
    """The IDE took too long to attach; ignored once it has."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    """End the conversation (the window expired, the bridge closes); `reason` says why."""

    reason: str


Event = (
    ClientBytes
    | ClientEOF
    | ClientLost
    | UpstreamConnected
    | UpstreamFailed
    | UpstreamBytes
    | UpstreamEOF
    | UpstreamLost
    | TimerFired
    | HandshakeTimeout
    | Stop
)


# -- actions: what the shell must do, in order -----------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SendToClient:
    """Write to the IDE; a memoryview is a piece of a debugger read, passed on uncopied."""

    data: bytes | memoryview


@dataclass(frozen=True, slots=True, kw_only=True)
class SendToUpstream:
    data: bytes
    upstream: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectUpstream:
    """Open a connection to the debugger, then report `UpstreamConnected` or `UpstreamFailed`."""

    upstream: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseUpstream:
    """Close the debugger's connection; `abort` drops unsent bytes (it sent garbage)."""

    abort: bool = False
    upstream: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Wait:
    """Report `TimerFired` after `seconds`; replaces any earlier `Wait`."""

    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Audit:
    """One line for the audit trail (the shell adds the peer)."""

    event: str
    fields: t.Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attached:
    """A session started: run the bridge's ``on_attach``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Detached:
    """The session ended: run the bridge's ``on_detach``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Close:
    """The conversation is over: close the IDE's connection (and any upstream).

    With `linger` the IDE has just been sent a refusal: half-close and read what it still
    sends before closing, so the kernel does not reset the connection over our answer.
    """

    reason: str
    refusal: RefusalKind | None = None
    linger: bool = False


Action = (
    SendToClient
    | SendToUpstream
    | ConnectUpstream
    | CloseUpstream
    | Wait
    | Audit
    | Attached
    | Detached
    | Close
)

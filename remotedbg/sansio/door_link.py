"""What a worker and its server's shared door say to each other, one JSON line at a time.

The control line of each worker carries only this: the worker says hello (its pid, and the
secret its pydevd will demand), the door answers with the worker's slot and the time left in
the window, then asks it to open a debug session when an IDE attaches, says when the IDE's
configuration has reached it, and says goodbye when the window ends. A second connection per
session carries the DAP itself, after one line naming the slot and the session.

Lines are capped, and anything that is not one of these messages is a `LinkError`: the
other end is not a remotedbg of this version, and the connection is closed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

__all__ = [
    "MAX_LINE",
    "Close",
    "Configured",
    "Hello",
    "LineReader",
    "LinkError",
    "LinkMessage",
    "Open",
    "SessionLine",
    "Welcome",
    "encode_line",
    "parse_line",
]

#: No message of this protocol comes near it.
MAX_LINE = 4096


class LinkError(ValueError):
    """A line that is not a message of this protocol."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """Worker -> door: here I am; my pydevd wants this secret in ``attach``."""

    pid: int
    secret: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Welcome:
    """Door -> worker: your slot (your pydevd's id range), the seconds left in the window,
    and the IDE's session if one is attached (0 if not): an `Open` for it follows."""

    slot: int
    remaining: float
    door_pid: int
    session: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Open:
    """Door -> worker: an IDE is attached; connect a debug session for it."""

    session: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Configured:
    """Door -> worker: the IDE's breakpoints and filters reached your pydevd."""

    session: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Close:
    """Door -> worker: the window ended (or the door is going); release the debugger."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionLine:
    """Worker -> door, first line of a DAP connection: whose session this is."""

    slot: int
    session: int


LinkMessage = Hello | Welcome | Open | Configured | Close | SessionLine
_KINDS: dict[str, type[LinkMessage]] = {
    "hello": Hello,
    "welcome": Welcome,
    "open": Open,
    "configured": Configured,
    "close": Close,
    "session": SessionLine,
}
_NAMES = {kind: name for name, kind in _KINDS.items()}
#: The type each field must have (``float`` also takes an int).
_FIELDS: dict[str, tuple[type, ...]] = {
    "pid": (int,),
    "secret": (str,),
    "slot": (int,),
    "remaining": (int, float),
    "door_pid": (int,),
    "session": (int,),
    "reason": (str,),
}


def encode_line(message: LinkMessage) -> bytes:
    line = json.dumps({"kind": _NAMES[type(message)], **asdict(message)}).encode() + b"\n"
    if len(line) > MAX_LINE:
        raise LinkError(f"message of {len(line)} bytes, more than the {MAX_LINE} allowed")
    return line


def parse_line(line: bytes) -> LinkMessage:
    """One message from one line (without or with its newline)."""
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        raise LinkError("not a JSON line") from None
    if not isinstance(data, dict):
        raise LinkError("not a JSON object")
    kind = _KINDS.get(str(data.pop("kind", "")))
    if kind is None:
        raise LinkError("unknown message kind")
    wanted = set(kind.__dataclass_fields__)
    if set(data) != wanted:
        raise LinkError(f"{_NAMES[kind]} needs exactly {sorted(wanted)}")
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, _FIELDS[name]):
            raise LinkError(f"{_NAMES[kind]}.{name} has the wrong type")
    return kind(**data)


class LineReader:
    """Splits a byte stream into capped lines."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        lines: list[bytes] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            lines.append(bytes(self._buffer[:end]))
            del self._buffer[: end + 1]
        if len(self._buffer) > MAX_LINE:
            raise LinkError(f"a line longer than {MAX_LINE} bytes")
        return lines

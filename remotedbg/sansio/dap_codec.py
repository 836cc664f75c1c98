"""Sans-IO codec for the Debug Adapter Protocol wire format.

Modelled on h11: bytes go in through :meth:`Decoder.receive_data` and frames come out of
:meth:`Decoder.next_body` / :meth:`Decoder.next_message`. Nothing here touches a socket, so
the same object serves the proxy, a blocking client and tests that feed it byte by byte.
Whatever a peer sends ends in a message, :data:`NEED_DATA`, ``None`` (clean EOF) or a
:class:`~remotedbg.errors.ProtocolError`; caps turn endless input into an error instead of
unbounded memory.
"""

from __future__ import annotations

import enum
import json
import math
import typing as t
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import (
    BadContentLength,
    MessageTooLarge,
    MissingContentLength,
    NotDAPMessage,
    NotJSON,
    ProtocolError,
    TruncatedMessage,
)

__all__ = [
    "DEFAULT_MAX_HEADER_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "NEED_DATA",
    "Decoder",
    "Event",
    "Message",
    "NeedData",
    "Request",
    "Response",
    "encode",
    "frame",
    "message_to_dict",
    "parse_message",
]

DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024
DEFAULT_MAX_HEADER_SIZE = 8192


class NeedData(enum.Enum):
    """Type of :data:`NEED_DATA`; an enum so that ``x is NEED_DATA`` narrows types."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"

    __str__ = __repr__


NEED_DATA: t.Final = NeedData.NEED_DATA


@dataclass(frozen=True)
class Request:
    """A request; ``extra`` holds unknown top-level keys so a proxy passes them on."""

    seq: int
    command: str
    arguments: dict[str, t.Any] | None = None
    extra: Mapping[str, t.Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """A response to the request numbered ``request_seq``."""

    seq: int
    request_seq: int
    success: bool
    command: str
    message: str | None = None
    body: t.Any = None
    extra: Mapping[str, t.Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """An event the adapter sends unasked."""

    seq: int
    event: str
    body: t.Any = None
    extra: Mapping[str, t.Any] = field(default_factory=dict)


Message = Request | Response | Event

_KNOWN_KEYS = {
    "request": frozenset({"seq", "type", "command", "arguments"}),
    "response": frozenset({"seq", "type", "request_seq", "success", "command", "message", "body"}),
    "event": frozenset({"seq", "type", "event", "body"}),
}
_JSON_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}
_T = t.TypeVar("_T")
_MISSING: t.Any = object()


def _describe(value: object) -> str:
    if value is None:
        return "null"
    text = json.dumps(value, ensure_ascii=False)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{_JSON_NAMES[type(value)]} {text}"


def _required(obj: dict[str, t.Any], key: str, kind: type[_T], where: str) -> _T:
    # `type(...) is` rather than isinstance: JSON `true` must not pass as an integer.
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        raise NotDAPMessage(f"{where} has no {key!r} field")
    if type(value) is not kind:
        raise NotDAPMessage(f"{where} {key!r} must be {_JSON_NAMES[kind]}, not {_describe(value)}")
    return value


def _optional(obj: dict[str, t.Any], key: str, kind: type[_T], where: str) -> _T | None:
    return None if obj.get(key) is None else _required(obj, key, kind, where)


def _reject_constant(name: str) -> t.NoReturn:
    raise NotJSON(f"body contains {name}, which Python accepts but JSON does not")


def _parse_float(text: str) -> float:
    # 1e400 would become inf, which encode() cannot write back out.
    value = float(text)
    if math.isinf(value):
        raise NotJSON(f"number {text[:40]} is out of range for a float")
    return value


def parse_message(body: bytes) -> Message:
    """Decode one frame's body; kept apart from framing so big bodies can pass undecoded."""
    try:
        obj = json.loads(
            body.decode("utf-8"), parse_constant=_reject_constant, parse_float=_parse_float
        )
    except UnicodeDecodeError as exc:
        raise NotJSON(
            f"body is not UTF-8: {exc.reason} at byte {exc.start} of {len(body)}"
        ) from None
    except json.JSONDecodeError as exc:
        raise NotJSON(
            f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            f" (char {exc.pos}) of a {len(body)}-byte body"
        ) from None
    except ValueError as exc:  # e.g. an integer longer than sys.get_int_max_str_digits()
        raise NotJSON(f"body is not usable JSON: {exc}") from None
    except RecursionError:
        raise NotJSON(f"the {len(body)}-byte body nests JSON too deeply to decode") from None
    if type(obj) is not dict:
        raise NotDAPMessage(f"body is {_describe(obj)}, not a JSON object")
    seq = _required(obj, "seq", int, "message")
    kind = _required(obj, "type", str, "message")
    known = _KNOWN_KEYS.get(kind)
    if known is None:
        raise NotDAPMessage(f"message type {kind!r} is not one of 'request', 'response' or 'event'")
    extra = {k: v for k, v in obj.items() if k not in known}
    if kind == "request":
        return Request(
            seq=seq,
            command=_required(obj, "command", str, kind),
            arguments=_optional(obj, "arguments", dict, kind),
            extra=extra,
        )
    if kind == "response":
        return Response(
            seq=seq,
            request_seq=_required(obj, "request_seq", int, kind),
            success=_required(obj, "success", bool, kind),
            command=_required(obj, "command", str, kind),
            message=_optional(obj, "message", str, kind),
            body=obj.get("body"),
            extra=extra,
        )
    return Event(
        seq=seq, event=_required(obj, "event", str, kind), body=obj.get("body"), extra=extra
    )


def message_to_dict(msg: Message) -> dict[str, t.Any]:
    """Return the JSON object for *msg*; typed fields win over same-named ``extra`` keys."""
    obj: dict[str, t.Any]
    optional: dict[str, t.Any]
    if isinstance(msg, Request):
        obj = {"seq": msg.seq, "type": "request", "command": msg.command}
        optional = {"arguments": msg.arguments}
    elif isinstance(msg, Response):
        obj = {
            "seq": msg.seq,
            "type": "response",
            "request_seq": msg.request_seq,
            "success": msg.success,
            "command": msg.command,
        }
        optional = {"message": msg.message, "body": msg.body}
    else:
        obj = {"seq": msg.seq, "type": "event", "event": msg.event}
        optional = {"body": msg.body}
    obj.update((k, v) for k, v in optional.items() if v is not None)
    for key, value in msg.extra.items():
        obj.setdefault(key, value)
    return obj


def frame(body: bytes) -> bytes:
    """Prefix *body* with its header, so a proxy can forward a body without re-encoding it."""
    return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


def encode(msg: Message | Mapping[str, t.Any]) -> bytes:
    """Return the full frame for *msg*; NaN and infinities raise ValueError, as JSON has none."""
    obj = dict(msg) if isinstance(msg, Mapping) else message_to_dict(msg)
    try:
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        data = body.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (legal as a JSON escape, so it can arrive) has no UTF-8 form.
        data = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("ascii")
    return frame(data)


def _content_length(header: bytes, cap: int) -> int:
    if not header:
        raise MissingContentLength(
            "empty header block: the stream has \\r\\n\\r\\n where a header belongs"
        )
    if not header.isascii():
        pos = next(i for i, byte in enumerate(header) if byte > 0x7F)
        raise BadContentLength(
            f"header block has non-ASCII byte 0x{header[pos]:02x} at offset {pos}"
        )
    length: int | None = None
    for line in header.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon:
            raise BadContentLength(f"header line {line!r} has no colon")
        if name.lower() != b"content-length":
            continue
        value = value.strip(b" \t")
        if not value.isdigit():
            raise BadContentLength(
                f"Content-Length {value!r} is not a non-negative decimal integer"
            )
        digits = value.lstrip(b"0") or b"0"
        if len(digits) > len(str(cap)):  # before int(): huge digit strings are slow or refused
            raise MessageTooLarge(
                f"a {len(digits)}-digit Content-Length exceeds the {cap}-byte cap"
            )
        number = int(digits)
        if length is not None and number != length:
            raise BadContentLength(f"conflicting Content-Length headers: {length} and {number}")
        length = number
    if length is None:
        raise MissingContentLength(f"header block {header[:200]!r} has no Content-Length")
    if length > cap:
        raise MessageTooLarge(f"Content-Length {length} exceeds the {cap}-byte cap")
    return length


class Decoder:
    """Splits a byte stream into DAP frame bodies.

    Framing only; parsing the JSON is separate so a proxy can forward big bodies without
    decoding them. After a :class:`ProtocolError` every call raises it again: the stream
    can no longer be trusted, so the connection is to be closed.
    """

    def __init__(
        self,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
    ) -> None:
        if max_message_size < 0 or max_header_size < 4:
            raise ValueError(
                f"need max_message_size >= 0 and max_header_size >= 4,"
                f" got {max_message_size} and {max_header_size}"
            )
        self.max_message_size = max_message_size
        self.max_header_size = max_header_size
        self._buf = bytearray()  # starts at the first byte of the current frame
        self._scanned = 0  # header bytes already searched for b"\r\n\r\n"
        self._body_start = -1  # set once the current frame's header is parsed
        self._body_len = 0
        self._eof = False
        self._error: ProtocolError | None = None

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned, counting a partly received frame."""
        return len(self._buf)

    def receive_data(self, data: bytes) -> None:
        """Buffer *data*; ``b""`` means EOF, and data after EOF is a caller bug."""
        if self._error is not None:
            raise self._error
        if self._eof:
            raise RuntimeError(f"receive_data() got {len(data)} bytes after EOF")
        if data:
            self._buf += data
        else:
            self._eof = True

    def next_body(self) -> bytes | NeedData | None:
        """Return the next frame's body, NEED_DATA, or None once EOF falls between frames."""
        if self._error is not None:
            raise self._error
        try:
            return self._next_body()
        except ProtocolError as exc:
            self._error = exc
            raise

    def next_message(self) -> Message | NeedData | None:
        """Like :meth:`next_body`, with the body parsed by :func:`parse_message`."""
        body = self.next_body()
        if body is None or body is NEED_DATA:
            return body
        try:
            return parse_message(body)
        except ProtocolError as exc:
            self._error = exc
            raise

    def _next_body(self) -> bytes | NeedData | None:
        buf = self._buf
        if self._body_start < 0:
            # Search only new bytes (3 back, in case the terminator straddles two receives)
            # and never past the cap, so trickled or huge input costs linear time.
            end = buf.find(b"\r\n\r\n", max(0, self._scanned - 3), self.max_header_size)
            if end < 0:
                self._scanned = min(len(buf), self.max_header_size)
                if len(buf) >= self.max_header_size:
                    raise MessageTooLarge(
                        f"no end of header block (\\r\\n\\r\\n) in the first"
                        f" {self.max_header_size} bytes"
                    )
                if not self._eof:
                    return NEED_DATA
                if buf:
                    raise TruncatedMessage(
                        f"received {len(buf)} bytes of a header block before EOF"
                    )
                return None
            self._body_len = _content_length(bytes(buf[:end]), self.max_message_size)
            self._body_start = end + 4
        stop = self._body_start + self._body_len
        if len(buf) < stop:
            if self._eof:
                raise TruncatedMessage(
                    f"received {len(buf) - self._body_start} bytes of a"
                    f" {self._body_len}-byte body before EOF"
                )
            return NEED_DATA
        # One copy of the body; both views are released before the bytearray may shrink.
        with memoryview(buf) as view, view[self._body_start : stop] as part:
            body = bytes(part)
        del buf[:stop]  # amortized O(1): CPython drops a bytearray's head by moving its start
        self._scanned = 0
        self._body_start = -1
        return body

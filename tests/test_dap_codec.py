"""Tests for the sans-IO DAP codec: frames fed whole, byte by byte, with trailing data."""

from __future__ import annotations

import copy
import json
import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remotedbg.errors import (
    BadContentLength,
    MessageTooLarge,
    MissingContentLength,
    NotDAPMessage,
    NotJSON,
    ProtocolError,
    TruncatedMessage,
)
from remotedbg.sansio.dap_codec import (
    DEFAULT_MAX_MESSAGE_SIZE,
    NEED_DATA,
    Decoder,
    Event,
    Message,
    NeedData,
    Request,
    Response,
    encode,
    frame,
    message_to_dict,
    parse_message,
)

MESSAGE_TYPES = (Request, Response, Event)


def chunks_of(data: bytes, size: int) -> list[bytes]:
    """Split *data* into pieces of *size* bytes."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def decode(chunks: t.Iterable[bytes], decoder: Decoder | None = None) -> list[Message]:
    """Feed every chunk, then EOF, draining messages after each; return all messages."""
    decoder = decoder or Decoder()
    out: list[Message] = []
    for chunk in [*chunks, b""]:
        decoder.receive_data(chunk)
        while True:
            msg = decoder.next_message()
            if msg is NEED_DATA:
                break
            if msg is None:
                assert chunk == b"", "None only after EOF"
                assert decoder.next_message() is None, "None again once at EOF"
                return out
            out.append(msg)
    raise AssertionError("decoder never reported EOF")


FEEDINGS: dict[str, t.Callable[[bytes], list[bytes]]] = {
    "whole": lambda wire: [wire],
    "bytewise": lambda wire: chunks_of(wire, 1),
}

VALID = [
    pytest.param(
        frame(b'{"seq":1,"type":"request","command":"initialize"}'),
        Request(seq=1, command="initialize"),
        id="request",
    ),
    pytest.param(
        frame(b'{"seq":2,"type":"request","command":"launch","arguments":{"a":[1,null]}}'),
        Request(seq=2, command="launch", arguments={"a": [1, None]}),
        id="request-arguments",
    ),
    pytest.param(
        frame(b'{"seq":3,"type":"response","request_seq":1,"success":true,"command":"x"}'),
        Response(seq=3, request_seq=1, success=True, command="x"),
        id="response",
    ),
    pytest.param(
        frame(
            b'{"seq":4,"type":"response","request_seq":2,"success":false,"command":"x",'
            b'"message":"nope","body":{"error":{"id":7}}}'
        ),
        Response(
            seq=4,
            request_seq=2,
            success=False,
            command="x",
            message="nope",
            body={"error": {"id": 7}},
        ),
        id="response-message-body",
    ),
    pytest.param(
        frame(b'{"seq":5,"type":"event","event":"initialized"}'),
        Event(seq=5, event="initialized"),
        id="event",
    ),
    pytest.param(
        frame('{"seq":6,"type":"event","event":"output","body":"h\u00e9llo \u2603"}'.encode()),
        Event(seq=6, event="output", body="h\u00e9llo \u2603"),
        id="event-non-ascii-body",
    ),
    pytest.param(
        frame(b'{"seq":7,"type":"event","event":"e","body":[],"x-vendor":{"k":1}}'),
        Event(seq=7, event="e", body=[], extra={"x-vendor": {"k": 1}}),
        id="extra-keys",
    ),
    pytest.param(
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-LENGTH:  45\t\r\n\r\n"
        b'{"seq":8,"type":"event","event":"terminated"}',
        Event(seq=8, event="terminated"),
        id="content-type-and-case",
    ),
    pytest.param(
        b"Content-Length:0045\r\nContent-Length: 45\r\n\r\n"
        b'{"seq":9,"type":"event","event":"terminated"}',
        Event(seq=9, event="terminated"),
        id="leading-zeros-and-agreeing-duplicate",
    ),
]


@pytest.mark.parametrize("feeding", FEEDINGS)
@pytest.mark.parametrize(("wire", "expected"), VALID)
def test_valid_frame(feeding: str, wire: bytes, expected: Message) -> None:
    """A valid frame decodes to its message whether fed whole or one byte at a time."""
    assert decode(FEEDINGS[feeding](wire)) == [expected]


@pytest.mark.parametrize("feeding", FEEDINGS)
@pytest.mark.parametrize(("wire", "expected"), VALID)
def test_valid_frame_with_trailing_data(feeding: str, wire: bytes, expected: Message) -> None:
    """Bytes after a frame stay buffered and come out as the next message."""
    trailer = encode(Event(seq=99, event="next"))
    decoder = Decoder()
    for chunk in FEEDINGS[feeding](wire + trailer):
        decoder.receive_data(chunk)
    assert decoder.pending == len(wire) + len(trailer)
    assert decoder.next_message() == expected
    assert decoder.pending == len(trailer)
    assert decoder.next_message() == Event(seq=99, event="next")
    assert decoder.pending == 0
    assert decoder.next_message() is NEED_DATA


def test_partial_frame_stays_pending() -> None:
    """A partly received frame counts in ``pending`` and yields NEED_DATA until complete."""
    wire = encode(Request(seq=1, command="next"))
    decoder = Decoder()
    decoder.receive_data(wire[:-1])
    assert decoder.next_body() is NEED_DATA
    assert decoder.pending == len(wire) - 1
    decoder.receive_data(wire[-1:])
    assert decoder.next_body() == b'{"seq":1,"type":"request","command":"next"}'
    assert decoder.pending == 0


def test_next_body_does_not_parse() -> None:
    """``next_body`` returns raw bytes, so a proxy can forward a body that is not even JSON."""
    decoder = Decoder()
    decoder.receive_data(frame(b"\xff not json") + frame(b""))
    assert decoder.next_body() == b"\xff not json"
    assert decoder.next_body() == b""
    assert decoder.next_body() is NEED_DATA


def _body(text: str) -> bytes:
    return frame(text.encode())


ERRORS = [
    # framing
    pytest.param(
        b'Content-Type: x\r\n\r\n{"seq":1}',
        MissingContentLength,
        "no Content-Length",
        id="missing-cl",
    ),
    pytest.param(b"\r\n\r\n", MissingContentLength, "empty header block", id="empty-header"),
    pytest.param(b"Content-Length: +5\r\n\r\n", BadContentLength, "b'+5'", id="cl-plus"),
    pytest.param(b"Content-Length: -1\r\n\r\n", BadContentLength, "b'-1'", id="cl-negative"),
    pytest.param(b"Content-Length:  5x\r\n\r\n", BadContentLength, "b'5x'", id="cl-trailing-junk"),
    pytest.param(b"Content-Length: 0x10\r\n\r\n", BadContentLength, "b'0x10'", id="cl-hex"),
    pytest.param(b"Content-Length: 5.0\r\n\r\n", BadContentLength, "b'5.0'", id="cl-float"),
    pytest.param(b"Content-Length: 1 2\r\n\r\n", BadContentLength, "b'1 2'", id="cl-two-numbers"),
    pytest.param(b"Content-Length:\r\n\r\n", BadContentLength, "b''", id="cl-empty"),
    pytest.param(
        b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        BadContentLength,
        "conflicting Content-Length headers: 2 and 3",
        id="cl-conflict",
    ),
    pytest.param(
        b"xyz\r\n\r\n", BadContentLength, "header line b'xyz' has no colon", id="no-colon"
    ),
    pytest.param(
        b"Content-Length: 2\r\nX-Name: caf\xc3\xa9\r\n\r\n{}",
        BadContentLength,
        "non-ASCII byte 0xc3 at offset 30",
        id="non-ascii-header",
    ),
    pytest.param(
        "Content-Length: \u0665\r\n\r\n".encode(),
        BadContentLength,
        "non-ASCII",
        id="cl-arabic-digit",
    ),
    pytest.param(
        b"Content-Length: 99999999\r\n\r\n",
        MessageTooLarge,
        f"Content-Length 99999999 exceeds the {DEFAULT_MAX_MESSAGE_SIZE}-byte cap",
        id="cl-huge",
    ),
    pytest.param(
        b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n",
        MessageTooLarge,
        "5000-digit Content-Length",
        id="cl-5000-digits",
    ),
    pytest.param(b"X" * 9000, MessageTooLarge, "first 8192 bytes", id="endless-header"),
    pytest.param(
        b"Content-Length: 2\r\n" + b"X-Pad: y\r\n" * 1000,
        MessageTooLarge,
        "first 8192 bytes",
        id="endless-header-lines",
    ),
    # JSON
    pytest.param(_body("{"), NotJSON, "(char 1) of a 1-byte body", id="not-json"),
    pytest.param(
        frame(b'{"a":"\xff"}'), NotJSON, "not UTF-8: invalid start byte at byte 6", id="bad-utf8"
    ),
    pytest.param(_body("NaN"), NotJSON, "NaN", id="nan"),
    pytest.param(_body("[-Infinity]"), NotJSON, "-Infinity", id="infinity"),
    pytest.param(_body("[1e400]"), NotJSON, "number 1e400 is out of range", id="float-overflow"),
    pytest.param(_body("[" + "1" * 5000 + "]"), NotJSON, "5000 digits", id="int-too-long"),
    pytest.param(_body("[" * 100_000), NotJSON, "too deeply", id="deep-nesting"),
    # DAP
    pytest.param(_body("[]"), NotDAPMessage, "body is an array [], not a JSON object", id="array"),
    pytest.param(_body("null"), NotDAPMessage, "body is null", id="null"),
    pytest.param(_body('{"type":"event","event":"e"}'), NotDAPMessage, "no 'seq'", id="no-seq"),
    pytest.param(
        _body('{"seq":true,"type":"event","event":"e"}'),
        NotDAPMessage,
        "'seq' must be an integer, not a boolean true",
        id="bool-seq",
    ),
    pytest.param(
        _body('{"seq":1.0,"type":"event","event":"e"}'), NotDAPMessage, "number 1.0", id="float-seq"
    ),
    pytest.param(
        _body('{"seq":"1","type":"event","event":"e"}'), NotDAPMessage, 'string "1"', id="str-seq"
    ),
    pytest.param(_body('{"seq":1,"event":"e"}'), NotDAPMessage, "no 'type'", id="no-type"),
    pytest.param(
        _body('{"seq":1,"type":"reply"}'), NotDAPMessage, "'reply' is not one of", id="unknown-type"
    ),
    pytest.param(
        _body('{"seq":1,"type":1}'), NotDAPMessage, "'type' must be a string", id="int-type"
    ),
    pytest.param(
        _body('{"seq":1,"type":"request"}'),
        NotDAPMessage,
        "request has no 'command'",
        id="no-command",
    ),
    pytest.param(
        _body('{"seq":1,"type":"request","command":5}'),
        NotDAPMessage,
        "'command' must be a string, not an integer 5",
        id="int-command",
    ),
    pytest.param(
        _body('{"seq":1,"type":"request","command":"c","arguments":[]}'),
        NotDAPMessage,
        "'arguments' must be an object",
        id="array-arguments",
    ),
    pytest.param(
        _body('{"seq":1,"type":"response","success":true,"command":"c"}'),
        NotDAPMessage,
        "response has no 'request_seq'",
        id="no-request-seq",
    ),
    pytest.param(
        _body('{"seq":1,"type":"response","request_seq":false,"success":true,"command":"c"}'),
        NotDAPMessage,
        "'request_seq' must be an integer, not a boolean false",
        id="bool-request-seq",
    ),
    pytest.param(
        _body('{"seq":1,"type":"response","request_seq":1,"command":"c"}'),
        NotDAPMessage,
        "response has no 'success'",
        id="no-success",
    ),
    pytest.param(
        _body('{"seq":1,"type":"response","request_seq":1,"success":1,"command":"c"}'),
        NotDAPMessage,
        "'success' must be a boolean, not an integer 1",
        id="int-success",
    ),
    pytest.param(
        _body(
            '{"seq":1,"type":"response","request_seq":1,"success":true,"command":"c","message":5}'
        ),
        NotDAPMessage,
        "'message' must be a string",
        id="int-message",
    ),
    pytest.param(
        _body('{"seq":1,"type":"event"}'), NotDAPMessage, "event has no 'event'", id="no-event"
    ),
    pytest.param(
        _body('{"seq":1,"type":"event","event":{}}'),
        NotDAPMessage,
        "not an object {}",
        id="object-event",
    ),
]


@pytest.mark.parametrize("feeding", FEEDINGS)
@pytest.mark.parametrize(("wire", "error", "text"), ERRORS)
def test_error(feeding: str, wire: bytes, error: type[ProtocolError], text: str) -> None:
    """Each kind of bad input raises its own ProtocolError subclass with a message saying why."""
    with pytest.raises(error) as info:
        decode(FEEDINGS[feeding](wire))
    assert text in str(info.value)


def test_error_is_final() -> None:
    """After a ProtocolError every further call raises it again, since the stream is unusable."""
    decoder = Decoder()
    decoder.receive_data(b"Content-Length: x\r\n\r\n" + encode(Event(seq=1, event="e")))
    with pytest.raises(BadContentLength) as first:
        decoder.next_message()
    with pytest.raises(BadContentLength) as again:
        decoder.next_body()
    assert again.value is first.value
    with pytest.raises(BadContentLength):
        decoder.receive_data(b"more")


def test_parse_error_in_next_message_is_final() -> None:
    """A body that is not a DAP message also breaks the decoder, though its framing was fine."""
    decoder = Decoder()
    decoder.receive_data(frame(b"[]") + encode(Event(seq=1, event="e")))
    with pytest.raises(NotDAPMessage):
        decoder.next_message()
    with pytest.raises(NotDAPMessage):
        decoder.next_message()


def test_max_message_size_is_configurable() -> None:
    """A frame one byte over a custom body cap is refused as soon as its header arrives."""
    decoder = Decoder(max_message_size=10)
    decoder.receive_data(frame(b"x" * 10))
    assert decoder.next_body() == b"x" * 10
    decoder.receive_data(b"Content-Length: 11\r\n\r\n")
    with pytest.raises(MessageTooLarge, match="Content-Length 11 exceeds the 10-byte cap"):
        decoder.next_body()


def test_max_header_size_is_inclusive() -> None:
    """A header block exactly the cap long, terminator included, is accepted; longer is not."""
    header = b"Content-Length: 0\r\n\r\n"
    decoder = Decoder(max_header_size=len(header))
    decoder.receive_data(header)
    assert decoder.next_body() == b""
    padded = b"Content-Length:  0\r\n\r\n"
    decoder = Decoder(max_header_size=len(header))
    decoder.receive_data(padded)
    with pytest.raises(MessageTooLarge, match=f"first {len(header)} bytes"):
        decoder.next_body()


@pytest.mark.parametrize(("kwargs"), [{"max_message_size": -1}, {"max_header_size": 3}])
def test_bad_caps_rejected(kwargs: dict[str, int]) -> None:
    """Caps that could never admit a frame are a caller bug and raise ValueError."""
    with pytest.raises(ValueError, match="need max_message_size"):
        Decoder(**kwargs)


def test_clean_eof() -> None:
    """EOF between messages yields the messages, then None on every later call."""
    wire = encode(Event(seq=1, event="a")) + encode(Event(seq=2, event="b"))
    assert decode([wire]) == [Event(seq=1, event="a"), Event(seq=2, event="b")]
    assert decode([]) == []


def test_eof_mid_header() -> None:
    """EOF inside a header block raises TruncatedMessage with the byte count."""
    with pytest.raises(TruncatedMessage, match="received 11 bytes of a header block before EOF"):
        decode([b"Content-Len"])


def test_eof_mid_body() -> None:
    """EOF inside a body raises TruncatedMessage saying how much of the body arrived."""
    with pytest.raises(TruncatedMessage, match="received 3 bytes of a 10-byte body before EOF"):
        decode([b"Content-Length: 10\r\n\r\nabc"])


def test_eof_after_header() -> None:
    """EOF right after a complete header is a truncated body, not a clean EOF."""
    with pytest.raises(TruncatedMessage, match="received 0 bytes of a 2-byte body"):
        decode([b"Content-Length: 2\r\n\r\n"])


def test_data_after_eof_is_caller_bug() -> None:
    """Feeding data after EOF raises RuntimeError, not a ProtocolError."""
    decoder = Decoder()
    decoder.receive_data(b"")
    with pytest.raises(RuntimeError, match="after EOF"):
        decoder.receive_data(b"x")
    assert decoder.next_message() is None


def test_need_data_sentinel() -> None:
    """NEED_DATA is a singleton with a readable repr that survives copying."""
    assert repr(NEED_DATA) == str(NEED_DATA) == "NEED_DATA"
    assert isinstance(NEED_DATA, NeedData)
    assert copy.deepcopy(NEED_DATA) is NEED_DATA
    assert Decoder().next_message() is NEED_DATA


def test_encode_is_compact_utf8() -> None:
    """``encode`` writes compact UTF-8 JSON and counts bytes, not characters, in the header."""
    wire = encode(Event(seq=1, event="output", body={"output": "\u00e9"}))
    body = '{"seq":1,"type":"event","event":"output","body":{"output":"\u00e9"}}'.encode()
    assert wire == b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


def test_encode_mapping() -> None:
    """``encode`` also frames a plain mapping, unvalidated, for callers that build raw JSON."""
    assert encode({"seq": 1, "x": [1]}) == b'Content-Length: 17\r\n\r\n{"seq":1,"x":[1]}'


def test_encode_refuses_nan() -> None:
    """NaN has no JSON form, so ``encode`` raises ValueError rather than emit invalid JSON."""
    with pytest.raises(ValueError, match="JSON compliant"):
        encode(Event(seq=1, event="e", body=float("nan")))


def test_lone_surrogate_round_trips() -> None:
    """A lone surrogate from a JSON escape has no UTF-8 form; it is re-encoded as an escape."""
    msg = parse_message(b'{"seq":1,"type":"event","event":"e","body":"\\ud800"}')
    assert msg == Event(seq=1, event="e", body="\ud800")
    wire = encode(msg)
    assert b"\\ud800" in wire
    assert decode([wire]) == [msg]


def test_message_to_dict() -> None:
    """``message_to_dict`` omits unset optionals and merges extra keys, typed fields winning."""
    assert message_to_dict(Request(seq=1, command="c")) == {
        "seq": 1,
        "type": "request",
        "command": "c",
    }
    assert message_to_dict(
        Response(seq=2, request_seq=1, success=True, command="c", extra={"seq": 9, "x": None})
    ) == {
        "seq": 2,
        "type": "response",
        "request_seq": 1,
        "success": True,
        "command": "c",
        "x": None,
    }
    assert message_to_dict(Event(seq=3, event="e", body=0)) == {
        "seq": 3,
        "type": "event",
        "event": "e",
        "body": 0,
    }


def test_null_optionals_read_as_absent() -> None:
    """JSON null in an optional field parses as None, which is how an absent field reads."""
    msg = parse_message(
        b'{"seq":1,"type":"response","request_seq":1,"success":true,"command":"c",'
        b'"message":null,"body":null}'
    )
    assert msg == Response(seq=1, request_seq=1, success=True, command="c")


def test_large_body_in_64k_chunks() -> None:
    """A 10 MB body fed in 64 KiB chunks decodes, waiting with NEED_DATA until it is complete."""
    text = "x" * (10 * 1024 * 1024)
    wire = encode(Event(seq=1, event="output", body={"output": text}))
    decoder = Decoder()
    results = []
    for chunk in chunks_of(wire, 64 * 1024):
        decoder.receive_data(chunk)
        results.append(decoder.next_message())
    assert results[:-1] == [NEED_DATA] * (len(results) - 1)
    assert results[-1] == Event(seq=1, event="output", body={"output": text})
    assert decoder.pending == 0


def test_body_in_many_small_chunks() -> None:
    """A 1 MB body fed in 1 KiB chunks, polled after each, decodes to the same bytes."""
    body = bytes(range(256)) * 4096
    decoder = Decoder()
    for chunk in chunks_of(frame(body), 1024):
        decoder.receive_data(chunk)
        got = decoder.next_body()
    assert got == body


def test_many_messages_in_one_chunk() -> None:
    """Thousands of frames delivered in one chunk all come out, in order."""
    msgs = [Event(seq=i, event="e", body=i) for i in range(5000)]
    assert decode([b"".join(encode(m) for m in msgs)]) == msgs


# -- property-based ------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=4)
reserved = {
    "seq",
    "type",
    "command",
    "arguments",
    "request_seq",
    "success",
    "message",
    "body",
    "event",
}
extras = st.dictionaries(st.text().filter(lambda k: k not in reserved), json_values, max_size=3)
seqs = st.integers(min_value=-(2**63), max_value=2**63)

messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(
        Request,
        seq=seqs,
        command=st.text(),
        arguments=st.none() | json_objects,
        extra=extras,
    ),
    st.builds(
        Response,
        seq=seqs,
        request_seq=seqs,
        success=st.booleans(),
        command=st.text(),
        message=st.none() | st.text(),
        body=json_values,
        extra=extras,
    ),
    st.builds(Event, seq=seqs, event=st.text(), body=json_values, extra=extras),
)


def split(data: st.DataObject, wire: bytes) -> list[bytes]:
    """Cut *wire* at drawn positions (including empty pieces, which only mean EOF at the end)."""
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=12)))
    return [
        c for c in (wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=False)) if c
    ]


@settings(max_examples=150, deadline=None)
@given(msgs=st.lists(messages, min_size=1, max_size=4), data=st.data())
def test_round_trip(msgs: list[Message], data: st.DataObject) -> None:
    """Any messages, encoded and fed in any chunking, decode back to equal messages."""
    wire = b"".join(encode(m) for m in msgs)
    assert decode(split(data, wire)) == msgs
    for msg in msgs:
        assert parse_message(json.dumps(message_to_dict(msg)).encode()) == msg


def corrupt(wire: bytes, index: int, byte: int) -> bytes:
    """Replace one byte of *wire*."""
    index %= len(wire)
    return wire[:index] + bytes([byte]) + wire[index + 1 :]


valid_frames = messages.map(encode)
garbage = st.one_of(
    valid_frames,
    st.builds(corrupt, valid_frames, st.integers(min_value=0), st.integers(0, 255)),
    st.binary(max_size=200),
    st.binary(max_size=100).map(frame),
    st.builds(
        lambda head, body: head + b"\r\n\r\n" + body,
        st.sampled_from([b"Content-Length: 5", b"content-length:3", b"Content-Length: 2\r\nA: b"]),
        st.binary(max_size=20),
    ),
    json_values.map(lambda v: frame(json.dumps(v).encode())),
    st.builds(
        lambda obj, extra: frame(json.dumps({**obj, **extra}).encode()),
        st.fixed_dictionaries(
            {},
            optional={
                "seq": json_values,
                "type": st.sampled_from(["request", "response", "event", "other"]) | json_values,
                "command": json_values,
                "arguments": json_values,
                "request_seq": json_values,
                "success": json_values,
                "message": json_values,
                "event": json_values,
                "body": json_values,
            },
        ),
        extras,
    ),
)


def run_stream(chunks: list[bytes]) -> ProtocolError | None:
    """Feed chunks then EOF, checking each result; return the ProtocolError that ended it."""
    decoder = Decoder(max_message_size=400, max_header_size=64)
    try:
        for chunk in [*chunks, b""]:
            decoder.receive_data(chunk)
            while (msg := decoder.next_message()) is not NEED_DATA:
                if msg is None:
                    return None
                assert isinstance(msg, MESSAGE_TYPES)
                assert decode([encode(msg)]) == [msg], "whatever parses re-encodes"
    except ProtocolError as exc:
        return exc
    raise AssertionError("EOF never reported")


LEAF_ERRORS = {
    MissingContentLength,
    BadContentLength,
    MessageTooLarge,
    TruncatedMessage,
    NotJSON,
    NotDAPMessage,
}


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(garbage, max_size=4), data=st.data())
def test_arbitrary_bytes_only_raise_protocol_errors(
    pieces: list[bytes], data: st.DataObject
) -> None:
    """Any byte stream yields only messages, NEED_DATA, None, or a ProtocolError subclass."""
    error = run_stream(split(data, b"".join(pieces)))
    assert error is None or type(error) in LEAF_ERRORS

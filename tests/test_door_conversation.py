"""The door's conversation in memory: a fake IDE and a fake debugger, no sockets, no clock.

Modelled on h11's ``ConnectionPair``: `Pair` feeds events to one `DoorConversation` and
decodes what it sends each side, so every rule is one short test.
"""

from __future__ import annotations

import typing as t

import pytest

from remotedbg.errors import RefusalKind as WireKind
from remotedbg.sansio.access_policy import (
    TOKEN_FIELD,
    AccessRules,
    PeerDenial,
    Verdict,
    WindowState,
)
from remotedbg.sansio.addresses import AddressSet
from remotedbg.sansio.breakpoint_guard import MINE
from remotedbg.sansio.dap_codec import NEED_DATA, Decoder, Event, Message, Request, Response, encode
from remotedbg.sansio.door_admission import (
    BUSY,
    CLIENT_MAX_MESSAGE,
    PRE_ATTACH_MAX_MESSAGE,
    Gatekeeper,
    Slot,
)
from remotedbg.sansio.door_conversation import (
    FLUSH_TIMEOUT,
    RELEASE_TIMEOUT,
    UPSTREAM_TIMEOUT,
    DoorConversation,
    Phase,
)
from remotedbg.sansio.door_events import (
    Action,
    Attached,
    Audit,
    ClientBytes,
    ClientEOF,
    Close,
    CloseUpstream,
    ConnectUpstream,
    Detached,
    HandshakeTimeout,
    RefusalKind,
    SendToClient,
    SendToUpstream,
    Stop,
    TimerFired,
    UpstreamBytes,
    UpstreamConnected,
    UpstreamEOF,
    UpstreamFailed,
    Wait,
)
from remotedbg.sansio.door_events import Event as DoorEvent
from remotedbg.sansio.door_messages import AUTHORIZE_FIELD, adapter_capabilities
from remotedbg.sansio.refusals import refusal_kind

from servers import Clock

TOKEN = "test-Vq3Xr8Lm2Kp9Tz4Wn7Bc6Hd"
INITIALIZE = Request(1, "initialize", {"adapterID": "debugpy"})
ATTACH = Request(2, "attach", {TOKEN_FIELD: TOKEN, "justMyCode": False})


class Gate:
    """The access rules with a fake clock, as the conversation asks them (no locks needed)."""

    def __init__(self, clock: Clock, token: str | None = TOKEN) -> None:
        self.clock = clock
        self.window = WindowState(ttl=600)
        self.window.open(clock(), 0.0)
        self.rules = AccessRules(AddressSet.parse(["127.0.0.0/8"]), token, clock())

    def peer_denial(self, peer: str) -> PeerDenial | None:
        return self.rules.peer_denial(peer, self.window.is_open(self.clock()))

    def verdict(self, peer: str, arguments: t.Mapping[str, object] | None) -> Verdict:
        return self.rules.verdict(peer, arguments, self.clock())


class Pair:
    """One conversation between a fake IDE and a fake debugger; records every action."""

    def __init__(self, gate: Gatekeeper, slot: Slot | None = None, peer: str = "127.0.0.1") -> None:
        self.conv = DoorConversation(peer, gate, slot or Slot())
        self.actions: list[Action] = []
        self.ide = Decoder()  # what the IDE received
        self.debugger = Decoder()  # what the debugger received

    def feed(self, event: DoorEvent) -> list[Action]:
        actions = self.conv.handle(event)
        self.actions += actions
        for action in actions:
            if isinstance(action, SendToClient):
                self.ide.receive_data(bytes(action.data))
            elif isinstance(action, SendToUpstream):
                self.debugger.receive_data(action.data)
        return actions

    def ide_sends(self, *messages: Message) -> list[Action]:
        return self.feed(ClientBytes(data=b"".join(encode(m) for m in messages)))

    def debugger_sends(self, *messages: Message) -> list[Action]:
        return self.feed(UpstreamBytes(data=b"".join(encode(m) for m in messages)))

    def ide_got(self) -> list[Message]:
        return _drain(self.ide)

    def debugger_got(self) -> list[Message]:
        return _drain(self.debugger)

    def audits(self) -> list[tuple[str, dict[str, object]]]:
        return [(a.event, dict(a.fields)) for a in self.actions if isinstance(a, Audit)]

    def close(self) -> Close:
        (close,) = [a for a in self.actions if isinstance(a, Close)]
        return close

    def attach(self, *, secret: str | None = None, guarded: bool = False) -> None:
        """Handshake, token, upstream replay: an attached session, both sides drained."""
        self.ide_sends(INITIALIZE, ATTACH)
        self.feed(UpstreamConnected(secret=secret, guarded=guarded))
        if secret is not None:
            self.debugger_sends(Response(1, 0, True, "pydevdAuthorize"))
        self.debugger_sends(Response(2, INITIALIZE.seq, True, "initialize", body={}))
        assert self.conv.phase is Phase.ATTACHED
        self.ide_got(), self.debugger_got()
        self.actions.clear()


def _drain(decoder: Decoder) -> list[Message]:
    found = []
    while (msg := decoder.next_message()) is not NEED_DATA:
        assert msg is not None
        found.append(msg)
    return found


def requests(messages: list[Message]) -> list[str]:
    return [m.command for m in messages if isinstance(m, Request)]


def only(actions: list[Action], kind: type) -> list[t.Any]:
    return [a for a in actions if isinstance(a, kind)]


@pytest.fixture
def pair(clock: Clock) -> Pair:
    return Pair(Gate(clock))


# -- before attach ------------------------------------------------------------------------


def test_initialize_is_answered_by_us_and_nothing_goes_upstream(pair: Pair) -> None:
    actions = pair.ide_sends(INITIALIZE)
    (answer,) = pair.ide_got()
    assert isinstance(answer, Response)
    assert (answer.request_seq, answer.success) == (1, True)
    assert answer.body == adapter_capabilities()
    assert not only(actions, SendToUpstream)
    assert not only(actions, ConnectUpstream)


def test_nothing_reaches_the_debugger_before_a_valid_attach(pair: Pair) -> None:
    actions = pair.ide_sends(INITIALIZE, Request(2, "launch", {"program": "x.py"}))
    refusal = pair.ide_got()[1]
    assert isinstance(refusal, Response)
    assert not refusal.success
    assert refusal.message == 'remotedbg only supports attach, not "launch"'
    assert pair.close().refusal is RefusalKind.UNSUPPORTED_COMMAND
    assert pair.close().linger
    assert not only(actions, SendToUpstream)
    assert not only(actions, ConnectUpstream)
    assert not pair.conv.wants_client_data
    assert pair.feed(ClientBytes(data=encode(ATTACH))) == []  # closed: nothing more


def test_attach_before_initialize_is_refused(pair: Pair) -> None:
    pair.ide_sends(ATTACH)
    assert pair.close().refusal is RefusalKind.ATTACH_BEFORE_INITIALIZE
    assert pair.close().reason == "remotedbg: send initialize before attach"


def test_an_oversized_pre_attach_message_closes(pair: Pair) -> None:
    header = f"Content-Length: {PRE_ATTACH_MAX_MESSAGE + 1}\r\n\r\n".encode()
    actions = pair.feed(ClientBytes(data=header))
    assert pair.close().refusal is None
    assert not pair.close().linger
    assert pair.audits()[0][0] == "fault"
    assert not only(actions, ConnectUpstream)
    assert pair.ide_got() == []


def test_a_response_before_attach_is_a_fault(pair: Pair) -> None:
    pair.ide_sends(Response(1, 1, True, "initialize"))
    assert pair.close().reason == "the IDE sent a response before attach"


@pytest.mark.parametrize(
    ("arguments", "kind"),
    [
        ({}, RefusalKind.TOKEN_MISSING),
        ({TOKEN_FIELD: 1}, RefusalKind.TOKEN_NOT_STRING),
        ({TOKEN_FIELD: "wrong"}, RefusalKind.TOKEN_WRONG),
    ],
)
def test_a_wrong_or_missing_token_is_refused_with_its_kind(
    pair: Pair, clock: Clock, arguments: dict[str, object], kind: RefusalKind
) -> None:
    actions = pair.ide_sends(INITIALIZE, Request(2, "attach", arguments))
    refusal = pair.ide_got()[1]
    expected = Gate(clock).verdict("127.0.0.1", arguments).problem
    assert isinstance(refusal, Response)
    assert refusal.message == expected
    assert refusal.body["error"]["format"] == expected
    assert refusal_kind(refusal) is WireKind.TOKEN  # what the IDE's side reads
    assert pair.close().refusal is kind
    assert ("token_rejected", {"reason": expected}) in pair.audits()
    assert not only(actions, SendToUpstream)
    assert not only(actions, ConnectUpstream)


def test_a_second_ide_is_refused_as_busy(clock: Clock) -> None:
    slot = Slot()
    slot.claim(object(), "127.0.0.9")
    pair = Pair(Gate(clock), slot)
    pair.ide_sends(INITIALIZE)
    assert pair.close().refusal is RefusalKind.BUSY
    assert pair.close().reason == BUSY
    refused = {"reason": "another IDE is already attached", "attached": "127.0.0.9"}
    assert pair.audits() == [("refused", refused)]
    assert "127.0.0.9" not in str(pair.ide_got())  # the newcomer is not told who


def test_a_peer_off_the_allowlist_is_refused(clock: Clock) -> None:
    pair = Pair(Gate(clock), peer="10.0.0.1")
    pair.ide_sends(INITIALIZE, ATTACH)
    assert pair.close().refusal is RefusalKind.PEER_NOT_ALLOWED
    assert pair.close().reason == "remotedbg: peer is not on the allowlist"


def test_wrong_tokens_make_the_answer_wait(clock: Clock) -> None:
    gate = Gate(clock)
    for _ in range(5):
        gate.verdict("127.0.0.1", {TOKEN_FIELD: "wrong"})
    pair = Pair(gate)
    actions = pair.ide_sends(INITIALIZE, Request(2, "attach", {TOKEN_FIELD: "wrong"}))
    (wait,) = only(actions, Wait)
    assert wait.seconds > 0
    assert pair.conv.phase is Phase.THROTTLED
    assert len(pair.ide_got()) == 1  # initialize answered; the verdict not yet
    assert not pair.conv.wants_client_data
    assert pair.audits()[-1] == (
        "throttled",
        {"reason": "wrong tokens from this address", "delay": round(wait.seconds, 2)},
    )
    pair.feed(TimerFired())
    assert pair.close().refusal is RefusalKind.TOKEN_WRONG
    assert "slow down" in pair.close().reason


def test_the_right_token_after_a_wait_connects(clock: Clock) -> None:
    gate = Gate(clock)
    for _ in range(5):
        gate.verdict("127.0.0.1", {TOKEN_FIELD: "wrong"})
    pair = Pair(gate)
    pair.ide_sends(INITIALIZE, ATTACH)
    actions = pair.feed(TimerFired())
    assert only(actions, ConnectUpstream) == [ConnectUpstream()]
    assert only(actions, Wait) == [Wait(seconds=UPSTREAM_TIMEOUT)]


def test_a_window_that_ends_during_the_wait_refuses(clock: Clock) -> None:
    gate = Gate(clock)
    for _ in range(5):
        gate.verdict("127.0.0.1", {TOKEN_FIELD: "wrong"})
    pair = Pair(gate)
    pair.ide_sends(INITIALIZE, ATTACH)
    gate.window.close()
    pair.feed(TimerFired())
    assert pair.close().refusal is RefusalKind.WINDOW_CLOSED
    assert pair.close().reason == "remotedbg: no armed window"


def test_handshake_timeout_closes_before_attach_only(pair: Pair) -> None:
    pair.ide_sends(INITIALIZE)
    pair.feed(HandshakeTimeout())
    assert pair.close() == Close(reason="handshake timeout")
    attached = Pair(pair.conv.policy)
    attached.attach()
    assert attached.feed(HandshakeTimeout()) == []


# -- reaching the debugger ----------------------------------------------------------------


def test_attach_replays_initialize_then_attach_without_the_token(pair: Pair) -> None:
    pair.ide_sends(INITIALIZE, ATTACH)
    assert pair.debugger_got() == []
    assert pair.conv.attaching
    pair.feed(UpstreamConnected())
    assert pair.debugger_got() == [INITIALIZE]
    actions = pair.debugger_sends(Response(5, 1, True, "initialize", body={}))
    (attach,) = pair.debugger_got()
    assert isinstance(attach, Request)
    assert attach.command == "attach"
    assert TOKEN_FIELD not in (attach.arguments or {})
    assert attach.arguments == {"justMyCode": False, "stopAllThreadsOnSuspend": False}
    assert pair.ide_got()[1:] == []  # debugpy's answer to initialize is ours alone
    assert Attached() in actions
    assert ("attached", {}) in pair.audits()
    assert pair.conv.max_read == CLIENT_MAX_MESSAGE


def test_the_bridge_proves_its_secret_before_initialize(pair: Pair) -> None:
    pair.ide_sends(INITIALIZE, ATTACH)
    pair.feed(UpstreamConnected(secret="s3cret"))
    (authorize,) = pair.debugger_got()
    assert authorize == Request(0, "pydevdAuthorize", {AUTHORIZE_FIELD: "s3cret"})
    pair.debugger_sends(Response(1, 0, False, "pydevdAuthorize", message="no"))
    assert pair.close().refusal is RefusalKind.UPSTREAM_UNREACHABLE
    assert pair.close().reason == (
        "remotedbg: the debugger is not reachable "
        "(ConnectionError: it refused the bridge's secret: no)"
    )
    assert CloseUpstream() in pair.actions


def test_new_capabilities_are_announced(pair: Pair) -> None:
    pair.ide_sends(INITIALIZE, ATTACH)
    pair.feed(UpstreamConnected())
    pair.debugger_sends(
        Response(5, 1, True, "initialize", body={"supportsGotoTargetsRequest": False})
    )
    event = pair.ide_got()[-1]
    assert event == Event(
        2, "capabilities", {"capabilities": {"supportsGotoTargetsRequest": False}}
    )


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (UpstreamFailed(reason="ConnectionRefusedError: no"), "ConnectionRefusedError: no"),
        (TimerFired(), "TimeoutError"),
    ],
)
def test_an_unreachable_debugger_fails_the_attach(pair: Pair, event: DoorEvent, why: str) -> None:
    pair.ide_sends(INITIALIZE, ATTACH)
    pair.feed(event)
    message = f"remotedbg: the debugger is not reachable ({why})"
    assert pair.close() == Close(
        reason=message, refusal=RefusalKind.UPSTREAM_UNREACHABLE, linger=True
    )
    refusal = pair.ide_got()[-1]
    assert isinstance(refusal, Response)
    assert refusal.message == message


# -- attached ---------------------------------------------------------------------------


def test_requests_go_through_and_debugger_bytes_pass_as_they_come(pair: Pair) -> None:
    pair.attach()
    pair.ide_sends(Request(3, "threads"))
    assert pair.debugger_got() == [Request(3, "threads")]
    body = encode(Response(9, 3, True, "variables", body={"v": "x" * 100_000}))
    first = pair.feed(UpstreamBytes(data=body[:50_000]))
    assert sum(len(a.data) for a in only(first, SendToClient)) == 50_000  # not held back
    pair.feed(UpstreamBytes(data=body[50_000:]))
    (got,) = pair.ide_got()
    assert isinstance(got, Response)
    assert got.body == {"v": "x" * 100_000}


def test_the_token_is_stripped_from_every_forwarded_request(pair: Pair) -> None:
    pair.attach()
    pair.ide_sends(Request(3, "attach", {TOKEN_FIELD: TOKEN}))
    assert pair.debugger_got() == [Request(3, "attach", {})]


def test_every_breakpoint_reaches_the_debugger_guarded(pair: Pair) -> None:
    """The door adds "the developer's request" to each breakpoint (breakpoint_guard.py),
    for a debugger that has remotedbg's helpers (a plain debugpy behind `remotedbg bridge`
    gets the IDE's breakpoints as they are)."""
    where = {"source": {"path": "/app/views.py"}}
    request = Request(3, "setBreakpoints", {**where, "breakpoints": [{"line": 4}]})
    pair.attach(guarded=True)
    pair.ide_sends(request)
    [forwarded] = pair.debugger_got()
    assert forwarded == Request(
        3, "setBreakpoints", {**where, "breakpoints": [{"line": 4, "condition": MINE}]}
    )
    plain = Pair(Gate(Clock()))
    plain.attach()
    plain.ide_sends(request)
    assert plain.debugger_got() == [request]


def test_expiry_while_paused_resumes_the_app_and_tells_the_ide(pair: Pair) -> None:
    pair.attach()
    pair.debugger_sends(Event(7, "stopped", {"reason": "breakpoint", "threadId": 1}))
    pair.ide_got()
    actions = pair.feed(Stop(reason="the window expired"))
    go_on, detach = pair.debugger_got()
    assert go_on == Request(3, "continue", {"threadId": 0})
    assert detach == Request(4, "disconnect", {"terminateDebuggee": False})
    output, terminated = pair.ide_got()
    assert isinstance(output, Event)
    assert output.event == "output"
    text = "remotedbg: the debug window ended (the window expired); the app runs on\n"
    assert output.body == {"category": "important", "output": text}
    assert isinstance(terminated, Event)
    assert terminated.event == "terminated"
    assert only(actions, Wait) == [Wait(seconds=RELEASE_TIMEOUT)]
    assert not only(actions, Close)
    end = pair.debugger_sends(Response(8, 4, True, "disconnect"))
    assert pair.ide_got() == []  # our own answers stay ours
    assert end == [
        CloseUpstream(),
        Audit(event="detached", fields={"reason": "the window expired"}),
        Detached(),
        Close(reason="the window expired"),
    ]


def test_expiry_mid_frame_waits_for_the_frame_boundary(pair: Pair) -> None:
    pair.attach()
    body = encode(Response(9, 3, True, "variables", body={"v": "x" * 1000}))
    pair.feed(UpstreamBytes(data=body[:300]))
    actions = pair.feed(Stop(reason="bye"))
    assert only(actions, Wait) == [Wait(seconds=FLUSH_TIMEOUT)]
    assert pair.conv.phase is Phase.HUSHING
    pair.feed(UpstreamBytes(data=body[300:] + encode(Event(10, "output", {}))))
    variables, output, terminated = pair.ide_got()  # whole, then our words, then no more
    assert isinstance(variables, Response)
    assert variables.command == "variables"
    assert isinstance(output, Event)
    assert "bye" in output.body["output"]
    assert isinstance(terminated, Event)
    assert terminated.event == "terminated"
    pair.feed(TimerFired())  # the debugger never answered disconnect
    assert pair.close() == Close(reason="bye")


def test_a_frame_that_never_ends_gets_no_last_words(pair: Pair) -> None:
    pair.attach()
    body = encode(Response(9, 3, True, "variables", body={"v": "x" * 1000}))
    pair.feed(UpstreamBytes(data=body[:300]))
    pair.feed(Stop(reason="bye"))
    pair.feed(TimerFired())
    assert pair.conv.phase is Phase.RELEASING
    pair.feed(UpstreamBytes(data=body[300:]))
    assert pair.ide.pending  # the IDE got part of a frame and nothing after it
    pair.feed(TimerFired())
    assert pair.close() == Close(reason="bye")


def test_the_ide_vanishing_releases_the_app(pair: Pair) -> None:
    pair.attach()
    pair.feed(ClientEOF())
    assert requests(pair.debugger_got()) == ["continue", "disconnect"]
    assert pair.ide_got() == []
    assert not pair.conv.forwarding
    pair.debugger_sends(Response(8, 3, True, "continue"), Response(9, 4, True, "disconnect"))
    assert pair.close() == Close(reason="the IDE closed the connection")
    assert ("detached", {"reason": "the IDE closed the connection"}) in pair.audits()


def test_the_ide_vanishing_mid_message_is_a_fault_and_releases(pair: Pair) -> None:
    pair.attach()
    pair.feed(ClientBytes(data=encode(Request(3, "threads"))[:20]))
    pair.feed(ClientEOF())
    assert pair.audits()[0][0] == "fault"
    assert requests(pair.debugger_got()) == ["continue", "disconnect"]


def test_an_ide_disconnect_is_forwarded_and_its_answer_ends_the_session(pair: Pair) -> None:
    pair.attach()
    pair.ide_sends(Request(3, "disconnect", {}), Request(4, "threads"))
    assert pair.debugger_got() == [Request(3, "disconnect", {})]  # nothing after it
    assert not pair.conv.wants_client_data
    pair.debugger_sends(Response(9, 3, True, "disconnect"))
    assert pair.ide_got() == [Response(9, 3, True, "disconnect")]
    assert pair.close() == Close(reason="the IDE disconnected")


def test_the_debugger_closing_closes_the_ide(pair: Pair) -> None:
    pair.attach()
    pair.feed(UpstreamEOF())
    reason = "the debugger closed the connection"
    output, terminated = pair.ide_got()
    assert isinstance(output, Event)
    assert reason in output.body["output"]
    assert isinstance(terminated, Event)
    assert terminated.event == "terminated"
    assert pair.audits()[0] == ("fault", {"reason": reason})
    assert pair.close() == Close(reason=reason)


def test_garbage_from_the_debugger_ends_only_that_session(clock: Clock) -> None:
    slot, gate = Slot(), Gate(clock)
    pair = Pair(gate, slot)
    pair.attach()
    pair.feed(UpstreamBytes(data=b"HTTP/1.1 200 OK\r\n\r\n"))
    assert CloseUpstream(abort=True) in pair.actions
    reason = "header line b'HTTP/1.1 200 OK' has no colon"
    assert pair.audits()[0] == ("fault", {"reason": reason})
    assert pair.close() == Close(reason=reason)
    slot.release(pair.conv)
    other = Pair(gate, slot)
    other.attach()  # the next IDE gets in


def test_malformed_frames_from_the_ide_close_only_that_conversation(clock: Clock) -> None:
    slot, gate = Slot(), Gate(clock)
    bad = Pair(gate, slot)
    bad.feed(ClientBytes(data=b"Content-Length: nope\r\n\r\n{}"))
    assert bad.close().refusal is None
    assert bad.audits()[0][0] == "fault"
    good = Pair(gate, slot)
    good.attach()


def test_a_frame_fed_one_byte_at_a_time_and_with_trailing_data(pair: Pair) -> None:
    data = encode(INITIALIZE)
    for i in range(len(data) - 1):
        assert pair.feed(ClientBytes(data=data[i : i + 1])) == []
    pair.feed(ClientBytes(data=data[-1:]))
    assert len(pair.ide_got()) == 1
    attach = encode(ATTACH)
    actions = pair.feed(ClientBytes(data=attach + encode(Request(3, "threads"))[:10]))
    assert only(actions, ConnectUpstream)
    pair.feed(UpstreamConnected())
    pair.debugger_sends(Response(5, 1, True, "initialize", body={}))
    pair.debugger_got()
    pair.feed(ClientBytes(data=encode(Request(3, "threads"))[10:]))
    assert pair.debugger_got() == [Request(3, "threads")]  # the trailing piece completed


def test_the_debugger_dying_mid_frame_gets_the_ide_no_last_words(pair: Pair) -> None:
    pair.attach()
    body = encode(Response(9, 3, True, "variables", body={"v": "x" * 1000}))
    pair.feed(UpstreamBytes(data=body[:300]))
    pair.feed(UpstreamEOF())
    reason = "the debugger closed the connection in the middle of a message"
    assert pair.audits()[0] == ("fault", {"reason": reason})
    assert pair.ide.pending  # part of one frame, and nothing after it
    assert pair.close() == Close(reason=reason)


def test_a_debugger_that_never_answers_disconnect_is_left_after_a_while(pair: Pair) -> None:
    pair.attach()
    pair.ide_sends(Request(3, "disconnect", {}))
    pair.feed(TimerFired())
    assert pair.close() == Close(reason="the IDE disconnected")

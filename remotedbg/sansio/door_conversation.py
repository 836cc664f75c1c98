"""One IDE's conversation with the door, as a pure object: events in, actions out.

In the style of h11's ``Connection``: no sockets, no clock, no tasks. The shell
(``remotedbg.door.session``) reports what happened (`door_events`) and carries out the
actions it gets back, in order; tests drive it with plain bytes.

The door, not debugpy, answers ``initialize`` (VS Code sends ``attach`` only after that
answer), and nothing reaches debugpy before an ``attach`` whose token the policy accepts;
until then a peer may send only small requests. Then the IDE's ``initialize`` and its
``attach`` (without the token) are replayed to debugpy, and the session is a proxy: IDE ->
debugger is parsed (requests are small, ``disconnect`` ends the session), debugger -> IDE
passes as it arrives (`UpstreamLink`). Every way a session ends resumes the app.
"""

from __future__ import annotations

import enum
import typing as t

from ..errors import ProtocolError, RefusalKind
from . import door_admission as admission
from . import door_events as ev
from .dap_codec import NEED_DATA, Decoder, Event, Message, Request, Response, encode
from .door_admission import BUSY, Gatekeeper, Slot
from .door_messages import (
    AUTHORIZE_FIELD,
    adapter_capabilities,
    capability_changes,
    explain,
    for_shared_box,
)
from .door_upstream import UpstreamLink
from .refusals import refusal_body

if t.TYPE_CHECKING:
    from .access_policy import Verdict

__all__ = ["DoorConversation", "Phase"]

#: Connecting to debugpy and its answers to the secret and ``initialize``.
UPSTREAM_TIMEOUT = 10.0
#: How long to wait for debugpy to answer the ``disconnect`` that resumes the app.
RELEASE_TIMEOUT = 2.0
#: How long a closing session waits for the IDE's stream to reach a frame boundary.
FLUSH_TIMEOUT = 1.0
#: The kind the IDE's side reads (remotedbg.sansio.refusals) for each of our reasons.
_ON_THE_WIRE = {
    ev.RefusalKind.BUSY: RefusalKind.BUSY,
    ev.RefusalKind.UNSUPPORTED_COMMAND: RefusalKind.UNSUPPORTED,
    ev.RefusalKind.ATTACH_BEFORE_INITIALIZE: RefusalKind.UNSUPPORTED,
    ev.RefusalKind.PEER_NOT_ALLOWED: RefusalKind.PEER,
    ev.RefusalKind.WINDOW_CLOSED: RefusalKind.EXPIRED,
    ev.RefusalKind.TOKEN_MISSING: RefusalKind.TOKEN,
    ev.RefusalKind.TOKEN_NOT_STRING: RefusalKind.TOKEN,
    ev.RefusalKind.TOKEN_WRONG: RefusalKind.TOKEN,
    ev.RefusalKind.UPSTREAM_UNREACHABLE: RefusalKind.UNAVAILABLE,
}
CLIENT_CLOSED = "the IDE closed the connection"
UPSTREAM_CLOSED = "the debugger closed the connection"


class Phase(enum.Enum):
    """Where the conversation is; only HANDSHAKE and ATTACHED read the IDE."""

    HANDSHAKE = "answering initialize, waiting for attach"
    THROTTLED = "waiting before acting on the token's verdict"
    CONNECTING = "connecting to the debugger"
    PROVING = "waiting for the debugger to accept the bridge's secret"
    INITIALIZING = "waiting for the debugger's answer to initialize"
    ATTACHED = "proxying"
    HUSHING = "ending: waiting for a frame boundary to tell the IDE"
    RELEASING = "ending: waiting for the debugger to answer disconnect"
    CLOSED = "closed"


class DoorConversation:
    """One accepted connection, from its first byte to its `Close`; owns the slot's claim."""

    def __init__(self, peer: str, policy: Gatekeeper, slot: Slot) -> None:
        self.peer = peer
        self.policy = policy
        self.slot = slot
        self.phase = Phase.HANDSHAKE
        #: True once the IDE has sent ``attach``: the bridge drops idle connections first.
        self.attaching = False
        # Small requests only, until an attach proves the token.
        self.decoder = Decoder(admission.PRE_ATTACH_MAX_MESSAGE)
        #: The debugger's side; one today, the seam for several worker processes later.
        self.link = UpstreamLink()
        self._out: list[ev.Action] = []
        self._seq = 0  # our messages to the IDE
        self._initialize: Request | None = None
        self._attach: Request | None = None
        self._verdict: Verdict | None = None
        self._released = False  # the awaited answer came while HUSHING
        self._reason = ""  # why the session ends, once it is ending
        self._words = ""  # what to tell the IDE once its stream is between frames

    @property
    def wants_client_data(self) -> bool:
        """Whether the shell should read the IDE now (it holds off while we wait)."""
        return self.phase is Phase.HANDSHAKE or self.phase is Phase.ATTACHED

    @property
    def max_read(self) -> int:
        """Reads no larger than this: a peer held to small requests cannot make one hold more."""
        return self.decoder.max_message_size

    @property
    def forwarding(self) -> bool:
        """Whether debugger bytes still go to the IDE (if not, reading them must not pause)."""
        return self.link.tracker.forwarding

    def handle(self, event: ev.Event) -> list[ev.Action]:
        """Take one event; return what to do, in order. A closed conversation does nothing."""
        out = self._out = []
        if self.phase is Phase.CLOSED:
            return out
        if isinstance(event, ev.UpstreamBytes):
            self._from_upstream(event.data)
        elif isinstance(event, ev.ClientBytes):
            self.decoder.receive_data(event.data)
            self._from_client()
        elif isinstance(event, ev.ClientEOF):
            self.decoder.receive_data(b"")
            self._from_client()
        elif isinstance(event, ev.ClientLost):
            if self.wants_client_data:
                self._client_gone(event.reason, fault=True)
        elif isinstance(event, ev.UpstreamEOF):
            self._upstream_eof()
        elif isinstance(event, ev.UpstreamLost):
            self._upstream_gone(event.reason or UPSTREAM_CLOSED)
        elif isinstance(event, ev.UpstreamConnected):
            self.link.guarded = event.guarded
            self._connected(event.secret)
        elif isinstance(event, ev.UpstreamFailed):
            if self.phase is Phase.CONNECTING:
                self._unreachable(event.reason)
        elif isinstance(event, ev.TimerFired):
            self._timer_fired()
        elif isinstance(event, ev.HandshakeTimeout):
            if self.phase is Phase.HANDSHAKE or self.phase is Phase.THROTTLED:
                self._audit("fault", reason="handshake timeout")
                self._close(ev.Close(reason="handshake timeout"))
        elif isinstance(event, ev.Stop):
            self._stop(event.reason)
        return out

    # -- the IDE ------------------------------------------------------------------------

    def _from_client(self) -> None:
        try:
            while self.wants_client_data:
                msg = self.decoder.next_message()
                if msg is NEED_DATA:
                    return
                if msg is None:
                    self._client_gone(CLIENT_CLOSED, fault=False)
                elif self.phase is Phase.HANDSHAKE:
                    self._handshake(msg)
                else:
                    self._forward(msg)
        except ProtocolError as exc:
            self._client_gone(explain(exc), fault=True)

    def _client_gone(self, reason: str, *, fault: bool) -> None:
        if fault:
            self._audit("fault", reason=reason)
        if self.phase is Phase.HANDSHAKE:
            self._close(ev.Close(reason=reason, linger=not fault))
        else:
            self.link.tracker.forwarding = False
            self._out += self.link.release()
            self._until_answered(reason)

    def _handshake(self, msg: Message) -> None:
        if not isinstance(msg, Request):
            raise ProtocolError(f"the IDE sent a {type(msg).__name__.lower()} before attach")
        holder = self.slot.other(self)
        if holder is not None:
            # The log may name who is attached; a peer without the token is not told.
            self._audit("refused", reason="another IDE is already attached", attached=holder)
            self._refuse(msg, ev.RefusalKind.BUSY, BUSY)
        elif msg.command == "initialize" and self._initialize is None:
            self._initialize = msg
            self._answer(msg, success=True, body=adapter_capabilities())
        elif msg.command != "attach":
            text = f'remotedbg only supports attach, not "{msg.command}"'
            self._refuse(msg, ev.RefusalKind.UNSUPPORTED_COMMAND, text)
        elif self._initialize is None:
            text = "remotedbg: send initialize before attach"
            self._refuse(msg, ev.RefusalKind.ATTACH_BEFORE_INITIALIZE, text)
        else:
            self.attaching = True
            self._attach = msg
            self._admit(msg)

    def _admit(self, attach: Request) -> None:
        """Check the peer (again: windows end) and the token, waiting as the policy says.

        The token's verdict is taken, and audited, before the wait, so a guess counts even
        if its connection goes; it is acted on only after, so a guesser learns nothing
        sooner.
        """
        if not self._still_welcome(attach):
            return
        verdict = self.policy.verdict(self.peer, attach.arguments)
        if verdict.problem is not None:
            self._audit("token_rejected", reason=verdict.problem)
        if verdict.delay > 0:
            self._audit("throttled", reason=verdict.throttled, delay=round(verdict.delay, 2))
            self._verdict = verdict
            self.phase = Phase.THROTTLED
            self._out.append(ev.Wait(seconds=verdict.delay))
            return
        self._decide(attach, verdict)

    def _decide(self, attach: Request, verdict: Verdict) -> None:
        if verdict.problem is not None:
            self._refuse(attach, admission.refusal_for(verdict.denial), verdict.problem)
        elif not self.slot.claim(self, self.peer):  # another IDE got in during the wait
            self._audit(
                "refused", reason="another IDE is already attached", attached=self.slot.peer
            )
            self._refuse(attach, ev.RefusalKind.BUSY, BUSY)
        else:
            # Admitted: the IDE may now send requests of any normal size.
            self.decoder.max_message_size = admission.CLIENT_MAX_MESSAGE
            self.phase = Phase.CONNECTING
            self._out += [ev.ConnectUpstream(), ev.Wait(seconds=UPSTREAM_TIMEOUT)]

    def _still_welcome(self, attach: Request) -> bool:
        denial = self.policy.peer_denial(self.peer)
        if denial is None:
            return True
        self._audit("refused", reason=denial.reason)
        self._refuse(attach, admission.refusal_for(denial.kind), f"remotedbg: {denial.reason}")
        return False

    def _forward(self, msg: Message) -> None:
        self._out.append(self.link.forward(msg))
        if isinstance(msg, Request) and msg.command == "disconnect":  # its answer ends it all
            self._until_answered("the IDE disconnected")

    # -- the debugger -------------------------------------------------------------------

    def _connected(self, secret: str | None) -> None:
        if self.phase is not Phase.CONNECTING:
            return
        if secret is None:
            self._ask_initialize()
        else:
            # The bridge proves itself to pydevd before anything of the IDE's goes through.
            self.phase = Phase.PROVING
            authorize = Request(0, "pydevdAuthorize", {AUTHORIZE_FIELD: secret})
            self._out.append(self.link.ask(authorize))

    def _ask_initialize(self) -> None:
        assert self._initialize is not None  # noqa: S101 - CONNECTING comes after it
        self.phase = Phase.INITIALIZING
        self._out.append(self.link.ask(self._initialize))  # the IDE already has our answer

    def _from_upstream(self, data: bytes) -> None:
        try:
            answer = self.link.receive(data, self._out)
        except ProtocolError as exc:
            self._upstream_gone(explain(exc), abort=True)
            return
        if answer is not None:
            self._answered(answer)
        if self.phase is Phase.HUSHING and self.link.tracker.hushed:
            self._hushed()

    def _answered(self, answer: Response) -> None:
        phase = self.phase
        if phase is Phase.PROVING:
            if answer.success:
                self._ask_initialize()
            else:
                why = f"it refused the bridge's secret: {answer.message}"
                self._unreachable(explain(ConnectionError(why)))
        elif phase is Phase.INITIALIZING:
            if answer.success:
                self._start_session(answer)
            else:
                why = f"it refused initialize: {answer.message}"
                self._unreachable(explain(ConnectionError(why)))
        elif phase is Phase.HUSHING:
            self._released = True
        elif phase is Phase.RELEASING:
            self._finish(self._reason)

    def _start_session(self, answer: Response) -> None:
        assert self._attach is not None  # noqa: S101 - INITIALIZING comes after it
        body = answer.body if isinstance(answer.body, dict) else {}
        changes = capability_changes(adapter_capabilities(), body)
        if changes:
            self._event("capabilities", {"capabilities": changes})
        self._out.append(self.link.send(for_shared_box(self._attach)))
        self.phase = Phase.ATTACHED
        self._audit("attached")
        self._out.append(ev.Attached())
        self._from_client()  # requests that came right behind the attach

    def _upstream_eof(self) -> None:
        try:
            self.link.receive_eof(self._out)
        except ProtocolError as exc:
            self._upstream_gone(explain(exc))
            return
        self._upstream_gone(UPSTREAM_CLOSED)

    def _upstream_gone(self, reason: str, *, abort: bool = False) -> None:
        phase = self.phase
        if phase is Phase.PROVING or phase is Phase.INITIALIZING:
            self._unreachable(explain(ConnectionError(reason)), abort=abort)
        elif phase is Phase.ATTACHED:
            self._audit("fault", reason=reason)
            if self.link.tracker.hush():
                self._last_words(f"remotedbg: the debug session ended: {reason}")
            self._finish(reason, abort=abort)
        elif phase is Phase.HUSHING or phase is Phase.RELEASING:
            self._finish(self._reason, abort=abort)

    def _unreachable(self, reason: str, *, abort: bool = False) -> None:
        assert self._attach is not None  # noqa: S101 - only an attach reaches for debugpy
        message = f"remotedbg: the debugger is not reachable ({reason})"
        self._audit("fault", reason=message)
        if self.phase is Phase.PROVING or self.phase is Phase.INITIALIZING:
            self._out.append(ev.CloseUpstream(abort=abort))
        self._refuse(self._attach, ev.RefusalKind.UPSTREAM_UNREACHABLE, message)

    # -- time and endings ---------------------------------------------------------------

    def _timer_fired(self) -> None:
        phase = self.phase
        if phase is Phase.THROTTLED:
            assert self._attach is not None  # noqa: S101 - THROTTLED comes after both
            assert self._verdict is not None  # noqa: S101
            if self._still_welcome(self._attach):
                self._decide(self._attach, self._verdict)
        elif phase in (Phase.CONNECTING, Phase.PROVING, Phase.INITIALIZING):
            self._unreachable(explain(TimeoutError()))
        elif phase is Phase.HUSHING:  # the frame did not end in time: no last words
            self.link.tracker.forwarding = False
            self._after_words()
        elif phase is Phase.RELEASING:
            self._finish(self._reason)

    def _stop(self, reason: str) -> None:
        phase = self.phase
        if phase is Phase.ATTACHED:
            self._out += self.link.release()
            self._reason = reason
            self._words = f"remotedbg: the debug window ended ({reason}); the app runs on"
            if self.link.tracker.hush():
                self._hushed()
            else:  # let the frame under way reach the IDE whole first
                self.phase = Phase.HUSHING
                self._out.append(ev.Wait(seconds=FLUSH_TIMEOUT))
        elif phase is not Phase.HUSHING and phase is not Phase.RELEASING:
            if phase is Phase.PROVING or phase is Phase.INITIALIZING:
                self._out.append(ev.CloseUpstream())
            self._close(ev.Close(reason=reason))  # not attached: just drop

    def _hushed(self) -> None:
        self._last_words(self._words)
        self._after_words()

    def _after_words(self) -> None:
        if self._released:
            self._finish(self._reason)
        else:
            self.phase = Phase.RELEASING
            self._out.append(ev.Wait(seconds=RELEASE_TIMEOUT))

    def _until_answered(self, reason: str) -> None:
        """End when the debugger answers what the link awaits, or goes, or after a while."""
        self._reason = reason
        self.phase = Phase.RELEASING
        self._out.append(ev.Wait(seconds=RELEASE_TIMEOUT))

    def _finish(self, reason: str, *, abort: bool = False) -> None:
        self.link.tracker.forwarding = False
        self._out.append(ev.CloseUpstream(abort=abort))
        self._audit("detached", reason=reason)
        self._out.append(ev.Detached())
        self._close(ev.Close(reason=reason))

    def _close(self, close: ev.Close) -> None:
        self.phase = Phase.CLOSED
        self._out.append(close)

    # -- what we say ----------------------------------------------------------------------

    def _refuse(self, request: Request, kind: ev.RefusalKind, message: str) -> None:
        # `body.error` is what VS Code shows in its error dialog; its kind is for code.
        body = refusal_body(_ON_THE_WIRE[kind], message)
        self._answer(request, success=False, body=body, message=message)
        self._close(ev.Close(reason=message, refusal=kind, linger=True))

    def _answer(
        self, request: Request, *, success: bool, body: t.Any = None, message: str | None = None
    ) -> None:
        response = Response(self._next_seq(), request.seq, success, request.command, message, body)
        self._out.append(ev.SendToClient(data=encode(response)))

    def _last_words(self, text: str) -> None:
        self._event("output", {"category": "important", "output": text + "\n"})
        self._event("terminated", {})

    def _event(self, name: str, body: t.Any) -> None:
        self._out.append(ev.SendToClient(data=encode(Event(self._next_seq(), name, body))))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _audit(self, event: str, **fields: object) -> None:
        self._out.append(ev.Audit(event=event, fields=fields))

"""The worker multiplexer's parts (`worker_mux.py`): what it emits, knows and writes itself.

Kept apart so that the multiplexer is only about where a message goes: here are its
actions, the id arithmetic of the seeded ranges, what it remembers of each worker and of
the IDE's configuration, the cheap look at a big frame's head, and the answers it gives
when no worker can.
"""

from __future__ import annotations

import enum
import re
import typing as t
from dataclasses import dataclass, field

from .dap_codec import Decoder, Event, Request, Response, encode
from .door_messages import adapter_capabilities

__all__ = [
    "MAX_REMEMBERED_SOURCES",
    "MAX_SLOTS",
    "PRIVATE_SEQ_BASE",
    "STRIDE",
    "Action",
    "CloseWorker",
    "Configuration",
    "Kind",
    "Pending",
    "Purpose",
    "ToIDE",
    "ToWorker",
    "TooManyWorkers",
    "WorkerConfigured",
    "WorkerState",
    "error_response",
    "event_frame",
    "local_answer",
    "prefixed_threads",
    "response_frame",
    "routing_id",
    "sniff_request_seq",
]

#: Each worker's pydevd hands out ids in ``slot * STRIDE + 1 ...``: the slot is ``id // STRIDE``.
STRIDE = 1 << 24
#: Slots 1..127 keep every id under 2**31, for clients that hold ids in a Java ``int``.
MAX_SLOTS = 127
#: The mux's own request and message numbers start here, far above any IDE's counter.
PRIVATE_SEQ_BASE = 1 << 30


@dataclass(frozen=True, slots=True, kw_only=True)
class ToIDE:
    """Bytes for the IDE's side (the conversation), always whole frames."""

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ToWorker:
    """Bytes for the DAP session of the worker in `slot`."""

    slot: int
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseWorker:
    """Close the worker's DAP session (after writing what came before); `reason` is for logs."""

    slot: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfigured:
    """The worker has the IDE's configuration: it may let its request run into breakpoints."""

    slot: int


Action = ToIDE | ToWorker | CloseWorker | WorkerConfigured


class TooManyWorkers(RuntimeError):
    """Every slot is taken: one more worker would leave the seeded id ranges."""


#: Source files with breakpoints remembered for replay.
MAX_REMEMBERED_SOURCES = 4096


class Kind(enum.Enum):
    """How the workers' answers to an IDE request become the IDE's one answer."""

    ROUTED = "one worker answers; its answer passes through"
    FIRST = "every worker answers; the first answer passes through once all have answered"
    MERGE = "every worker answers; the answers are merged"


class Purpose(enum.Enum):
    """Why the mux sent one of its own requests: what its answer means."""

    AUTHORIZE = enum.auto()
    REPLAY = enum.auto()
    CONFIGURE = enum.auto()  # its answer means the worker is configured
    CONTINUE = enum.auto()


@dataclass(slots=True, eq=False)
class Pending:
    """An IDE request awaiting the answers of the workers in `waiting`."""

    request: Request
    kind: Kind
    waiting: set[int]
    answered: bool = False  # the IDE has its answer; later ones are swallowed
    #: The first worker's answer to a configuration request, held until every worker has
    #: it: once the IDE is answered it runs the request it wants to stop, on any worker.
    first: bytes | None = None
    threads: dict[int, list[dict[str, t.Any]]] = field(default_factory=dict)
    since: float | None = None  # the first tick that saw a merge


@dataclass(slots=True, eq=False)
class WorkerState:
    """One worker process (a slot) and, while `decoder` is set, its DAP session."""

    slot: int
    pid: int
    secret: str | None
    decoder: Decoder | None = None
    private: dict[int, Purpose] = field(default_factory=dict)  # the mux's requests
    threads: set[int] = field(default_factory=set)  # bounded by the worker's threads
    stopped: set[int] = field(default_factory=set)
    configured: bool = False

    def track(self, event: str, facts: t.Mapping[str, t.Any]) -> None:
        """Follow stops and threads, for `continue` and for the exits when it goes."""
        thread = facts.get("threadId")
        if event == "continued" and facts.get("allThreadsContinued") is True:
            self.stopped.clear()
        elif type(thread) is not int:
            return
        elif event == "stopped":
            self.stopped.add(thread)
            self.threads.add(thread)
        elif event == "continued" or (event == "thread" and facts.get("reason") == "exited"):
            self.stopped.discard(thread)
            if event == "thread":
                self.threads.discard(thread)
        elif event == "thread":
            self.threads.add(thread)

    def resumed(self, body: t.Any) -> None:
        """A ``continue`` succeeded: pydevd resumed all its threads unless it says otherwise."""
        if not isinstance(body, dict) or body.get("allThreadsContinued", True):
            self.stopped.clear()

    def forget_session(self) -> None:
        self.decoder = None
        self.threads.clear()
        self.stopped.clear()
        self.private.clear()
        self.configured = False


class Configuration:
    """The IDE session's set-up, latest of each kind, to replay to a worker that comes later."""

    def __init__(self) -> None:
        self.initialize: Request | None = None
        self.attach: Request | None = None
        self.done = False  # the IDE sent configurationDone
        self._breakpoints: dict[str, Request] = {}  # per source path
        self._latest: dict[str, Request] = {}  # function and exception breakpoints
        self._properties: dict[str, t.Any] = {}  # setDebuggerProperty, merged

    def remember(self, request: Request) -> bool:
        """Keep `request` if it is configuration; False if there are too many files to keep."""
        command = request.command
        args = request.arguments or {}
        if command == "initialize":
            self.initialize = request
        elif command == "attach":
            self.attach = request
        elif command == "configurationDone":
            self.done = True
        elif command in ("setFunctionBreakpoints", "setExceptionBreakpoints"):
            self._latest[command] = request
        elif command == "setDebuggerProperty":
            self._properties.update(args)
        elif command == "setBreakpoints":
            source = args.get("source")
            key = (source.get("path") or source.get("name")) if isinstance(source, dict) else None
            if not isinstance(key, str):
                return True
            if not args.get("breakpoints"):
                self._breakpoints.pop(key, None)  # cleared: nothing to replay
            elif key in self._breakpoints or len(self._breakpoints) < MAX_REMEMBERED_SOURCES:
                self._breakpoints[key] = request
            else:
                return False
        return True

    def replay(self) -> list[tuple[Request, bool]]:
        """What a new worker session gets, each with whether its answer is the go-ahead.

        That is the ``configurationDone``; if the IDE has not sent one yet, the ``attach``.
        """
        steps: list[tuple[Request, bool]] = []
        if self.initialize is not None:
            steps.append((self.initialize, False))
        if self.attach is None:
            return steps
        steps.append((self.attach, not self.done))
        if self._properties:
            steps.append((Request(0, "setDebuggerProperty", self._properties), False))
        steps += [(request, False) for request in self._breakpoints.values()]
        steps += [(request, False) for request in self._latest.values()]
        if self.done:
            steps.append((Request(0, "configurationDone"), True))
        return steps


#: Arguments whose value names the worker that handed it out, most specific first.
_ROUTING_KEYS = ("frameId", "threadId", "variablesReference", "sourceReference")


def _positive(value: object) -> t.TypeGuard[int]:
    return type(value) is int and value > 0


def routing_id(arguments: t.Mapping[str, t.Any]) -> tuple[str, int] | None:
    """The (argument name, id) that routes a request, or None if it carries no id.

    Generic on purpose: any command that names a thread, frame, variable container or
    source reference goes where that id came from, including commands we have not heard of.
    """
    for key in _ROUTING_KEYS:
        value = arguments.get(key)
        if _positive(value):
            return key, value
    ids = arguments.get("threadIds")
    if isinstance(ids, list) and ids and _positive(ids[0]):
        return "threadIds", ids[0]
    source = arguments.get("source")
    reference = source.get("sourceReference") if isinstance(source, dict) else None
    if _positive(reference):
        return "sourceReference", reference
    return None


#: How much of a big frame's start is searched, and the fields looked for there.
_HEAD = 512
_TYPE = re.compile(rb'"type"\s*:\s*"([a-z]+)"')
_REQUEST_SEQ = re.compile(rb'"request_seq"\s*:\s*(\d{1,18})\b')


def sniff_request_seq(body: bytes) -> int | None:
    """A big response's ``request_seq``, read from its first bytes without decoding it.

    pydevd writes ``type`` and ``request_seq`` first and ``body`` last. Only what comes
    before a ``"body"`` key is searched: inside strings quotes are escaped, so a value
    cannot fake the fields. None means "not a response, or not one we can tell".
    """
    head = body[:_HEAD].split(b'"body"', 1)[0]
    kind = _TYPE.search(head)
    if kind is None or kind.group(1) != b"response":
        return None
    seq = _REQUEST_SEQ.search(head)
    return int(seq.group(1)) if seq else None


def response_frame(
    seq: int,
    request: Request,
    *,
    success: bool = True,
    body: t.Any = None,
    message: str | None = None,
) -> bytes:
    """The frame answering `request`, numbered `seq`."""
    return encode(Response(seq, request.seq, success, request.command, message, body))


def error_response(seq: int, request: Request, message: str) -> bytes:
    """A failed answer; `body.error` is what VS Code shows."""
    body = {"error": {"id": 1, "format": message, "showUser": False}}
    return response_frame(seq, request, success=False, body=body, message=message)


def event_frame(seq: int, name: str, body: t.Any) -> bytes:
    return encode(Event(seq, name, body))


def local_answer(request: Request) -> tuple[bool, t.Any, str | None] | None:
    """(success, body, message) for a request no worker can answer, or None if unknown.

    Configuration succeeds with nobody there, so the IDE finishes attaching and the
    configuration is replayed to each worker that connects; breakpoints are reported
    verified at the lines asked for, since a worker will get them.
    """
    command = request.command
    args = request.arguments or {}
    if command == "initialize":
        return True, adapter_capabilities(), None
    if command == "setBreakpoints":
        asked = args.get("breakpoints")
        lines = [bp.get("line") for bp in asked if isinstance(bp, dict)] if asked else []
        return True, {"breakpoints": [{"verified": True, "line": n} for n in lines]}, None
    if command == "setFunctionBreakpoints":
        asked = args.get("breakpoints")
        count = len(asked) if isinstance(asked, list) else 0
        return True, {"breakpoints": [{"verified": True} for _ in range(count)]}, None
    if command == "threads":
        return True, {"threads": []}, None
    if command == "continue":
        return True, {"allThreadsContinued": True}, None
    if command == "pydevdAuthorize":
        return True, {"clientAccessToken": None}, None
    if command in (
        "attach",
        "setExceptionBreakpoints",
        "configurationDone",
        "setDebuggerProperty",
        "disconnect",
        "terminate",
    ):
        return True, None, None
    return None


def prefixed_threads(pid: int, body: t.Any) -> list[dict[str, t.Any]]:
    """A worker's ``threads`` answer, each name prefixed with its pid so the IDE can tell."""
    threads = body.get("threads") if isinstance(body, dict) else None
    if not isinstance(threads, list):
        return []
    return [
        {**thread, "name": f"pid {pid}: {thread.get('name', '')}"}
        for thread in threads
        if isinstance(thread, dict) and _positive(thread.get("id"))
    ]

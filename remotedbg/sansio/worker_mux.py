"""Several worker processes behind one door: N pydevd sessions that look like one.

The door's conversation talks to one "upstream"; with ``gunicorn -w 4`` there are four
pydevd instances, one per worker. This object is that upstream, h11-style: bytes in
(`receive_from_ide`, `receive_from_worker`), actions out (`ToIDE`, `ToWorker`,
`CloseWorker`, `WorkerConfigured`), no sockets, clock or tasks.

Why nothing is rewritten: each worker seeds its pydevd so that every id it hands out
(threadId, frameId, variablesReference, sourceReference) lies in its own range,
``slot * STRIDE + 1 ...``. Ids of two workers never collide, so a worker's responses and
events go to the IDE byte for byte (a 10 MB variable is never decoded), and an IDE request
goes to the worker named by the id it carries (``slot = id // STRIDE``). Requests keep the
IDE's seq, so answers map back by ``request_seq``; the mux's own requests use seqs from
``PRIVATE_SEQ_BASE`` and their answers are kept from the IDE.

What is not seeded is handled here: configuration (breakpoints, exception filters,
``configurationDone``) goes to every worker and is remembered, to be replayed to a worker
that connects later; the IDE gets one answer, and ``breakpoint`` events (whose ids collide)
are dropped. ``threads`` is merged, names prefixed with the pid. ``continue`` resumes the
other stopped workers too, as one pydevd resumes all its threads. One worker leaving never
ends the IDE's session: its threads exit and what waited for it is answered.

Frames from a worker are handed on whole (a worker dying mid-frame must not leave half a
frame in the IDE's stream); only frames under `PEEK_LIMIT` are decoded, bigger ones have
their head sniffed for ``request_seq``.
"""

from __future__ import annotations

from ..errors import ProtocolError
from .dap_codec import NEED_DATA, Decoder, Event, Request, Response, encode, frame, parse_message
from .door_framing import PEEK_LIMIT
from .door_messages import AUTHORIZE_FIELD, explain
from .worker_state import (
    MAX_REMEMBERED_SOURCES,
    MAX_SLOTS,
    PRIVATE_SEQ_BASE,
    STRIDE,
    Action,
    CloseWorker,
    Configuration,
    Kind,
    Pending,
    Purpose,
    ToIDE,
    TooManyWorkers,
    ToWorker,
    WorkerConfigured,
    WorkerState,
    error_response,
    event_frame,
    local_answer,
    prefixed_threads,
    response_frame,
    routing_id,
    sniff_request_seq,
)

__all__ = [
    "MAX_PENDING",
    "MAX_REMEMBERED_SOURCES",
    "MERGE_TIMEOUT",
    "STRIDE",
    "Action",
    "CloseWorker",
    "ToIDE",
    "ToWorker",
    "TooManyWorkers",
    "WorkerConfigured",
    "WorkerMux",
]

#: Seconds a ``threads`` merge waits (counted from the first `tick` that sees it).
MERGE_TIMEOUT = 2.0
#: IDE requests in flight at once; beyond this the IDE is refused rather than remembered.
MAX_PENDING = 4096
#: Events that would end or confuse the IDE's one session if a single worker sent them.
_DROPPED_EVENTS = frozenset({"terminated", "exited", "breakpoint"})
#: Configuration that every worker gets, the IDE answered once.
_BROADCAST = frozenset(
    {
        "initialize",
        "attach",
        "setBreakpoints",
        "setFunctionBreakpoints",
        "setExceptionBreakpoints",
        "setDebuggerProperty",
        "configurationDone",
    }
)


class WorkerMux:
    """Looks like one pydevd to the door's conversation; speaks to each worker's pydevd."""

    def __init__(self, *, max_workers: int = MAX_SLOTS) -> None:
        if not 1 <= max_workers <= MAX_SLOTS:
            raise ValueError(f"max_workers must be 1..{MAX_SLOTS}, got {max_workers}")
        self.max_workers = max_workers
        self._workers: dict[int, WorkerState] = {}
        self._seq = PRIVATE_SEQ_BASE
        self._reset_ide_session()

    def _reset_ide_session(self) -> None:
        self._ide = Decoder()
        self._pending: dict[int, Pending] = {}
        self._config = Configuration()
        self._initialized_sent = False
        self._process_sent = False
        self._focus: int | None = None  # the slot of the latest `stopped` event

    # -- the workers --------------------------------------------------------------------

    @property
    def workers(self) -> dict[int, int]:
        """Slot -> pid of every registered worker."""
        return {slot: w.pid for slot, w in sorted(self._workers.items())}

    def is_open(self, slot: int) -> bool:
        """Whether the worker in `slot` has a DAP session open."""
        worker = self._workers.get(slot)
        return worker is not None and worker.decoder is not None

    def add_worker(self, pid: int, secret: str | None) -> int:
        """Reserve the lowest free slot for `pid`; the worker seeds its ids with it."""
        if any(w.pid == pid for w in self._workers.values()):
            raise ValueError(f"worker pid {pid} already has a slot")
        for slot in range(1, self.max_workers + 1):
            if slot not in self._workers:
                self._workers[slot] = WorkerState(slot, pid, secret or None)
                return slot
        raise TooManyWorkers(
            f"all {self.max_workers} worker slots are taken; pid {pid} cannot be debugged"
        )

    def worker_session_open(self, slot: int) -> list[Action]:
        """The worker's pydevd is connected: prove the secret, then replay the IDE's set-up."""
        worker = self._worker(slot)
        if worker.decoder is not None:
            raise RuntimeError(f"the session of worker slot {slot} is already open")
        worker.decoder = Decoder()
        out: list[Action] = []
        if worker.secret is not None:
            # pydevd logs a client in only through pydevdAuthorize, before anything else.
            args = {AUTHORIZE_FIELD: worker.secret}
            self._ask(worker, Purpose.AUTHORIZE, Request(0, "pydevdAuthorize", args), out)
        for request, go_ahead in self._config.replay():
            self._ask(worker, Purpose.CONFIGURE if go_ahead else Purpose.REPLAY, request, out)
        return out

    def remove_worker(self, slot: int) -> list[Action]:
        """The worker died or was recycled: its threads exit, what waited for it is answered."""
        worker = self._workers.pop(slot, None)
        out: list[Action] = []
        if worker is not None and worker.decoder is not None:
            reason = f"worker pid {worker.pid} is gone"
            self._end_session(worker, reason, out)
            out.append(CloseWorker(slot=slot, reason=reason))
        return out

    def _worker(self, slot: int) -> WorkerState:
        worker = self._workers.get(slot)
        if worker is None:
            raise ValueError(f"no worker in slot {slot}")
        return worker

    # -- time ---------------------------------------------------------------------------

    @property
    def wants_tick(self) -> bool:
        """Whether a ``threads`` merge is waiting: the shell should call `tick` now and then."""
        return any(p.kind is Kind.MERGE and not p.answered for p in self._pending.values())

    def tick(self, now: float) -> list[Action]:
        """Answer ``threads`` merges that waited `MERGE_TIMEOUT` with what has come."""
        out: list[Action] = []
        for pending in list(self._pending.values()):
            if pending.kind is not Kind.MERGE or pending.answered:
                continue
            if pending.since is None:
                pending.since = now
            elif now - pending.since >= MERGE_TIMEOUT:
                self._answer_merge(pending, out)
        return out

    # -- the IDE ------------------------------------------------------------------------

    def receive_from_ide(self, data: bytes) -> list[Action]:
        """What the conversation sends upstream; raises ProtocolError for bytes not DAP."""
        self._ide.receive_data(data)
        out: list[Action] = []
        while True:
            msg = self._ide.next_message()
            if msg is NEED_DATA:
                return out
            if msg is None:
                return out + self.ide_gone()
            # The IDE's responses or events: pydevd makes no reverse requests, so none belong.
            if isinstance(msg, Request) and self._request(msg, out):
                return out

    def ide_gone(self) -> list[Action]:
        """The IDE's session ended: each worker resumes its threads and its session closes."""
        out: list[Action] = []
        for worker in self._open_workers():
            request = Request(self._next_seq(), "disconnect", {"terminateDebuggee": False})
            out.append(ToWorker(slot=worker.slot, data=encode(request)))
            self._end_session(worker, "", out, tell_ide=False)
            out.append(CloseWorker(slot=worker.slot, reason="the IDE session ended"))
        self._reset_ide_session()
        return out

    def _request(self, request: Request, out: list[Action]) -> bool:
        """Handle one IDE request; True if it ended the IDE's session."""
        command = request.command
        if command in ("disconnect", "terminate"):
            # Never to pydevd: `terminate` would kill a worker of the live server.
            out.append(ToIDE(data=response_frame(self._next_seq(), request)))
            out += self.ide_gone()
            return True
        if request.seq >= PRIVATE_SEQ_BASE or request.seq in self._pending:
            self._fail(request, f"remotedbg: request seq {request.seq} is not usable", out)
        elif len(self._pending) >= MAX_PENDING:
            self._fail(request, "remotedbg: too many requests are waiting for an answer", out)
        elif command == "pydevdAuthorize":  # each worker gets its own secret from us
            self._answer_locally(request, out)
        elif command in _BROADCAST:
            if self._config.remember(request):
                self._broadcast(request, Kind.FIRST, out)
            else:
                self._fail(request, "remotedbg: breakpoints in too many files", out)
        elif command == "threads":
            self._broadcast(request, Kind.MERGE, out)
        elif command == "continue" and not (request.arguments or {}).get("singleThread"):
            self._continue(request, out)
        else:
            self._route(request, out)
        return False

    def _broadcast(self, request: Request, kind: Kind, out: list[Action]) -> None:
        workers = self._open_workers()
        if not workers:
            self._answer_locally(request, out)
            return
        self._pending[request.seq] = Pending(request, kind, {w.slot for w in workers})
        data = encode(request)
        out += [ToWorker(slot=w.slot, data=data) for w in workers]

    def _continue(self, request: Request, out: list[Action]) -> None:
        """One pydevd resumes all its threads; the other stopped workers must resume too."""
        owner = None
        if routing_id(request.arguments or {}) is not None:
            owner = self._route(request, out)
            if owner is None:
                return
        for worker in self._open_workers():
            if worker is not owner and worker.stopped:
                resume = Request(0, "continue", {"threadId": min(worker.stopped)})
                self._ask(worker, Purpose.CONTINUE, resume, out)
        if owner is None:  # "continue everything" (threadId 0, as the door's release sends)
            self._answer_locally(request, out)

    def _route(self, request: Request, out: list[Action]) -> WorkerState | None:
        """Send `request` to the worker its id names (or the focused one); None if none."""
        found = routing_id(request.arguments or {})
        if found is None:
            worker = self._default_worker()
            if worker is None:
                self._fail(request, "remotedbg: no worker process is connected", out)
                return None
        else:
            key, ident = found
            worker = self._workers.get(ident // STRIDE)
            if worker is None or worker.decoder is None:
                text = f"remotedbg: {key} {ident} belongs to no connected worker process"
                self._fail(request, text, out)
                return None
        self._pending[request.seq] = Pending(request, Kind.ROUTED, {worker.slot})
        out.append(ToWorker(slot=worker.slot, data=encode(request)))
        return worker

    def _default_worker(self) -> WorkerState | None:
        """Where a request with no id goes: the worker that stopped last, else the first."""
        focus = self._workers.get(self._focus) if self._focus is not None else None
        if focus is not None and focus.decoder is not None:
            return focus
        workers = self._open_workers()
        return workers[0] if workers else None

    # -- the workers' bytes -------------------------------------------------------------

    def receive_from_worker(self, slot: int, data: bytes) -> list[Action]:
        """Bytes from a worker's pydevd, any chunking; ``b""`` is its end of stream.

        Bytes that are not DAP close that worker's session only.
        """
        out: list[Action] = []
        worker = self._workers.get(slot)
        if worker is None or worker.decoder is None:
            return out  # late bytes of a session already closed
        try:
            worker.decoder.receive_data(data)
            while worker.decoder is not None:
                body = worker.decoder.next_body()
                if body is NEED_DATA:
                    break
                if body is None:
                    reason = f"worker pid {worker.pid} closed its debug session"
                    self._end_session(worker, reason, out)
                    out.append(CloseWorker(slot=slot, reason=reason))
                    break
                self._from_worker(worker, body, out)
        except ProtocolError as exc:
            reason = f"worker pid {worker.pid} broke the protocol: {explain(exc)}"
            self._end_session(worker, reason, out)
            out.append(CloseWorker(slot=slot, reason=reason))
        return out

    def _from_worker(self, worker: WorkerState, body: bytes, out: list[Action]) -> None:
        if len(body) > PEEK_LIMIT:  # never decoded on the way: a big variable, an output
            seq = sniff_request_seq(body)
            if seq is None:
                out.append(ToIDE(data=frame(body)))
            else:
                self._response(worker, seq, body, None, out)
            return
        msg = parse_message(body)
        if isinstance(msg, Response):
            self._response(worker, msg.request_seq, body, msg, out)
        elif isinstance(msg, Event):
            self._event(worker, msg, body, out)
        # A request from pydevd (it makes none) would be answered by the IDE to nobody.

    def _response(
        self, worker: WorkerState, seq: int, body: bytes, msg: Response | None, out: list[Action]
    ) -> None:
        purpose = worker.private.pop(seq, None)
        if purpose is not None:
            self._private_answer(worker, purpose, msg, out)
            return
        pending = self._pending.get(seq)
        if pending is None or worker.slot not in pending.waiting:
            out.append(ToIDE(data=frame(body)))  # not ours to judge
            return
        pending.waiting.discard(worker.slot)
        command = pending.request.command
        if pending.kind is Kind.MERGE:
            # Our own threads request: read its answer even if big.
            reply = msg if msg is not None else parse_message(body)
            if isinstance(reply, Response) and reply.success:
                threads = prefixed_threads(worker.pid, reply.body)
                pending.threads[worker.slot] = threads
                worker.threads = {thread["id"] for thread in threads}
        elif pending.kind is Kind.FIRST:
            if pending.first is None:
                pending.first = frame(body)
        elif not pending.answered:
            pending.answered = True
            out.append(ToIDE(data=frame(body)))
            if command == "continue" and msg is not None and msg.success:
                worker.resumed(msg.body)
        if command == "configurationDone":
            self._configured(worker, out)
        if not pending.waiting:
            self._finish(pending, out)

    def _private_answer(
        self, worker: WorkerState, purpose: Purpose, msg: Response | None, out: list[Action]
    ) -> None:
        if purpose is Purpose.AUTHORIZE and msg is not None and not msg.success:
            reason = f"worker pid {worker.pid}: pydevd refused the secret ({msg.message})"
            self._end_session(worker, reason, out)
            out.append(CloseWorker(slot=worker.slot, reason=reason))
        elif purpose is Purpose.CONFIGURE:
            self._configured(worker, out)
        elif purpose is Purpose.CONTINUE and msg is not None and msg.success:
            worker.resumed(msg.body)

    def _event(self, worker: WorkerState, msg: Event, body: bytes, out: list[Action]) -> None:
        name = msg.event
        if name in _DROPPED_EVENTS:
            return
        if name == "initialized":
            if self._initialized_sent:
                return
            self._initialized_sent = True
        elif name == "process":
            if self._process_sent:
                return
            self._process_sent = True
        elif name == "stopped":
            self._focus = worker.slot
        worker.track(name, msg.body if isinstance(msg.body, dict) else {})
        out.append(ToIDE(data=frame(body)))

    def _configured(self, worker: WorkerState, out: list[Action]) -> None:
        if not worker.configured:
            worker.configured = True
            out.append(WorkerConfigured(slot=worker.slot))

    # -- endings and answers ------------------------------------------------------------

    def _end_session(
        self, worker: WorkerState, reason: str, out: list[Action], *, tell_ide: bool = True
    ) -> None:
        """Forget the worker's session: its threads exit, nothing waits for it any more."""
        if tell_ide:
            for thread in sorted(worker.threads | worker.stopped):
                body = {"reason": "exited", "threadId": thread}
                out.append(ToIDE(data=event_frame(self._next_seq(), "thread", body)))
        worker.forget_session()
        if self._focus == worker.slot:
            self._focus = None
        for pending in list(self._pending.values()):
            if worker.slot not in pending.waiting:
                continue
            pending.waiting.discard(worker.slot)
            if not tell_ide:
                continue
            if pending.kind is Kind.ROUTED:
                del self._pending[pending.request.seq]
                self._fail(pending.request, f"remotedbg: {reason}", out)
            elif not pending.waiting:
                self._finish(pending, out)

    def _finish(self, pending: Pending, out: list[Action]) -> None:
        """Everyone waited for has answered or gone."""
        del self._pending[pending.request.seq]
        if pending.answered:
            return
        if pending.first is not None:
            pending.answered = True
            out.append(ToIDE(data=pending.first))
        elif pending.kind is Kind.MERGE:
            self._answer_merge(pending, out)
        else:
            self._answer_locally(pending.request, out)

    def _answer_merge(self, pending: Pending, out: list[Action]) -> None:
        pending.answered = True
        merged = [thread for _, threads in sorted(pending.threads.items()) for thread in threads]
        data = response_frame(self._next_seq(), pending.request, body={"threads": merged})
        out.append(ToIDE(data=data))

    def _answer_locally(self, request: Request, out: list[Action]) -> None:
        answer = local_answer(request)
        if answer is None:
            self._fail(request, "remotedbg: no worker process is connected", out)
            return
        success, body, message = answer
        data = response_frame(
            self._next_seq(), request, success=success, body=body, message=message
        )
        out.append(ToIDE(data=data))
        if request.command == "attach" and not self._initialized_sent:
            # The IDE configures only after `initialized`; no pydevd is there to send it.
            self._initialized_sent = True
            out.append(ToIDE(data=event_frame(self._next_seq(), "initialized", None)))

    def _fail(self, request: Request, message: str, out: list[Action]) -> None:
        out.append(ToIDE(data=error_response(self._next_seq(), request, message)))

    # -- helpers ------------------------------------------------------------------------

    def _ask(
        self, worker: WorkerState, purpose: Purpose, request: Request, out: list[Action]
    ) -> None:
        """One of the mux's own requests, renumbered; its answer is kept from the IDE."""
        seq = self._next_seq()
        worker.private[seq] = purpose
        mine = Request(seq, request.command, request.arguments, request.extra)
        out.append(ToWorker(slot=worker.slot, data=encode(mine)))

    def _open_workers(self) -> list[WorkerState]:
        return [w for _, w in sorted(self._workers.items()) if w.decoder is not None]

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

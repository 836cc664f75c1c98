"""The worker multiplexer, in memory: fake pydevd workers, bytes in, actions out."""

from __future__ import annotations

import json
import typing as t

import pytest

from remotedbg.errors import ProtocolError
from remotedbg.sansio.dap_codec import (
    NEED_DATA,
    Decoder,
    Event,
    Message,
    Request,
    Response,
    encode,
    frame,
)
from remotedbg.sansio.door_messages import AUTHORIZE_FIELD, adapter_capabilities
from remotedbg.sansio.worker_mux import (
    MERGE_TIMEOUT,
    STRIDE,
    Action,
    CloseWorker,
    ToIDE,
    TooManyWorkers,
    ToWorker,
    WorkerConfigured,
    WorkerMux,
)
from remotedbg.sansio.worker_state import PRIVATE_SEQ_BASE, routing_id, sniff_request_seq


class FakeWorker:
    """Plays one worker's pydevd: answers as pydevd does, with ids in its slot's range."""

    def __init__(self, slot: int, pid: int, secret: str) -> None:
        self.slot, self.pid, self.secret = slot, pid, secret
        self.base = slot * STRIDE
        self.decoder = Decoder()
        self.received: list[Request] = []
        self.held: list[Request] = []
        self.hold: set[str] = set()  # commands left unanswered
        self.outbox = bytearray()
        self.authorized = False
        self.threads = {self.base + 1: "MainThread", self.base + 2: "worker-thread"}
        self.stopped: set[int] = set()
        self.next_ref = self.base + 100  # pydevd's one counter for frames and variables
        self.big_value = ""
        self.seq = 0

    def feed(self, data: bytes) -> None:
        self.decoder.receive_data(data)
        while (msg := self.decoder.next_message()) is not NEED_DATA:
            assert isinstance(msg, Request)
            self.received.append(msg)
            if msg.command in self.hold:
                self.held.append(msg)
            else:
                self.answer(msg)

    def commands(self) -> list[str]:
        return [r.command for r in self.received]

    def emit(self, msg: dict[str, t.Any]) -> None:
        self.seq += 1
        self.outbox += encode({"seq": self.seq, **msg})

    def event(self, name: str, body: t.Any = None) -> None:
        self.emit({"type": "event", "event": name, **({"body": body} if body else {})})

    def respond(self, req: Request, body: t.Any = None, *, success: bool = True) -> None:
        msg: dict[str, t.Any] = {  # pydevd's key order: type, request_seq, ..., body last
            "type": "response",
            "request_seq": req.seq,
            "success": success,
            "command": req.command,
        }
        if not success:
            msg["message"] = "Client not authenticated."
        if body is not None:
            msg["body"] = body
        self.emit(msg)

    def stop(self, thread: int | None = None) -> int:
        thread = thread or self.base + 1
        self.stopped.add(thread)
        self.event("stopped", {"reason": "breakpoint", "threadId": thread})
        return thread

    def answer(self, req: Request) -> None:
        args = req.arguments or {}
        command = req.command
        if command == "pydevdAuthorize":
            self.authorized = args.get(AUTHORIZE_FIELD) == self.secret
        if not self.authorized:
            self.respond(req, {}, success=False)
        elif command == "initialize":
            self.respond(req, {"supportsConfigurationDoneRequest": True})
        elif command == "attach":
            self.respond(req)
            self.event("process", {"name": "app", "systemProcessId": self.pid})
            self.event("initialized")
        elif command == "setBreakpoints":
            bps = [{"id": 1, "verified": True, "line": b["line"]} for b in args["breakpoints"]]
            self.respond(req, {"breakpoints": bps})
            self.event("breakpoint", {"reason": "changed", "breakpoint": bps[0]} if bps else {})
        elif command == "threads":
            threads = [{"id": i, "name": n} for i, n in self.threads.items()]
            self.respond(req, {"threads": threads})
        elif command == "stackTrace":
            assert args["threadId"] in self.threads
            self.next_ref += 1
            self.respond(req, {"stackFrames": [{"id": self.next_ref, "name": "view"}]})
        elif command in ("scopes", "variables", "source"):
            ident = args.get("frameId") or args.get("variablesReference")
            assert ident is None or self.base < ident < self.base + STRIDE
            self.next_ref += 1
            value = self.big_value or f"pid {self.pid}"
            var = {"name": "x", "value": value, "variablesReference": self.next_ref}
            self.respond(req, {"variables": [var]})
        elif command == "continue":
            assert args["threadId"] in self.threads
            self.respond(req, {"allThreadsContinued": True})
            if self.stopped:
                self.stopped.clear()
                self.event("continued", {"threadId": args["threadId"], "allThreadsContinued": True})
        elif command == "evaluate":
            self.respond(req, {"result": f"pid {self.pid}", "variablesReference": 0})
        else:
            self.respond(req)

    def take(self) -> bytes:
        data = bytes(self.outbox)
        self.outbox.clear()
        return data


class Rig:
    """The mux between a pretend conversation and fake workers; delivers until quiet."""

    def __init__(self, *, max_workers: int = 127) -> None:
        self.mux = WorkerMux(max_workers=max_workers)
        self.fakes: dict[int, FakeWorker] = {}
        self.ide = Decoder()
        self.to_ide = bytearray()
        self.messages: list[Message] = []
        self.closed: list[CloseWorker] = []
        self.configured: list[int] = []
        self.seq = 0
        self.chunk: int | None = None  # deliver worker bytes in pieces this big

    def add(self, pid: int, *, open_session: bool = True) -> FakeWorker:
        slot = self.mux.add_worker(pid, f"secret-{pid}")
        fake = self.fakes[slot] = FakeWorker(slot, pid, f"secret-{pid}")
        if open_session:
            self.run(self.mux.worker_session_open(slot))
        return fake

    def run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, ToIDE):
                self.to_ide += action.data
                self.ide.receive_data(action.data)
                while (msg := self.ide.next_message()) is not NEED_DATA:
                    assert msg is not None
                    self.messages.append(msg)
            elif isinstance(action, ToWorker):
                self.fakes[action.slot].feed(action.data)
            elif isinstance(action, CloseWorker):
                self.closed.append(action)
            else:
                assert isinstance(action, WorkerConfigured)
                self.configured.append(action.slot)
        self.deliver()

    def deliver(self) -> None:
        for slot, fake in list(self.fakes.items()):
            data = fake.take()
            if not data:
                continue
            step = self.chunk or len(data)
            for i in range(0, len(data), step):
                self.run(self.mux.receive_from_worker(slot, data[i : i + step]))

    def send(self, command: str, **arguments: t.Any) -> int:
        self.seq += 1
        self.run(self.mux.receive_from_ide(encode(Request(self.seq, command, arguments))))
        return self.seq

    def answers(self, seq: int) -> list[Response]:
        return [m for m in self.messages if isinstance(m, Response) and m.request_seq == seq]

    def ask(self, command: str, **arguments: t.Any) -> Response:
        (answer,) = self.answers(self.send(command, **arguments))
        return answer

    def wants_tick(self) -> bool:
        return self.mux.wants_tick

    def events(self, name: str) -> list[Event]:
        return [m for m in self.messages if isinstance(m, Event) and m.event == name]

    def attach(self) -> None:
        """What the conversation replays, then the IDE's configuration."""
        assert self.ask("initialize", adapterID="debugpy").success
        assert self.ask("attach", stopAllThreadsOnSuspend=False).success

    def configure(self) -> None:
        self.ask("setBreakpoints", source={"path": "/app/views.py"}, breakpoints=[{"line": 7}])
        self.ask("setExceptionBreakpoints", filters=["uncaught"])
        self.ask("configurationDone")


@pytest.fixture
def rig() -> Rig:
    rig = Rig()
    rig.add(4242)
    rig.add(4343)
    rig.attach()
    rig.configure()
    return rig


def private(req: Request) -> bool:
    return req.seq > PRIVATE_SEQ_BASE


# -- slots ----------------------------------------------------------------------------------


def test_slots_are_lowest_free_reused_and_bounded() -> None:
    mux = WorkerMux(max_workers=3)
    assert [mux.add_worker(pid, "s") for pid in (10, 11, 12)] == [1, 2, 3]
    with pytest.raises(TooManyWorkers, match="all 3 worker slots are taken; pid 13"):
        mux.add_worker(13, "s")
    assert mux.remove_worker(2) == []  # no session open: nothing to close
    assert mux.add_worker(13, "s") == 2
    assert mux.workers == {1: 10, 2: 13, 3: 12}
    with pytest.raises(ValueError, match="pid 10 already has a slot"):
        mux.add_worker(10, "s")
    for bad in (0, 128):
        with pytest.raises(ValueError, match=r"max_workers must be 1\.\.127"):
            WorkerMux(max_workers=bad)
    assert (127 * STRIDE + STRIDE - 1) < 2**31  # ids of the last slot fit a Java int


def test_routing_id_reads_every_kind_of_id() -> None:
    assert routing_id({"threadId": 5}) == ("threadId", 5)
    assert routing_id({"frameId": 7, "threadId": 5}) == ("frameId", 7)
    assert routing_id({"variablesReference": 9}) == ("variablesReference", 9)
    assert routing_id({"source": {"sourceReference": 3, "path": "x"}}) == ("sourceReference", 3)
    assert routing_id({"threadIds": [4, 5]}) == ("threadIds", 4)
    assert routing_id({"threadId": 0}) is None
    assert routing_id({"threadId": True}) is None  # JSON true is not an id
    assert routing_id({"expression": "1"}) is None


# -- the handshake and configuration --------------------------------------------------------


def test_handshake_reaches_each_worker_with_its_own_secret(rig: Rig) -> None:
    for fake in rig.fakes.values():
        first = fake.received[0]
        assert first.command == "pydevdAuthorize"
        assert private(first)
        assert first.arguments == {AUTHORIZE_FIELD: f"secret-{fake.pid}"}
        attach = next(r for r in fake.received if r.command == "attach")
        assert attach.seq == 2
        assert AUTHORIZE_FIELD not in (attach.arguments or {})
        assert fake.commands()[1:] == [
            "initialize",
            "attach",
            "setBreakpoints",
            "setExceptionBreakpoints",
            "configurationDone",
        ]
    # One answer per request, one initialized and one process event for the one session.
    for seq in range(1, 6):
        assert len(rig.answers(seq)) == 1
    assert len(rig.events("initialized")) == 1
    assert len(rig.events("process")) == 1
    assert rig.events("breakpoint") == []  # ids collide between workers
    assert rig.configured == [1, 2]
    assert rig.closed == []


def test_without_workers_the_mux_answers_itself() -> None:
    rig = Rig()
    init = rig.ask("initialize", adapterID="debugpy")
    assert init.success
    assert init.body == adapter_capabilities()
    assert rig.ask("attach").success
    assert len(rig.events("initialized")) == 1  # else the IDE would never configure
    bps = rig.ask("setBreakpoints", source={"path": "/a.py"}, breakpoints=[{"line": 3}])
    assert bps.body == {"breakpoints": [{"verified": True, "line": 3}]}
    funcs = rig.ask("setFunctionBreakpoints", breakpoints=[{"name": "f"}])
    assert funcs.body == {"breakpoints": [{"verified": True}]}
    assert rig.ask("setExceptionBreakpoints", filters=["raised"]).success
    assert rig.ask("configurationDone").success
    assert rig.ask("threads").body == {"threads": []}
    stack = rig.ask("stackTrace", threadId=STRIDE + 1)
    assert not stack.success
    assert "belongs to no connected worker" in (stack.message or "")
    evaluate = rig.ask("evaluate", expression="1")
    assert not evaluate.success
    assert "no worker process is connected" in (evaluate.message or "")
    # A worker that comes now gets it all, and its initialized event is not a second one.
    fake = rig.add(77)
    assert fake.commands() == [
        "pydevdAuthorize",
        "initialize",
        "attach",
        "setBreakpoints",
        "setFunctionBreakpoints",
        "setExceptionBreakpoints",
        "configurationDone",
    ]
    assert len(rig.events("initialized")) == 1
    assert rig.configured == [1]


def test_late_worker_gets_latest_configuration_replayed(rig: Rig) -> None:
    rig.ask("setBreakpoints", source={"path": "/app/views.py"}, breakpoints=[{"line": 9}])
    rig.ask("setBreakpoints", source={"path": "/app/models.py"}, breakpoints=[{"line": 1}])
    rig.ask("setBreakpoints", source={"path": "/app/models.py"}, breakpoints=[])  # cleared
    rig.ask("setDebuggerProperty", skipPrint=True)
    before = list(rig.messages)
    late = rig.add(4444)
    assert late.slot == 3
    assert all(private(r) for r in late.received)
    assert late.received[0].arguments == {AUTHORIZE_FIELD: "secret-4444"}
    assert late.commands() == [
        "pydevdAuthorize",
        "initialize",
        "attach",
        "setDebuggerProperty",
        "setBreakpoints",
        "setExceptionBreakpoints",
        "configurationDone",
    ]
    (bps,) = [r for r in late.received if r.command == "setBreakpoints"]
    assert bps.arguments == {"source": {"path": "/app/views.py"}, "breakpoints": [{"line": 9}]}
    # Its answers, initialized and process events are the mux's; the IDE sees nothing.
    assert rig.messages == before
    assert rig.configured == [1, 2, 3]


def test_worker_configured_waits_for_configuration_done() -> None:
    rig = Rig()
    rig.add(1)
    rig.attach()
    assert rig.configured == []  # attached but not configured: the request must wait
    rig.configure()
    assert rig.configured == [1]


def test_late_worker_before_configuration_done_is_configured_by_its_attach() -> None:
    rig = Rig()
    rig.attach()
    fake = rig.add(5)
    assert fake.commands() == ["pydevdAuthorize", "initialize", "attach"]
    assert rig.configured == [1]


def test_a_refused_secret_closes_that_worker() -> None:
    rig = Rig()
    rig.add(1)
    slot = rig.mux.add_worker(2, "wrong")
    rig.fakes[slot] = FakeWorker(slot, 2, "right")
    rig.run(rig.mux.worker_session_open(slot))
    assert rig.closed == [CloseWorker(slot=2, reason=rig.closed[0].reason)]
    assert "pid 2: pydevd refused the secret" in rig.closed[0].reason
    rig.attach()
    assert [r.command for r in rig.fakes[2].received] == ["pydevdAuthorize"]


# -- routing --------------------------------------------------------------------------------


def test_requests_reach_the_worker_owning_the_id(rig: Rig) -> None:
    one, two = rig.fakes[1], rig.fakes[2]
    threads = rig.ask("threads").body["threads"]
    ids = {t["id"] for t in threads}
    assert ids == set(one.threads) | set(two.threads)
    assert len(ids) == 4
    frame_two = rig.ask("stackTrace", threadId=two.base + 2).body["stackFrames"][0]["id"]
    assert two.received[-1].command == "stackTrace"
    assert one.received[-1].command == "threads"
    assert frame_two // STRIDE == 2
    ref = rig.ask("scopes", frameId=frame_two).body["variables"][0]["variablesReference"]
    rig.ask("variables", variablesReference=ref)
    rig.ask("source", source={"sourceReference": two.base + 5})
    rig.ask("source", sourceReference=two.base + 6)
    assert two.commands()[-4:] == ["scopes", "variables", "source", "source"]
    assert one.commands()[-1] == "threads"
    # IDE seqs are kept, so answers map back without rewriting.
    assert two.received[-1].seq == rig.seq
    missing = rig.ask("variables", variablesReference=9 * STRIDE + 1)
    assert not missing.success
    assert missing.message == (
        f"remotedbg: variablesReference {9 * STRIDE + 1} belongs to no connected worker process"
    )


def test_requests_without_id_go_to_the_last_stopped_worker(rig: Rig) -> None:
    assert rig.ask("evaluate", expression="1").body["result"] == "pid 4242"
    rig.fakes[2].stop()
    rig.deliver()
    assert rig.ask("evaluate", expression="1").body["result"] == "pid 4343"
    rig.run(rig.mux.remove_worker(2))
    assert rig.ask("evaluate", expression="1").body["result"] == "pid 4242"


def test_threads_merge_with_pid_prefixes(rig: Rig) -> None:
    names = [t["name"] for t in rig.ask("threads").body["threads"]]
    assert names == [
        "pid 4242: MainThread",
        "pid 4242: worker-thread",
        "pid 4343: MainThread",
        "pid 4343: worker-thread",
    ]


def test_threads_merge_gives_up_on_a_silent_worker(rig: Rig) -> None:
    rig.fakes[2].hold.add("threads")
    seq = rig.send("threads")
    assert rig.answers(seq) == []
    assert rig.wants_tick()
    rig.run(rig.mux.tick(100.0))  # the first tick starts the clock
    rig.run(rig.mux.tick(100.0 + MERGE_TIMEOUT / 2))
    assert rig.answers(seq) == []
    rig.run(rig.mux.tick(100.0 + MERGE_TIMEOUT))
    (answer,) = rig.answers(seq)
    assert [t["name"] for t in answer.body["threads"]] == [
        "pid 4242: MainThread",
        "pid 4242: worker-thread",
    ]
    assert not rig.wants_tick()
    late = rig.fakes[2]
    late.hold.clear()
    late.answer(late.held.pop())
    rig.deliver()
    assert len(rig.answers(seq)) == 1  # the late answer is swallowed


def test_continue_resumes_the_other_stopped_workers(rig: Rig) -> None:
    one, two, three = rig.fakes[1], rig.fakes[2], rig.add(4444)
    t1, t2 = one.stop(), two.stop()
    rig.deliver()
    count = len(three.received)
    answer = rig.ask("continue", threadId=t1)
    assert answer.success
    assert answer.seq < PRIVATE_SEQ_BASE
    assert one.received[-1].seq == rig.seq
    resume = two.received[-1]
    assert resume.command == "continue"
    assert private(resume)
    assert resume.arguments == {"threadId": t2}
    assert len(three.received) == count  # it was not stopped
    assert len(rig.events("continued")) == 2
    # Nothing is stopped any more: the next continue goes to its owner alone.
    two.stop()
    rig.deliver()
    rig.ask("continue", threadId=two.base + 1)
    assert one.commands().count("continue") == 1


def test_single_thread_continue_resumes_only_its_thread(rig: Rig) -> None:
    rig.fakes[1].stop()
    thread = rig.fakes[2].stop()
    rig.deliver()
    assert rig.ask("continue", threadId=thread, singleThread=True).success
    assert "continue" not in rig.fakes[1].commands()


def test_continue_without_thread_resumes_everyone(rig: Rig) -> None:
    """The door's release sends ``continue`` with threadId 0 before disconnecting."""
    rig.fakes[1].stop()
    rig.fakes[2].stop()
    rig.deliver()
    answer = rig.ask("continue", threadId=0)
    assert answer.success
    assert answer.body == {"allThreadsContinued": True}
    assert all(f.commands()[-1] == "continue" for f in rig.fakes.values())


def test_configuration_is_answered_when_every_worker_has_it(rig: Rig) -> None:
    rig.fakes[2].hold.add("setBreakpoints")
    seq = rig.send("setBreakpoints", source={"path": "/z.py"}, breakpoints=[{"line": 3}])
    assert rig.answers(seq) == []  # worker 1 answered; worker 2 has not applied them yet
    two = rig.fakes[2]
    two.hold.clear()
    for held in two.held:
        two.answer(held)
    rig.run(rig.mux.receive_from_worker(2, two.take()))
    (answer,) = rig.answers(seq)
    assert answer.body["breakpoints"][0]["line"] == 3


def test_broadcast_answers_once(rig: Rig) -> None:
    seq = rig.send("setBreakpoints", source={"path": "/x.py"}, breakpoints=[{"line": 2}])
    assert [f.received[-1].seq for f in rig.fakes.values()] == [seq, seq]
    (answer,) = rig.answers(seq)
    assert answer.body["breakpoints"][0]["line"] == 2
    assert rig.events("breakpoint") == []


# -- workers leaving --------------------------------------------------------------------------


def test_removal_exits_threads_and_fails_what_waited(rig: Rig) -> None:
    two = rig.fakes[2]
    rig.ask("threads")
    two.hold |= {"stackTrace", "setBreakpoints", "threads"}
    stack = rig.send("stackTrace", threadId=two.base + 1)
    bps = rig.send("setBreakpoints", source={"path": "/y.py"}, breakpoints=[{"line": 1}])
    threads = rig.send("threads")
    assert rig.answers(stack) == []
    assert rig.answers(threads) == []
    # Configuration is answered once every worker has it: the IDE then runs the request it
    # wants to stop, and it may reach any worker.
    assert rig.answers(bps) == []
    rig.run(rig.mux.remove_worker(2))
    assert rig.closed == [CloseWorker(slot=2, reason="worker pid 4343 is gone")]
    exited = [e.body["threadId"] for e in rig.events("thread") if e.body["reason"] == "exited"]
    assert exited == [two.base + 1, two.base + 2]
    (failed,) = rig.answers(stack)
    assert not failed.success
    assert failed.message == "remotedbg: worker pid 4343 is gone"
    assert len(rig.answers(threads)) == 1  # answered without it
    assert len(rig.answers(bps)) == 1
    assert rig.mux.remove_worker(2) == []  # idempotent
    two.hold.clear()
    for held in two.held:  # bytes after removal are ignored
        two.answer(held)
    assert rig.mux.receive_from_worker(2, two.take()) == []


def test_broadcast_no_worker_answers_is_answered_when_they_go() -> None:
    rig = Rig()
    for pid in (1, 2):
        rig.add(pid).hold.add("setBreakpoints")
    rig.attach()
    seq = rig.send("setBreakpoints", source={"path": "/z.py"}, breakpoints=[{"line": 4}])
    rig.run(rig.mux.remove_worker(1))
    assert rig.answers(seq) == []
    rig.run(rig.mux.remove_worker(2))
    (answer,) = rig.answers(seq)
    assert answer.body == {"breakpoints": [{"verified": True, "line": 4}]}


def test_worker_events_that_would_end_the_session_are_dropped(rig: Rig) -> None:
    one = rig.fakes[1]
    one.event("terminated")
    one.event("exited", {"exitCode": 0})
    one.event("output", {"output": "hi\n"})
    before = len(rig.messages)
    rig.deliver()
    assert [m.event for m in rig.messages[before:] if isinstance(m, Event)] == ["output"]


def test_thread_events_pass_and_are_tracked(rig: Rig) -> None:
    one = rig.fakes[1]
    rig.ask("threads")  # what the mux knows of a worker's threads: answers and events
    one.event("thread", {"reason": "started", "threadId": one.base + 9})
    one.event("thread", {"reason": "exited", "threadId": one.base + 2})
    rig.deliver()
    rig.run(rig.mux.remove_worker(1))
    exited = [e.body["threadId"] for e in rig.events("thread") if e.body["reason"] == "exited"]
    assert exited == [one.base + 2, one.base + 1, one.base + 9]


def test_a_malformed_worker_frame_closes_only_that_worker(rig: Rig) -> None:
    two = rig.fakes[2]
    two.hold.add("stackTrace")
    seq = rig.send("stackTrace", threadId=two.base + 1)
    actions = rig.mux.receive_from_worker(2, b"Content-Length: 5\r\n\r\nnope!")
    rig.run(actions)
    assert len(rig.closed) == 1
    assert rig.closed[0].slot == 2
    assert "worker pid 4343 broke the protocol" in rig.closed[0].reason
    assert not rig.answers(seq)[0].success
    assert rig.mux.receive_from_worker(2, b"more") == []
    assert rig.ask("stackTrace", threadId=rig.fakes[1].base + 1).success
    assert rig.mux.is_open(1)
    assert not rig.mux.is_open(2)


def test_worker_end_of_stream_closes_its_session(rig: Rig) -> None:
    rig.run(rig.mux.receive_from_worker(1, b""))
    assert rig.closed == [CloseWorker(slot=1, reason="worker pid 4242 closed its debug session")]
    # The process lives on: a new session gets the configuration again.
    rig.fakes[1] = FakeWorker(1, 4242, "secret-4242")
    rig.run(rig.mux.worker_session_open(1))
    assert rig.fakes[1].commands()[-1] == "configurationDone"
    assert rig.configured == [1, 2, 1]


# -- bytes ----------------------------------------------------------------------------------


def test_a_big_variable_passes_through_undecoded(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    two = rig.fakes[2]
    two.big_value = "v" * (10 * 1024 * 1024)
    two.hold.add("variables")
    seq = rig.send("variables", variablesReference=two.base + 50)
    big = two.held.pop()
    two.answer(big)
    expected = bytes(two.outbox)
    loads = json.loads

    def small_only(text: str | bytes, **kw: t.Any) -> t.Any:
        assert len(text) < 1024 * 1024, "a big frame was decoded"
        return loads(text, **kw)

    monkeypatch.setattr(json, "loads", small_only)
    actions = rig.mux.receive_from_worker(2, two.take())
    assert actions == [ToIDE(data=expected)]
    assert sniff_request_seq(expected[expected.index(b"{") :]) == seq


def test_worker_bytes_one_at_a_time() -> None:
    rig = Rig()
    rig.chunk = 1
    rig.add(1)
    rig.add(2)
    rig.attach()
    rig.configure()
    assert sorted(rig.configured) == [1, 2]
    assert len(rig.ask("threads").body["threads"]) == 4
    assert len(rig.events("initialized")) == 1


def test_trailing_and_split_frames_from_a_worker(rig: Rig) -> None:
    one = rig.fakes[1]
    one.event("output", {"output": "a"})
    one.event("output", {"output": "b"})
    one.event("output", {"output": "c"})
    data = one.take()
    cut = len(data) - 7
    first = rig.mux.receive_from_worker(1, data[:cut])
    assert len(first) == 2
    assert all(isinstance(a, ToIDE) for a in first)
    rest = rig.mux.receive_from_worker(1, data[cut:])
    assert b"".join(a.data for a in first + rest if isinstance(a, ToIDE)) == data


def test_ide_bytes_one_at_a_time() -> None:
    rig = Rig()
    rig.add(1)
    data = encode(Request(1, "initialize", {})) + encode(Request(2, "attach", {}))
    for i in range(len(data)):
        rig.run(rig.mux.receive_from_ide(data[i : i + 1]))
    assert [m.request_seq for m in rig.messages if isinstance(m, Response)] == [1, 2]


def test_bad_ide_bytes_raise_for_the_conversation() -> None:
    mux = WorkerMux()
    with pytest.raises(ProtocolError):
        mux.receive_from_ide(frame(b"not json"))


def test_ide_seq_in_the_private_range_is_refused(rig: Rig) -> None:
    rig.run(rig.mux.receive_from_ide(encode(Request(PRIVATE_SEQ_BASE + 5, "threads", {}))))
    (answer,) = rig.answers(PRIVATE_SEQ_BASE + 5)
    assert not answer.success


def test_sniffing_reads_only_a_head_before_the_body() -> None:
    assert sniff_request_seq(b'{"type":"response","request_seq":12,"body":{}}') == 12
    assert sniff_request_seq(b'{"type":"event","event":"output","body":{}}') is None
    faked = b'{"body":{"type":"response","request_seq":3},"type":"response","request_seq":4}'
    assert sniff_request_seq(faked) is None


# -- the IDE leaving --------------------------------------------------------------------------


def test_ide_gone_disconnects_and_closes_every_worker(rig: Rig) -> None:
    actions = rig.mux.ide_gone()
    kinds = [(type(a).__name__, getattr(a, "slot", None)) for a in actions]
    assert kinds == [("ToWorker", 1), ("CloseWorker", 1), ("ToWorker", 2), ("CloseWorker", 2)]
    rig.run(actions)
    for fake in rig.fakes.values():
        last = fake.received[-1]
        assert last.command == "disconnect"
        assert last.arguments == {"terminateDebuggee": False}
    # The next IDE starts clean: nothing is replayed from the last one.
    rig.fakes[1] = FakeWorker(1, 4242, "secret-4242")
    rig.run(rig.mux.worker_session_open(1))
    assert rig.fakes[1].commands() == ["pydevdAuthorize"]


@pytest.mark.parametrize("command", ["disconnect", "terminate"])
def test_disconnect_or_terminate_from_the_ide_never_reach_pydevd(rig: Rig, command: str) -> None:
    answer = rig.ask(command, terminateDebuggee=True)
    assert answer.success
    for fake in rig.fakes.values():
        assert fake.received[-1].command == "disconnect"
        assert fake.received[-1].arguments == {"terminateDebuggee": False}
    assert [c.slot for c in rig.closed] == [1, 2]


def test_stops_are_followed_per_thread(rig: Rig) -> None:
    one, two = rig.fakes[1], rig.fakes[2]
    one.stop(one.base + 1)
    one.stop(one.base + 2)
    one.event("continued", {"threadId": one.base + 1})  # that thread only (DAP's default)
    two.stop()
    rig.deliver()
    rig.ask("continue", threadId=two.base + 1)
    assert one.received[-1].command == "continue"
    assert one.received[-1].arguments == {"threadId": one.base + 2}


def test_memory_is_bounded(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    from remotedbg.sansio import worker_mux, worker_state

    monkeypatch.setattr(worker_state, "MAX_REMEMBERED_SOURCES", 1)
    refused = rig.ask("setBreakpoints", source={"path": "/other.py"}, breakpoints=[{"line": 1}])
    assert refused.message == "remotedbg: breakpoints in too many files"
    assert rig.ask("setBreakpoints", source={"path": "/app/views.py"}, breakpoints=[]).success
    assert rig.ask(
        "setBreakpoints", source={"path": "/other.py"}, breakpoints=[{"line": 1}]
    ).success
    monkeypatch.setattr(worker_mux, "MAX_PENDING", 1)
    rig.fakes[1].hold.add("evaluate")
    rig.send("evaluate", expression="1")
    busy = rig.ask("evaluate", expression="2")
    assert busy.message == "remotedbg: too many requests are waiting for an answer"

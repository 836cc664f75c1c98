"""Every breakpoint carries the door's "developer's request" condition, and the user's own
condition, hit count and log message keep their meaning, counted for the developer only.

Visitors (127.0.0.2) pass the same lines: they never stop, a log point never logs for them,
and their hits do not count. "Raised Exceptions" stops the developer, never a visitor.
"""

from __future__ import annotations

import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from dap_client import DAPClient
from ide import Background, attach, top_frame
from servers import APPS, Server, free_port, marker_line, remotedbg_run

pytestmark = pytest.mark.e2e

APP = APPS / "flask_app.py"
LINE = marker_line(APP, "BREAK: index")


def serve(tmp_path: Path, **attach_arguments: t.Any) -> Iterator[tuple[Server, DAPClient]]:
    dap_port = free_port()
    server = remotedbg_run(str(APP), tmp_path, "--dap-port", str(dap_port))
    server.get("/health")
    client = DAPClient(("127.0.0.1", dap_port))
    assert attach(client, arguments=attach_arguments)["success"]
    yield server, client
    client.close()
    server.stop()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, DAPClient]]:
    yield from serve(tmp_path)


@pytest.fixture
def stop_all(tmp_path: Path) -> Iterator[tuple[Server, DAPClient]]:
    """An IDE that asks every thread to stop with the first (stopAllThreadsOnSuspend)."""
    yield from serve(tmp_path, stopAllThreadsOnSuspend=True)


def set_breakpoint(client: DAPClient, **options: t.Any) -> None:
    answer = client.request(
        "setBreakpoints",
        {"source": {"path": str(APP)}, "breakpoints": [{"line": LINE, **options}]},
    )
    assert answer["body"]["breakpoints"][0]["verified"], answer


def visitors(server: Server, count: int = 3) -> None:
    for _ in range(count):
        assert server.get("/", source="127.0.0.2", timeout=10).body == b"hello tester"


def no_stop(client: DAPClient) -> None:
    with pytest.raises(TimeoutError):
        client.wait_event("stopped", timeout=0.5)


def test_a_log_point_logs_for_the_developer_only(served: tuple[Server, DAPClient]) -> None:
    """It logs for the developer only, and its message is not even evaluated for visitors
    (a message may call something)."""
    server, client = served
    counted = "__import__('sys').modules.setdefault('logpoint_runs', []).append(1) or visitor"
    set_breakpoint(client, logMessage="seen {" + counted + "}")
    visitors(server)
    assert server.get("/").body == b"hello tester"
    output = client.wait_event("output", timeout=10)["body"]
    assert output["output"].strip() == "seen tester"
    visitors(server)
    no_stop(client)
    logged = [e for e in client.received if e.get("event") == "output"]
    assert len([e for e in logged if "seen" in e["body"]["output"]]) == 1
    set_breakpoint(client, condition="True")  # stop once more, to count the evaluations
    request = Background(server.http_port, "/")
    stopped = client.wait_event("stopped", timeout=10)["body"]
    frame, _ = top_frame(client, stopped["threadId"])
    runs = "len(__import__('sys').modules['logpoint_runs'])"
    value = client.request("evaluate", {"expression": runs, "frameId": frame["id"]})
    assert value["body"]["result"] == "1"  # the developer's one hit; none of 6 visitors'
    client.request("continue", {"threadId": stopped["threadId"]})
    assert request.result().status == 200


def test_a_hit_count_counts_the_developers_hits(served: tuple[Server, DAPClient]) -> None:
    server, client = served
    set_breakpoint(client, hitCondition="2")
    assert server.get("/").body == b"hello tester"  # the developer's first hit
    visitors(server, 5)  # would make it the seventh, were they counted
    no_stop(client)
    request = Background(server.http_port, "/")  # the second: it stops
    stopped = client.wait_event("stopped", timeout=10)["body"]
    client.request("continue", {"threadId": stopped["threadId"]})
    assert request.result().status == 200


def test_a_condition_keeps_its_meaning(served: tuple[Server, DAPClient]) -> None:
    server, client = served
    set_breakpoint(client, condition="visitor == 'nobody'")
    assert server.get("/").body == b"hello tester"
    no_stop(client)
    set_breakpoint(client, condition="visitor == 'tester'  # a comment of theirs")
    visitors(server)
    no_stop(client)
    request = Background(server.http_port, "/")
    stopped = client.wait_event("stopped", timeout=10)["body"]
    frame, local_vars = top_frame(client, stopped["threadId"])
    assert (frame["line"], local_vars["visitor"]) == (LINE, "'tester'")
    client.request("continue", {"threadId": stopped["threadId"]})
    assert request.result().status == 200


def test_a_condition_that_raises_is_reported_for_the_developer_only(
    served: tuple[Server, DAPClient],
) -> None:
    """debugpy reports a condition that raises (and, by default, does not stop): for the
    developer's hits, never for a visitor's."""
    server, client = served
    set_breakpoint(client, condition="1 / 0")
    visitors(server)
    no_stop(client)

    def errors() -> list[str]:
        outputs = [e["body"]["output"] for e in client.received if e.get("event") == "output"]
        return [text for text in outputs if "ZeroDivisionError" in text]

    assert errors() == []
    assert server.get("/").status == 200
    client.wait_event("output", timeout=10)
    assert len(errors()) == 1
    no_stop(client)


def test_raised_exceptions_stop_the_developer_only(served: tuple[Server, DAPClient]) -> None:
    server, client = served
    client.request("setExceptionBreakpoints", {"filters": ["raised", "uncaught"]})
    assert server.get("/boom", source="127.0.0.2", timeout=10).status == 500
    no_stop(client)
    request = Background(server.http_port, "/boom")
    stopped = client.wait_event("stopped", timeout=10)["body"]
    assert stopped["reason"] == "exception"
    while True:  # "Raised" stops as it is raised and again where it passes; then the 500
        client.request("continue", {"threadId": stopped["threadId"]})
        if request.response is not None:
            break
        try:
            stopped = client.wait_event("stopped", timeout=2)["body"]
        except TimeoutError:
            break
    assert request.result().status == 500


def test_an_error_that_ends_the_developers_thread_stops_the_ide(
    served: tuple[Server, DAPClient],
) -> None:
    """ "Uncaught Exceptions" stops on an error that ends a thread the developer's request
    started (on 3.12+ the excepthook hands it over, pydevd no longer watching every
    unwind), and never on a visitor's."""
    server, client = served
    assert server.get("/thread-boom", source="127.0.0.2", timeout=10).body == b"thread ended"
    no_stop(client)
    request = Background(server.http_port, "/thread-boom")
    stopped = client.wait_event("stopped", timeout=10)["body"]
    assert stopped["reason"] == "exception"
    frame, local_vars = top_frame(client, stopped["threadId"])
    assert frame["line"] == marker_line(APP, "RAISE: thread")
    assert local_vars["doomed"] == "'in the background'"
    client.request("continue", {"threadId": stopped["threadId"]})
    assert request.result().body == b"thread ended"
    no_stop(client)


def _stop_the_developer(server: Server, client: DAPClient) -> tuple[Background, int]:
    set_breakpoint(client)
    developer = Background(server.http_port, "/")
    return developer, client.wait_event("stopped", timeout=10)["body"]["threadId"]


def test_a_visitor_never_pauses_when_the_ide_stops_every_thread(
    stop_all: tuple[Server, DAPClient],
) -> None:
    """An IDE may ask every thread to stop with the developer's (stopAllThreadsOnSuspend):
    the developer's stop says so, but a visitor's request under way runs on to its end."""
    server, client = stop_all
    visitor = Background(server.http_port, "/slow", source="127.0.0.2")
    time.sleep(0.3)  # the visitor is in its loop
    developer, thread_id = _stop_the_developer(server, client)
    assert visitor.result(timeout=10).body == b"slow done"
    assert developer.response is None, "the developer is still paused"
    client.request("continue", {"threadId": thread_id})
    assert developer.result().body == b"hello tester"


def test_the_pause_button_never_pauses_a_visitor(served: tuple[Server, DAPClient]) -> None:
    """Pausing every thread the IDE lists leaves a visitor's request running."""
    server, client = served
    visitor = Background(server.http_port, "/slow", source="127.0.0.2")
    time.sleep(0.3)
    threads = client.request("threads")["body"]["threads"]
    assert threads, "the IDE lists the server's threads"
    for thread in threads:
        client.request("pause", {"threadId": thread["id"]})
    assert visitor.result(timeout=10).body == b"slow done"
    no_stop(client)


def test_a_visitors_breakpoint_call_stops_nobody(stop_all: tuple[Server, DAPClient]) -> None:
    """A `breakpoint()` that a visitor runs neither stops the visitor nor, when the IDE asks
    every thread to stop with the first, the developer's request under way."""
    server, client = stop_all
    developer = Background(server.http_port, "/slow")
    time.sleep(0.3)
    visitor = server.get("/breakpoint", source="127.0.0.2", timeout=10)
    assert visitor.body == b"after breakpoint"
    assert developer.result(timeout=10).body == b"slow done"
    no_stop(client)


def test_a_pool_thread_the_developer_started_stops_for_the_developer_only(
    served: tuple[Server, DAPClient],
) -> None:
    """The developer's request starts the app's pool thread; visitors' tasks on that same
    thread never stop, the developer's do, task by task."""
    server, client = served
    line = marker_line(APP, "BREAK: pool")
    client.request(
        "setBreakpoints", {"source": {"path": str(APP)}, "breakpoints": [{"line": line}]}
    )
    for round_ in range(2):
        developer = Background(server.http_port, "/pool")
        stopped = client.wait_event("stopped", timeout=10)["body"]
        frame, local_vars = top_frame(client, stopped["threadId"])
        assert (frame["line"], local_vars["done"]) == (line, "'pooled'"), round_
        client.request("continue", {"threadId": stopped["threadId"]})
        assert developer.result().body == b"pooled"
        assert server.get("/pool", source="127.0.0.2", timeout=10).body == b"pooled"
        no_stop(client)

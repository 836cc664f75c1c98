"""Attacks on today's code: the breakpoint guard, the multi-worker door, the hooks' marks.

Each test is one attack, tried for real where it can be: a test that fails here is a hole
(see the docstrings), one that passes is a property that held and stays tested.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from dap_client import DAPClient
from ide import Background, attach
from servers import Server, free_port, remotedbg_run

pytestmark = pytest.mark.e2e

# -- the breakpoint guard: a user condition must not escape `__remotedbg_mine__() and (...)`


def _visitor_would_stop(condition: str | None, hit: str | None = None) -> bool:
    """Evaluate the guarded condition as pydevd would, in a visitor's frame."""
    from remotedbg.sansio.breakpoint_guard import guarded_condition

    code = guarded_condition(condition, hit, "app.py#0:1")
    names: dict[str, t.Any] = {
        "__remotedbg_mine__": lambda: False,
        "__remotedbg_hit__": lambda key, hit: True,
    }
    try:
        return bool(eval(code, names, {}))  # noqa: S307 - a test of what pydevd evaluates
    except SyntaxError:
        return False  # pydevd reports the error on the developer's hits only... or not at all
    except Exception:
        return True  # a condition that raises makes pydevd report (and may stop)


@pytest.mark.parametrize(
    "condition",
    [
        "True)) or ((True",  # closes the guard's parentheses, opens its own
        "True\n)) or ((True",
        "0)) or ((1 # and a comment",
        "x)) if 0 else ((1",
    ],
)
def test_a_condition_cannot_close_the_guards_parentheses(condition: str) -> None:
    """HOLE (low): the door pastes the IDE's condition between parentheses as text, so a
    condition that closes them is evaluated outside the guard: pydevd's condition becomes
    ``(__remotedbg_mine__() and ((True)) or ((True\\n))``, true for every visitor, who then
    stops at the breakpoint (on 3.12+, where visitors' threads stay traced)."""
    assert not _visitor_would_stop(condition)


@pytest.mark.parametrize(
    ("condition", "hit"),
    [
        ("True", None),
        (None, "1"),
        ("True  # trailing comment", None),
        ("(True", None),
        ("True)", None),
        ("'))' or True", None),
        (None, "1')) or (('1"),
        ("1\\", None),
    ],
)
def test_well_formed_or_broken_conditions_stay_guarded(
    condition: str | None, hit: str | None
) -> None:
    assert not _visitor_would_stop(condition, hit)


# -- the breakpoint guard, end to end: visitors (127.0.0.2) never stop ------------------

TEMPLATE_APP = """
from flask import Flask, render_template_string

app = Flask(__name__)


@app.route("/")
def index():
    visitor = "tester"
    return f"hello {visitor}"  # BREAK


@app.route("/health")
def health():
    return "ok"


@app.route("/page")
def page():
    try:
        return render_template_string("{{ missing.attribute }}")
    except Exception:
        return "template error, handled"
"""


@pytest.fixture
def template_app(tmp_path: Path) -> Iterator[tuple[Server, int, Path]]:
    app = tmp_path / "template_app.py"
    app.write_text(TEMPLATE_APP)
    dap_port = free_port()
    server = remotedbg_run(str(app), tmp_path, "--dap-port", str(dap_port))
    try:
        assert server.get("/health").body == b"ok"
        yield server, dap_port, app
    finally:
        server.stop()


def _no_stop(client: DAPClient, timeout: float = 1.0) -> None:
    with pytest.raises(TimeoutError):
        client.wait_event("stopped", timeout=timeout)


def test_a_condition_that_closes_the_guard_does_not_stop_visitors(
    template_app: tuple[Server, int, Path],
) -> None:
    """HOLE (low, 3.12+): see test_a_condition_cannot_close_the_guards_parentheses."""
    server, dap_port, app = template_app
    line = next(n for n, text in enumerate(app.read_text().splitlines(), 1) if "# BREAK" in text)
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client)["success"]
        answer = client.request(
            "setBreakpoints",
            {
                "source": {"path": str(app)},
                "breakpoints": [{"line": line, "condition": "False)) or ((True"}],
            },
        )
        assert answer["body"]["breakpoints"][0]["verified"], answer
        visitor = Background(server.http_port, "/", source="127.0.0.2", timeout=15)
        try:
            _no_stop(client, 3.0)
        finally:
            for event in [e for e in client.received if e.get("event") == "stopped"]:
                client.request("continue", {"threadId": event["body"]["threadId"]})
        assert visitor.result().body == b"hello tester"


def test_jinja_raised_exceptions_do_not_stop_visitors(
    template_app: tuple[Server, int, Path],
) -> None:
    """HOLE (medium, 3.12+): with ``"jinja": true`` in the attach arguments (VS Code's Flask
    configuration) and "Raised Exceptions" on, pydevd adds a *plugin* exception breakpoint
    (`add_plugins_exception_breakpoint`), which has no condition and does not go through
    `add_break_on_exception`, the only way in that `guard_exception_breakpoints` guards. On
    3.12+ visitors' threads stay traced, so a visitor whose template raises UndefinedError is
    paused in the developer's IDE (its locals readable, its request hung). The same holds for
    ``"django": true`` (VariableDoesNotExist, TemplateSyntaxError)."""
    server, dap_port, _ = template_app
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client, exception_filters=["raised"], arguments={"jinja": True})["success"]
        visitor = Background(server.http_port, "/page", source="127.0.0.2", timeout=15)
        try:
            _no_stop(client, 3.0)
        finally:
            for event in [e for e in client.received if e.get("event") == "stopped"]:
                client.request("continue", {"threadId": event["body"]["threadId"]})
        assert visitor.result().body == b"template error, handled"


# -- the multi-worker door -------------------------------------------------------------

TOKEN = "Zq8pX2vK9mW4tR7yB3nC6hJ1dF5gL0sA"  # 32 random-looking characters, test only


class Door(t.NamedTuple):
    server: Server
    dap_port: int
    pid: int
    socket_path: str


def _gunicorn(
    tmp_path: Path, workers: int = 2, ttl: str = "2m", token: str | None = TOKEN
) -> tuple[Server, int]:
    from servers import APPS

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    http_port, dap_port = free_port(), free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "sync", "--timeout",
        "120", "--bind", f"127.0.0.1:{http_port}", "wsgi_app:app",
    ]  # fmt: skip
    env = {
        "REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port), "REMOTEDBG_TTL": ttl,
        "XDG_RUNTIME_DIR": str(runtime), "_REMOTEDBG_TEST_DOOR_GRACE": "2",
    }  # fmt: skip
    if token is not None:
        env["REMOTEDBG_TOKEN"] = token
    server = Server(argv, http_port=http_port, env=env, cwd=APPS, log_path=tmp_path / "log")
    server.wait_ready()
    return server, dap_port


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Door]:
    server, dap_port = _gunicorn(tmp_path)
    try:
        for _ in range(4):
            assert server.get("/health").status == 200
        pid = int(server.wait_for_log(r"event=door_started pid=(\d+)")[1])
        socket_path = str(tmp_path / "runtime" / "remotedbg" / f"door-127.0.0.1-{dap_port}.sock")
        assert os.path.exists(socket_path)
        yield Door(server, dap_port, pid, socket_path)
    finally:
        server.stop()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_token_is_not_in_the_doors_argv_or_environment(door: Door) -> None:
    """HOLE (low): the token reaches the door on its stdin, but the door is spawned with the
    worker's whole environment, so with ``REMOTEDBG_TOKEN`` in the server's environment (the
    documented way) it is in ``/proc/<door>/environ`` too. Only the app's user and root can
    read that file, and they can read the worker's anyway, so this is defence in depth; but
    the door does not read its environment (``Settings.load({}, ...)``), so it needs none of
    ``REMOTEDBG_*``."""
    cmdline = Path(f"/proc/{door.pid}/cmdline").read_bytes()
    assert TOKEN.encode() not in cmdline
    assert b"remotedbg.door.sidecar" in cmdline
    environ = Path(f"/proc/{door.pid}/environ").read_bytes()
    assert TOKEN.encode() not in environ


def _unix(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(path)
    return sock


def _closed_by_peer(sock: socket.socket) -> bool:
    try:
        while sock.recv(4096):
            pass
    except (TimeoutError, OSError):
        return False
    return True


def _attach_with_token(door: Door) -> DAPClient:
    from servers import APPS, marker_line

    client = DAPClient(("127.0.0.1", door.dap_port), timeout=30)
    app = APPS / "wsgi_app.py"
    answer = attach(
        client,
        breakpoints={app: [marker_line(app, "BREAK: index")]},
        arguments={"remotedbgToken": TOKEN},
    )
    assert answer["success"], answer
    return client


def test_bad_lines_on_the_doors_unix_socket_close_that_connection_only(door: Door) -> None:
    """Garbage, a huge line, an unknown kind, a second hello for a worker's pid, a session
    line for a slot with no IDE attached: each closes its own connection, and the door keeps
    serving its workers and the IDE."""
    from remotedbg.sansio.door_link import Hello, SessionLine, encode_line

    worker_pids = [int(p) for p in re.findall(r"event=worker_joined pid=(\d+)", door.server.log)]
    assert worker_pids
    attempts = [
        b"\xff\xfe not json\n",
        b"[]\n",
        b'{"kind": "welcome", "slot": 1, "remaining": 1e9, "door_pid": 1, "session": 0}\n',
        b'{"kind": "hello", "pid": true, "secret": "x"}\n',
        b'{"kind": "hello", "pid": 1, "secret": "x", "extra": 1}\n',
        encode_line(Hello(pid=worker_pids[0], secret="stolen?")),
        encode_line(SessionLine(slot=1, session=0)),
        encode_line(SessionLine(slot=1, session=1)),
        b"x" * 200_000,
    ]
    for line in attempts:
        with _unix(door.socket_path) as sock:
            with_suppressed = line + (b"" if line.endswith(b"\n") else b"\n")
            try:
                sock.sendall(with_suppressed)
            except OSError:
                continue  # closed while we were still writing: fine
            assert _closed_by_peer(sock), line[:60]
    assert _alive(door.pid)
    with _attach_with_token(door) as client:
        request = Background(door.server.http_port, "/", timeout=30)
        stopped = client.wait_event("stopped", timeout=30)["body"]
        client.request("continue", {"threadId": stopped["threadId"]})
        assert request.result().body == b"hello tester"
    assert _alive(door.pid)


def test_bad_dap_bytes_from_an_ide_close_that_session_only(door: Door) -> None:
    """An unauthenticated peer's garbage, and an attached IDE's bad frame or a request whose
    id names no worker, never end the door."""
    for junk in [
        b"Content-Length: 99999999999\r\n\r\n",
        b"\x00" * 70_000,
        b"GET / HTTP/1.1\r\n\r\n",
    ]:
        with socket.create_connection(("127.0.0.1", door.dap_port), timeout=5) as sock:
            try:
                sock.sendall(junk)
            except OSError:
                continue  # cut off while we were still writing
            assert _closed_by_peer(sock), junk[:40]
    assert _alive(door.pid)
    with _attach_with_token(door) as client:
        odd_ids: list[dict[str, t.Any]] = [
            {"threadId": 999 * 2**24 + 1},
            {"threadId": 0},
            {"threadId": -5},
            {"threadId": "1"},
            {"threadId": 2**70},
            {"threadId": None},
        ]
        for arguments in odd_ids:
            answer = client.request("stackTrace", arguments)
            assert answer["success"] is False or answer["body"] is not None
        client.send_raw(b"Content-Length: 5\r\n\r\n{oops")
        client.wait_closed(timeout=10)
    assert _alive(door.pid)
    with _attach_with_token(door) as client:
        assert client.request("threads")["success"]


# -- the ASGI and WSGI hooks, in process, with a fake backend: visitors never arm --------


def _hooked_asgi(**overrides: object) -> tuple[t.Any, t.Any, list[dict[str, t.Any]]]:
    """The ASGI hook around an app that records each scope it sees; its gate is fake."""
    from remotedbg.debuggee.fake_backend import FakeBackend
    from remotedbg.debuggee.gate import Gate
    from remotedbg.hooks.asgi import RemoteDebugASGIMiddleware
    from remotedbg.settings import Settings

    seen: list[dict[str, t.Any]] = []

    async def app(scope: t.Any, receive: t.Any, send: t.Any) -> None:
        seen.append(dict(scope))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"the app's own"})

    settings = Settings.load({"REMOTEDBG_ENABLE": "1"}, {"dap_port": 0, **overrides})
    hook = RemoteDebugASGIMiddleware(app, settings)
    hook.gate = Gate(settings, backend=FakeBackend)
    return hook, hook.gate, seen


def _asgi_get(hook: t.Any, scope: dict[str, t.Any]) -> tuple[int, bytes]:
    import asyncio

    sent: list[dict[str, t.Any]] = []

    async def receive() -> dict[str, t.Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, t.Any]) -> None:
        sent.append(message)

    asyncio.run(hook(scope, receive, send))
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), 0)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


def _scope(
    peer: str,
    path: str = "/__remotedbg__",
    headers: t.Sequence[tuple[bytes, bytes]] = (),
    **more: t.Any,
) -> dict[str, t.Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": list(headers), "client": (peer, 40000),
        "server": ("127.0.0.1", 8000), **more,
    }  # fmt: skip


ASGI_VISITORS = [
    pytest.param("10.1.2.3", [], {}, id="not-allowlisted"),
    pytest.param("127.0.0.1", [(b"x-forwarded-for", b"127.0.0.1")], {}, id="xff-untrusted-peer"),
    pytest.param("127.0.0.1", [(b"forwarded", b"for=127.0.0.1")], {}, id="forwarded-untrusted"),
    pytest.param(
        "127.0.0.1",
        [(b"x-forwarded-for", b"10.9.9.9"), (b"x-forwarded-for", b"203.0.113.7")],
        {"allow": "10.9.9.9", "trusted_proxies": "127.0.0.1"},
        id="proxy-appends-a-second-line",
    ),
    pytest.param(
        "127.0.0.1",
        [(b"x-forwarded-for", b"10.9.9.9"), (b"forwarded", b"for=203.0.113.7")],
        {"allow": "10.9.9.9", "trusted_proxies": "127.0.0.1"},
        id="proxy-headers-disagree",
    ),
    pytest.param(
        "127.0.0.1",
        [(b"x-forwarded-for", b"10.9.9.9, unknown")],
        {"allow": "10.9.9.9", "trusted_proxies": "127.0.0.1"},
        id="proxy-garbage-rightmost",
    ),
    pytest.param(
        "127.0.0.1",
        [(b"forwarded", b'for="10.9.9.9;by="')],
        {"allow": "10.9.9.9", "trusted_proxies": "127.0.0.1"},
        id="proxy-unbalanced-quote",
    ),
    pytest.param(
        "10.1.2.3", [], {"root_path": "/app", "path": "/app/__remotedbg__"}, id="root-path"
    ),
    pytest.param("10.1.2.3", [], {"type": "websocket"}, id="websocket"),
]


@pytest.mark.parametrize(("peer", "headers", "more"), ASGI_VISITORS)
def test_asgi_visitors_never_arm_nor_see_the_status_page(
    peer: str, headers: list[tuple[bytes, bytes]], more: dict[str, t.Any]
) -> None:
    settings = {k: more.pop(k) for k in ("allow", "trusted_proxies") if k in more}
    hook, gate, seen = _hooked_asgi(**settings)
    scope = _scope(peer, headers=headers, **more)
    status, body = _asgi_get(hook, scope)
    assert not gate.armed
    assert [s["type"] for s in seen] == [scope["type"]]
    if scope["type"] == "http":
        assert (status, body) == (404, b"the app's own")


def test_asgi_status_page_under_root_path_for_the_developer_and_lifespan_untouched() -> None:
    """The positive control of the test above: the same scope from the developer arms and
    answers the status page under a root_path; lifespan passes straight through."""
    hook, gate, seen = _hooked_asgi()
    try:
        scope = _scope("127.0.0.1", path="/app/__remotedbg__", root_path="/app")
        status, body = _asgi_get(hook, scope)
        assert gate.armed
        assert (status, json.loads(body)["armed"]) == (200, True)
        assert seen == []
        lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}}
        _asgi_get(hook, lifespan)
        assert seen == [lifespan]
    finally:
        gate.expire("test over")


def test_asgi_hook_installed_twice_runs_the_app_once() -> None:
    from remotedbg.hooks.asgi import RemoteDebugASGIMiddleware

    inner, inner_gate, seen = _hooked_asgi()
    outer = RemoteDebugASGIMiddleware(inner, inner.settings)
    outer.gate = inner_gate
    status, body = _asgi_get(outer, _scope("10.1.2.3", path="/x"))
    assert (status, body, len(seen)) == (404, b"the app's own", 1)


def test_a_header_named_like_the_mark_does_not_make_a_wsgi_hook_step_aside() -> None:
    """A visitor's ``remotedbg.gate: 1`` header is ``HTTP_REMOTEDBG.GATE`` in the environ
    (every WSGI server prefixes headers), never the ``remotedbg.gate`` mark; under ASGI it
    stays in ``scope["headers"]``. Here the developer's request carries it and still arms."""
    from werkzeug.test import EnvironBuilder

    from remotedbg.debuggee.fake_backend import FakeBackend
    from remotedbg.debuggee.gate import Gate
    from remotedbg.hooks.wsgi import HOOKED_KEY, RemoteDebugMiddleware
    from remotedbg.settings import Settings

    def app(environ: t.Any, start_response: t.Any) -> list[bytes]:
        start_response("404 Not Found", [])
        return [b"the app's own"]

    settings = Settings.load({"REMOTEDBG_ENABLE": "1"}, {"dap_port": 0})
    hook = RemoteDebugMiddleware(app, settings)
    hook.gate = gate = Gate(settings, backend=FakeBackend)
    environ = EnvironBuilder(
        path="/__remotedbg__", headers=[("remotedbg.gate", "1"), ("remotedbg", "1")]
    ).get_environ()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    assert HOOKED_KEY not in environ
    try:
        body = b"".join(hook(environ, t.cast("t.Any", lambda *a: None)))
        assert gate.armed
        assert json.loads(body)["armed"] is True
    finally:
        gate.expire("test over")


def test_the_window_ending_while_a_worker_is_paused_releases_everything(tmp_path: Path) -> None:
    """The window ends while the developer's request is paused at a breakpoint in a worker:
    the IDE is told and cut off, the paused request finishes, the door exits and removes its
    socket, and no process of the server listens on the debugger port."""
    from servers import APPS, children, listening_ports, marker_line, port_open

    server, dap_port = _gunicorn(tmp_path, ttl="6s")
    try:
        for _ in range(4):
            assert server.get("/health").status == 200
        door_pid = int(server.wait_for_log(r"event=door_started pid=(\d+)")[1])
        socket_path = tmp_path / "runtime" / "remotedbg" / f"door-127.0.0.1-{dap_port}.sock"
        app = APPS / "wsgi_app.py"
        with DAPClient(("127.0.0.1", dap_port), timeout=30) as client:
            answer = attach(
                client,
                breakpoints={app: [marker_line(app, "BREAK: index")]},
                arguments={"remotedbgToken": TOKEN},
            )
            assert answer["success"], answer
            paused = Background(server.http_port, "/", timeout=15)
            client.wait_event("stopped", timeout=10)
            assert client.wait_closed(timeout=15), "the IDE was not cut off at the window's end"
        assert paused.result().body == b"hello tester"
        deadline = time.monotonic() + 10
        while _alive(door_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(door_pid), "the door outlived its window"
        assert not socket_path.exists()
        assert not port_open(dap_port)
        assert "door_closed" in server.log
        for _ in range(4):  # visitors are served; they do not re-arm
            assert server.get("/", source="127.0.0.2", timeout=10).status == 200
        assert not port_open(dap_port)
        for pid in [server.process.pid, *children(server.process.pid)]:
            assert dap_port not in listening_ports(pid)
    finally:
        server.stop()

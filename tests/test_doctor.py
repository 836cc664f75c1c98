"""`remotedbg doctor`: one line per check, the fix with every problem, exit 1 only on failures."""

from __future__ import annotations

import dataclasses
import errno
import importlib
import os
import socket
import subprocess
import sys
import types
import typing as t
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner, Result

from remotedbg.client.ide_config import StatusPageError, fetch_status
from remotedbg.debuggee.debugpy_backend import missing_safety_parts
from remotedbg.debuggee.gate import monkey_patched
from remotedbg.doctor import (
    Check,
    Probe,
    Report,
    StatusAnswer,
    ask_status_pages,
    bind_port,
    check_allowlist,
    check_app,
    check_container,
    check_debugpy,
    check_enable,
    check_flask_debug,
    check_green_threads,
    check_listener,
    check_port,
    check_proxies,
    check_python,
    check_reloader,
    check_settings,
    check_until,
    checkup,
    detect_container,
    doctor_command,
    green_patching,
    gunicorn_worker_class,
    render,
)
from remotedbg.errors import AppLoadError
from remotedbg.sansio.addresses import AddressSet
from remotedbg.settings import Settings

from servers import APPS, remotedbg_run

if t.TYPE_CHECKING:
    from pathlib import Path

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
GOOD_TOKEN = "doctor-Qm4Zt8Rk2Xv7Lp3Wn9Bc5Hs"
LOOPBACK = AddressSet.parse(["127.0.0.1", "::1"])
NONE = AddressSet()
PROXY_PHRASE = (
    "if a reverse proxy on this box forwards to the app, every request comes from 127.0.0.1: "
    "requests with forwarding headers never arm unless the proxy is in REMOTEDBG_TRUSTED_PROXIES"
)


def fake_debugpy(*, trigger: bool = True, in_process: bool = True) -> types.SimpleNamespace:
    def listen(endpoint: object, *, in_process_debug_adapter: bool = False) -> object:
        return endpoint

    def old_listen(endpoint: object) -> object:
        return endpoint

    module = types.SimpleNamespace(
        __version__="1.8.99", listen=listen if in_process else old_listen
    )
    if trigger:
        module.trigger_exception_handler = lambda *args, **kwargs: None
    return module


#: What remotedbg needs of pydevd to keep debugpy's own port closed, as the debugger names it.
SAFETY_PARTS = (
    "PyDB.initialize_network",
    "PyDB.authentication.logout",
    "PyDB.create_wait_for_connection_thread",
    "PyDevdAPI.request_disconnect",
)


def fake_pydevd(missing: str | None = None) -> dict[str, object]:
    """The modules of debugpy's pydevd that the doctor imports, without the part `missing`."""

    left_out = None if missing is None else missing.rpartition(".")[2]

    def having(*methods: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(**{m: print for m in methods if m != left_out})

    pydevd = types.SimpleNamespace(
        PyDB=having("initialize_network", "create_wait_for_connection_thread"),
        _Authentication=having("logout"),
    )
    api = types.SimpleNamespace(PyDevdAPI=having("request_disconnect"))
    return {"debugpy.server.api": object(), "pydevd": pydevd, "_pydevd_bundle.pydevd_api": api}


def importer(
    debugpy: object, pydevd: t.Mapping[str, object] | None = None
) -> t.Callable[[str], object]:
    """An import function that knows `debugpy` (None: absent) and `pydevd`'s modules."""
    modules = {} if debugpy is None else {"debugpy": debugpy, **(pydevd or fake_pydevd())}

    def import_module(name: str) -> object:
        if name in modules:
            return modules[name]
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    return import_module


def no_bind(host: str, port: int) -> None:
    return None


def no_status_page(url: str) -> t.Mapping[str, object]:
    raise StatusPageError(f"GET {url}/__remotedbg__: could not connect (Connection refused)")


def make_probe(tmp_path: Path, env: t.Mapping[str, str] | None = None, **changes: t.Any) -> Probe:
    """A machine with nothing special on it: no container, no proxy, a healthy debugpy."""
    probe = Probe(
        environ=dict(env or {}),
        modules={},
        container_markers=(tmp_path / "dockerenv",),
        cgroup=tmp_path / "cgroup",
        proxy_markers=(tmp_path / "nginx.conf",),
        bind=no_bind,
        import_module=importer(fake_debugpy()),
        installed=lambda name: False,
        now=lambda: NOW,
        fetch_status=no_status_page,
        python=(3, 12),
        platform="linux",
    )
    return dataclasses.replace(probe, **changes)


def doctor(probe: Probe, *args: str) -> Result:
    result = CliRunner().invoke(doctor_command, list(args), obj=probe)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def lines(result: Result, status: str) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith(f"{status:<4} ")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sys_path(monkeypatch: pytest.MonkeyPatch) -> t.Iterator[None]:
    """Let load_app add to sys.path and import modules; both are undone afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("doctor_"):
            del sys.modules[name]


# -- the command ----------------------------------------------------------------------------


@pytest.mark.usefixtures("sys_path")
def test_good_setup_passes(tmp_path: Path) -> None:
    """A sound set-up prints only ok lines, and no warning with nothing to do, and exits 0."""
    (tmp_path / "doctor_good_app.py").write_text(
        "def app(environ, start_response):\n    return [b'ok']\n"
    )
    env = {
        "REMOTEDBG_DAP_PORT": str(free_port()),
        "REMOTEDBG_ALLOW": "203.0.113.7,10.1.2.0/24,127.0.0.1",
    }
    result = doctor(make_probe(tmp_path, env, bind=bind_port), str(tmp_path / "doctor_good_app.py"))
    assert result.exit_code == 0, result.output
    assert lines(result, "fail") == []
    assert lines(result, "warn") == []
    assert any("module doctor_good_app" in line for line in lines(result, "ok"))
    assert result.output.splitlines()[-1].startswith("no failures: 0 warnings, ")


def test_port_in_use(tmp_path: Path) -> None:
    """A port another socket holds fails, naming the port and how to find who holds it."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        probe = make_probe(tmp_path, {"REMOTEDBG_DAP_PORT": str(port)}, bind=bind_port)
        result = doctor(probe)
    assert result.exit_code == 1
    [line] = lines(result, "fail")
    assert f"port {port} is in use" in line
    assert f"ss -ltnp 'sport = :{port}'" in line
    assert "give the app's URL with --url" in line


@pytest.mark.e2e
@pytest.mark.parametrize("how", ["--url", "usual ports"])
def test_port_held_by_the_apps_armed_door_is_ok(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """With the app running and armed, its debugger port is fine, and nothing warns."""
    dap_port = free_port()
    server = remotedbg_run(str(APPS / "flask_app.py"), tmp_path, "--dap-port", str(dap_port))
    try:
        assert server.get("/health").status == 200  # from 127.0.0.1: arms
        url = f"http://127.0.0.1:{server.http_port}"
        if how == "--url":
            args = ["--url", url]
        else:
            monkeypatch.setattr(checkup, "LOCAL_APP_URLS", ("http://127.0.0.1:9", url))
            args = []
        env = {"REMOTEDBG_DAP_PORT": str(dap_port)}
        probe = make_probe(tmp_path, env, bind=bind_port, fetch_status=fetch_status)
        result = doctor(probe, *args)
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    [port_line] = [line for line in result.output.splitlines() if "debugger port" in line]
    assert port_line.startswith(
        f"ok   debugger port 127.0.0.1:{dap_port} is in use by remotedbg's own door, armed until "
    )
    assert f"{url}/__remotedbg__ says so (pid {server.process.pid})" in port_line
    assert lines(result, "warn") == []
    assert lines(result, "fail") == []


def held_by(port: int, **extra: object) -> t.Callable[[str], t.Mapping[str, object]]:
    """A status page fetcher: every URL is an app whose armed door is on `port`."""

    def fetch(url: str) -> t.Mapping[str, object]:
        status: dict[str, object] = {"armed": True, "dap_port": port, "pid": 42}
        return {**status, "expires_at": "2030-01-01T12:30:00Z", **extra}

    return fetch


def busy(error: int = errno.EADDRINUSE) -> t.Callable[[str, int], None]:
    return raising(OSError(error, "Address already in use"))


def test_busy_port_held_by_own_door_is_ok() -> None:
    """A status page that says its armed door holds the port makes the busy port fine."""
    answers = ask_status_pages(["http://127.0.0.1:5000"], 5678, held_by(5678))
    check = check_port("127.0.0.1", 5678, busy(), "linux", lambda: answers)
    assert check == Check(
        "ok",
        "debugger port 127.0.0.1:5678 is in use by remotedbg's own door, "
        "armed until 2030-01-01T12:30:00Z",
        "http://127.0.0.1:5000/__remotedbg__ says so (pid 42)",
    )


@pytest.mark.parametrize(
    ("fetch", "said"),
    [
        (held_by(6000), "says armed True, dap_port 6000"),
        (held_by(5678, armed=False, error="port in use"), "armed False, dap_port 5678, error"),
        (no_status_page, "could not connect (Connection refused)"),
    ],
)
def test_busy_port_not_claimed_fails_saying_what_the_page_said(
    fetch: t.Callable[[str], t.Mapping[str, object]], said: str
) -> None:
    """Another port, an unarmed app or no answer at the given URL: the port fails, saying which."""
    answers = ask_status_pages(["http://127.0.0.1:5000"], 5678, fetch)
    check = check_port("127.0.0.1", 5678, busy(), "linux", lambda: answers, url_given=True)
    assert check.status == "fail"
    assert check.title == "debugger port 5678 is in use (127.0.0.1:5678)"
    assert said in check.detail
    assert "--url" not in check.detail


def test_busy_port_without_url_hints_at_it() -> None:
    """Without --url, nothing answering on the usual ports is not listed; --url is suggested."""
    answers = ask_status_pages(["http://127.0.0.1:5000"], 5678, no_status_page)
    check = check_port("127.0.0.1", 5678, busy(), "linux", lambda: answers)
    assert check.status == "fail"
    assert "Connection refused" not in check.detail
    assert check.detail.endswith(
        "; if your app holds it, give the app's URL with --url so the doctor can ask its "
        "status page"
    )


def test_status_pages_are_asked_only_for_a_busy_port_and_until_one_holds_it() -> None:
    """A free port asks nothing; a busy one asks each URL until an armed door claims it."""
    asked: list[str] = []

    def fetch(url: str) -> t.Mapping[str, object]:
        asked.append(url)
        return held_by(5678 if url.endswith(":8000") else 6000)(url)

    urls = ["http://127.0.0.1:5000", "http://127.0.0.1:8000", "http://127.0.0.1:8080"]
    assert (
        check_port(
            "127.0.0.1", 5678, no_bind, "linux", lambda: ask_status_pages(urls, 5678, fetch)
        ).status
        == "ok"
    )
    assert asked == []
    answers = ask_status_pages(urls, 5678, fetch)
    assert asked == urls[:2]
    assert [answer.url for answer in answers] == [f"{url}/__remotedbg__" for url in urls[:2]]
    assert answers[-1] == StatusAnswer(url=answers[-1].url, status=fetch(urls[1]))


def test_bad_url_is_one_line(tmp_path: Path) -> None:
    """A --url that is not an http or https URL is one line and exit code 2."""
    result = CliRunner().invoke(doctor_command, ["--url", "ftp://x"], obj=make_probe(tmp_path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "--url='ftp://x': not an http or https URL" in result.output


@pytest.mark.usefixtures("sys_path")
def test_bad_app(tmp_path: Path) -> None:
    """An APP that does not import fails with the loader's one-line message."""
    result = doctor(make_probe(tmp_path), "no_such_module_for_doctor")
    assert result.exit_code == 1
    [line] = lines(result, "fail")
    assert "APP 'no_such_module_for_doctor': no module named" in line
    assert " — run from the project folder" in line


@pytest.mark.usefixtures("sys_path")
def test_app_calling_exit(tmp_path: Path) -> None:
    """An APP that calls sys.exit() on import is a fail line, and the doctor finishes."""
    (tmp_path / "doctor_exiting_app.py").write_text("import sys\nsys.exit(3)\n")
    result = doctor(make_probe(tmp_path), str(tmp_path / "doctor_exiting_app.py"))
    assert result.exit_code == 1
    assert "called sys.exit(3)" in lines(result, "fail")[0]
    assert result.output.splitlines()[-1].startswith("1 failed")


def test_until_past(tmp_path: Path) -> None:
    """A deadline already behind us fails: nothing will arm."""
    result = doctor(make_probe(tmp_path, {"REMOTEDBG_UNTIL": "2029-12-31T00:00Z"}))
    assert result.exit_code == 1
    assert lines(result, "fail") == [
        "fail REMOTEDBG_UNTIL=2029-12-31T00:00Z has passed: nothing will arm "
        "— move it forward or unset it"
    ]


def test_public_host_without_token(tmp_path: Path) -> None:
    """A debugger address beyond loopback without a token fails, and the other checks run."""
    result = doctor(make_probe(tmp_path, {"REMOTEDBG_DAP_HOST": "0.0.0.0"}))
    assert result.exit_code == 1
    [line] = lines(result, "fail")
    assert line.startswith("fail REMOTEDBG_DAP_HOST='0.0.0.0': listens beyond this machine")
    assert "set REMOTEDBG_TOKEN" in line
    assert any(line.startswith("ok   debugpy 1.8.99") for line in lines(result, "ok"))
    assert "skipped until the settings load: REMOTEDBG_ENABLE, debugger port" in result.output


def test_every_bad_setting_reported(tmp_path: Path) -> None:
    """All bad settings are listed at once, and a bad token is not also called missing."""
    env = {
        "REMOTEDBG_TTL": "soon",
        "REMOTEDBG_DAP_PORT": "http",
        "REMOTEDBG_DAP_HOST": "0.0.0.0",
        "REMOTEDBG_TOKEN": "short",
    }
    result = doctor(make_probe(tmp_path, env))
    assert result.exit_code == 1
    fails = lines(result, "fail")
    assert len(fails) == 3
    assert {line.split("=")[0] for line in fails} == {
        "fail REMOTEDBG_TTL",
        "fail REMOTEDBG_DAP_PORT",
        "fail REMOTEDBG_TOKEN",
    }
    assert "short" not in result.output


def test_flask_debug_warns(tmp_path: Path) -> None:
    """FLASK_DEBUG=1 warns about Werkzeug's debugger and reloader, without failing."""
    result = doctor(make_probe(tmp_path, {"FLASK_DEBUG": "1"}))
    assert result.exit_code == 0
    assert any(
        line.startswith("warn FLASK_DEBUG=1") and "second code-execution door" in line
        for line in lines(result, "warn")
    )


def test_werkzeug_run_main_warns(tmp_path: Path) -> None:
    """Running inside Werkzeug's reloader child warns, without failing."""
    result = doctor(make_probe(tmp_path, {"WERKZEUG_RUN_MAIN": "true"}))
    assert result.exit_code == 0
    assert any("running inside Werkzeug's reloader child" in line for line in lines(result, "warn"))


def test_gevent_patching_fails(tmp_path: Path) -> None:
    """A process gevent has patched fails, even with GEVENT_SUPPORT: the debugger will not arm."""
    modules = {
        "gevent": types.SimpleNamespace(),
        "gevent.monkey": types.SimpleNamespace(is_anything_patched=lambda: True),
    }
    result = doctor(make_probe(tmp_path, {"GEVENT_SUPPORT": "True"}, modules=modules))
    assert result.exit_code == 1
    [line] = lines(result, "fail")
    assert line.startswith("fail gevent has monkey-patched this process, so the debugger will ")
    assert "debug with a thread-based worker instead: gunicorn -k gthread, or remotedbg run" in line


@pytest.mark.usefixtures("sys_path")
def test_app_patched_by_real_gevent_fails(tmp_path: Path) -> None:
    """An APP that calls gevent's patch_all() fails the check, as the debugger refuses it."""
    pytest.importorskip("gevent")
    app = tmp_path / "doctor_gevent_app.py"
    app.write_text(
        "from gevent import monkey\nmonkey.patch_all()\n\n"
        "def app(environ, start_response):\n    return [b'ok']\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMOTEDBG_", "GEVENT_"))}
    result = subprocess.run(
        [sys.executable, "-m", "remotedbg", "doctor", str(app)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "fail gevent has monkey-patched this process" in result.stdout


def test_container_warns(tmp_path: Path) -> None:
    """Inside a container with a loopback debugger address, the IDE's way in is explained."""
    (tmp_path / "dockerenv").touch()
    result = doctor(make_probe(tmp_path))
    assert result.exit_code == 0
    [line] = [line for line in lines(result, "warn") if "in a container" in line]
    assert "dockerenv exists" in line
    assert line.endswith(
        "the IDE outside the container cannot reach 127.0.0.1 inside it: publish the port and "
        "use REMOTEDBG_DAP_HOST=0.0.0.0 with a token, or kubectl port-forward"
    )


def test_wide_public_allowlist_warns(tmp_path: Path) -> None:
    """A public allowlist range wider than /24 warns, without failing."""
    result = doctor(make_probe(tmp_path, {"REMOTEDBG_ALLOW": "8.8.0.0/16"}))
    assert result.exit_code == 0
    assert "warn REMOTEDBG_ALLOW has wide public ranges: 8.8.0.0/16 — " in result.output


def test_enable_on(tmp_path: Path) -> None:
    """REMOTEDBG_ENABLE=1 is reported as on."""
    result = doctor(make_probe(tmp_path, {"REMOTEDBG_ENABLE": "1"}))
    assert "ok   REMOTEDBG_ENABLE is on" in result.output


def test_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an injected probe the settings come from the process environment."""
    for name in list(os.environ):
        if name.startswith("REMOTEDBG_"):
            monkeypatch.delenv(name)
    result = CliRunner().invoke(doctor_command, [], env={"REMOTEDBG_TTL": "soon"})
    assert "Traceback" not in result.output
    assert result.exit_code == 1
    assert "fail REMOTEDBG_TTL='soon': not a duration" in result.output


def test_help() -> None:
    """`doctor --help` describes APP and the exit code."""
    result = CliRunner().invoke(doctor_command, ["--help"])
    assert result.exit_code == 0
    assert "[APP]" in result.output
    assert "exits 1" in result.output


# -- the checks one by one ----------------------------------------------------------------


def test_settings_ok_names_what_is_set() -> None:
    """Valid settings yield the Settings and one ok line naming the variables set."""
    settings, checks = check_settings({"REMOTEDBG_TTL": "5m", "PATH": "/bin"})
    assert settings is not None
    assert settings.ttl == 300
    assert checks == [
        Check("ok", "settings from REMOTEDBG_* are valid", "REMOTEDBG_TTL set, the rest default")
    ]


def test_misspelt_setting_fails() -> None:
    """A misspelt variable is a fail line with the suggestion."""
    settings, checks = check_settings({"REMOTEDBG_ALOW": "10.0.0.1"})
    assert settings is None
    assert [check.status for check in checks] == ["fail"]
    assert "did you mean REMOTEDBG_ALLOW" in checks[0].detail


@pytest.mark.parametrize(("enable", "text"), [(False, "turns it on"), (True, "arms")])
def test_enable_note(enable: bool, text: str) -> None:
    """The master switch is a note either way, never a problem."""
    check = check_enable(Settings(enable=enable))
    assert check.status == "ok"
    assert text in check.detail


def test_debugpy_ok() -> None:
    """A debugpy with everything remotedbg uses is ok, with its version."""
    assert check_debugpy(importer(fake_debugpy())) == Check("ok", "debugpy 1.8.99")


def test_installed_debugpy_ok() -> None:
    """The debugpy this package depends on passes its own check, the port-closing parts too.

    In a fresh process: pydevd-pycharm's copy of pydevd, once imported, shadows debugpy's.
    """
    result = subprocess.run(
        [sys.executable, "-m", "remotedbg", "doctor"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("REMOTEDBG_")},
        timeout=60,
        check=False,
    )
    [line] = [line for line in result.stdout.splitlines() if line[5:].startswith("debugpy ")]
    assert line == f"ok   debugpy {importlib.import_module('debugpy').__version__}", line
    assert "frozen modules" not in result.stderr


@pytest.mark.parametrize("part", SAFETY_PARTS)
def test_debugpy_without_a_part_that_keeps_its_port_closed(part: str) -> None:
    """A pydevd lacking any part the debugger needs to close its port fails, naming the part."""
    check = check_debugpy(importer(fake_debugpy(), fake_pydevd(missing=part)))
    assert check == Check(
        "fail",
        f"debugpy 1.8.99 lacks {part}, which remotedbg needs to keep debugpy's own port closed, "
        "so arming is refused",
        "install a debugpy this remotedbg supports",
    )


def test_debugpy_whose_pydevd_does_not_import() -> None:
    """A pydevd that does not import fails the same check, with the import's error."""
    modules = {k: v for k, v in fake_pydevd().items() if k != "_pydevd_bundle.pydevd_api"}
    check = check_debugpy(importer(fake_debugpy(), modules))
    assert check.status == "fail"
    assert "lacks an importable pydevd (ModuleNotFoundError: No module named" in check.title


def test_doctor_and_debugger_ask_for_the_same_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The debugger's own check reads a live debugger's authentication and the loaded API."""
    api = fake_pydevd(missing="PyDevdAPI.request_disconnect")["_pydevd_bundle.pydevd_api"]
    monkeypatch.setitem(sys.modules, "_pydevd_bundle.pydevd_api", api)
    py_db = types.SimpleNamespace(
        initialize_network=print,
        create_wait_for_connection_thread=print,
        authentication=types.SimpleNamespace(),
    )
    assert missing_safety_parts(py_db) == (
        "PyDB.authentication.logout, PyDevdAPI.request_disconnect"
    )


def test_debugpy_missing() -> None:
    """A missing debugpy fails with the install command."""
    check = check_debugpy(importer(None))
    assert check.status == "fail"
    assert check.detail == "pip install debugpy"


def test_debugpy_broken() -> None:
    """A debugpy whose import raises fails in one line."""

    def broken(name: str) -> object:
        raise RuntimeError("half installed")

    check = check_debugpy(broken)
    assert check.status == "fail"
    assert "RuntimeError: half installed" in check.title


def test_debugpy_without_trigger() -> None:
    """A debugpy without trigger_exception_handler warns that view errors won't stop the IDE."""
    check = check_debugpy(importer(fake_debugpy(trigger=False)))
    assert check.status == "warn"
    assert "trigger_exception_handler" in check.title
    assert "unhandled view errors won't stop the IDE" in check.detail


def test_debugpy_without_in_process_adapter() -> None:
    """A debugpy that cannot run its adapter in-process fails: arming would."""
    check = check_debugpy(importer(fake_debugpy(in_process=False)))
    assert check.status == "fail"
    assert "in-process" in check.title


@pytest.mark.parametrize(
    ("version", "env", "status", "text"),
    [
        ((3, 10), {}, "ok", "traces only the debugging client's requests"),
        ((3, 11), {}, "ok", "debugpy traces with sys.settrace"),
        ((3, 12), {}, "ok", "about 60 ns per Python call"),
        ((3, 13), {"PYDEVD_USE_SYS_MONITORING": "0"}, "ok", "traces with sys.settrace, as before"),
        ((3, 13), {"PYDEVD_USE_SYS_MONITORING": "1"}, "ok", "uses sys.monitoring"),
        ((3, 13), {"PYDEVD_USE_SYS_MONITORING": "maybe"}, "fail", "not a value debugpy knows"),
    ],
)
def test_python(version: tuple[int, int], env: dict[str, str], status: str, text: str) -> None:
    """The Python version is explained in terms of the cost of an armed debugger."""
    check = check_python(version, env)
    assert check.status == status
    assert text in f"{check.title} — {check.detail}"


def test_port_free() -> None:
    """A port that binds is ok."""
    assert check_port("127.0.0.1", 5678, no_bind) == Check(
        "ok", "debugger port 127.0.0.1:5678 is free"
    )


def test_port_zero_needs_no_bind() -> None:
    """Port 0 is ok without binding anything: a free port is picked when arming."""

    def must_not_bind(host: str, port: int) -> None:
        raise AssertionError("bound port 0")

    assert check_port("127.0.0.1", 0, must_not_bind).status == "ok"


def raising(error: OSError) -> t.Callable[[str, int], None]:
    def bind(host: str, port: int) -> None:
        raise error

    return bind


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign"), "not an address of this machine"),
        (OSError(errno.EACCES, "Permission denied"), "no permission"),
        (socket.gaierror(socket.EAI_NONAME, "Name unknown"), "does not resolve"),
        (OSError(errno.ENOBUFS, "No buffer space"), "cannot listen on [::1]:5678"),
    ],
)
def test_port_cannot_bind(error: OSError, text: str) -> None:
    """Each way a bind fails is a fail line saying which."""
    check = check_port("::1", 5678, raising(error))
    assert check.status == "fail"
    assert text in check.title


def test_port_in_use_elsewhere_names_lsof() -> None:
    """Where there is no ss, the in-use line names lsof instead."""
    check = check_port("127.0.0.1", 5678, raising(OSError(errno.EADDRINUSE, "in use")), "darwin")
    assert "lsof -nP -iTCP:5678 -sTCP:LISTEN" in check.detail


def test_listener() -> None:
    """A loopback debugger address says how to tunnel; a public one says a token guards it."""
    local = check_listener(Settings())
    assert "ssh -L 5678:127.0.0.1:5678" in local.detail
    public = check_listener(Settings(dap_host="0.0.0.0", token=GOOD_TOKEN))
    assert public.title == "the IDE attaches to 0.0.0.0:5678 with the token"


@pytest.mark.parametrize(
    ("allow", "status"),
    [
        ("203.0.113.0/24", "ok"),
        ("10.0.0.0/8", "ok"),
        ("100.64.0.0/10", "ok"),
        ("8.8.0.0/16", "warn"),
        ("2606:4700::/48", "ok"),
        ("2606:4700::/32", "warn"),
        ("fd00::/8", "ok"),
    ],
)
def test_allowlist_width(allow: str, status: str) -> None:
    """Only public ranges wider than /24 (IPv4) or /48 (IPv6) warn."""
    assert check_allowlist(AddressSet.parse([allow])).status == status


def test_local_proxy_warns(tmp_path: Path) -> None:
    """Loopback allowed, no trusted proxy and a proxy's config on the box: a conditional warning."""
    check = check_proxies(LOOPBACK, NONE, tmp_path / "nginx.conf")
    assert check.status == "warn"
    assert PROXY_PHRASE in check.detail


@pytest.mark.parametrize(
    ("allow", "trusted", "marker"),
    [
        (LOOPBACK, NONE, False),
        (LOOPBACK, AddressSet.parse(["127.0.0.1"]), True),
        (AddressSet.parse(["203.0.113.7"]), NONE, True),
    ],
)
def test_local_proxy_quiet(
    tmp_path: Path, allow: AddressSet, trusted: AddressSet, marker: bool
) -> None:
    """No proxy sign, a trusted proxy, or no loopback entry: nothing to warn about."""
    assert check_proxies(allow, trusted, tmp_path if marker else None).status == "ok"


@pytest.mark.parametrize(
    ("trusted", "status"),
    [
        ("10.0.0.1,172.16.0.0/12", "ok"),
        ("198.51.100.0/24", "ok"),
        ("8.0.0.0/8", "warn"),
        ("2606:4700::/32", "warn"),
        ("0.0.0.0/1,128.0.0.0/1", "fail"),
    ],
)
def test_trusted_proxies(trusted: str, status: str) -> None:
    """Wide public trusted proxies warn; trusting every address fails."""
    check = check_proxies(LOOPBACK, AddressSet.parse(trusted.split(",")), None)
    assert check.status == status


def test_until() -> None:
    """No deadline and a future one are ok; a past one fails."""
    assert check_until(None, NOW).status == "ok"
    ahead = check_until(NOW + timedelta(days=1, hours=2, minutes=3), NOW)
    assert ahead == Check("ok", "arming allowed until 2030-01-02T14:03Z (in 1d 2h)")
    assert check_until(NOW, NOW).status == "fail"


@pytest.mark.parametrize("marker", ["dockerenv", "cgroup", "kubernetes"])
def test_detect_container(tmp_path: Path, marker: str) -> None:
    """A marker file, a container cgroup or Kubernetes' variable each reveal a container."""
    env = {}
    if marker == "dockerenv":
        (tmp_path / ".dockerenv").touch()
    elif marker == "cgroup":
        (tmp_path / "cgroup").write_text("0::/kubepods/besteffort/pod1234\n")
    else:
        env["KUBERNETES_SERVICE_HOST"] = "10.96.0.1"
    found = detect_container(env, (tmp_path / ".dockerenv",), tmp_path / "cgroup")
    assert found is not None
    assert check_container(found, Settings()).status == "warn"


def test_no_container(tmp_path: Path) -> None:
    """No marker, a plain cgroup and no Kubernetes: not a container."""
    (tmp_path / "cgroup").write_text("0::/user.slice\n")
    assert detect_container({}, (tmp_path / ".dockerenv",), tmp_path / "cgroup") is None
    assert check_container(None, Settings()) == Check("ok", "not in a container")


def test_container_with_public_debugger_address() -> None:
    """In a container, a debugger on 0.0.0.0 with a token is ok: publish the port."""
    check = check_container("/.dockerenv exists", Settings(dap_host="0.0.0.0", token=GOOD_TOKEN))
    assert check.status == "ok"
    assert "publish port 5678" in check.detail


@pytest.mark.parametrize(("value", "status"), [("1", "warn"), ("true", "warn"), ("0", "ok")])
def test_flask_debug(value: str, status: str) -> None:
    """FLASK_DEBUG is read the way Flask reads it."""
    assert check_flask_debug({"FLASK_DEBUG": value}).status == status
    assert check_flask_debug({}).status == "ok"


def test_reloader() -> None:
    """WERKZEUG_RUN_MAIN marks a reloader child."""
    assert check_reloader({"WERKZEUG_RUN_MAIN": "true"}).status == "warn"
    assert check_reloader({}).status == "ok"


def never_installed(name: str) -> bool:
    return False


def patched_gevent(patched: bool = True) -> dict[str, object]:
    return {
        "gevent": types.SimpleNamespace(),
        "gevent.monkey": types.SimpleNamespace(is_anything_patched=lambda: patched),
    }


def patched_eventlet(*names: str) -> dict[str, object]:
    return {
        "eventlet": types.SimpleNamespace(),
        "eventlet.patcher": types.SimpleNamespace(is_monkey_patched=lambda name: name in names),
    }


def raising_query(*args: object) -> bool:
    raise RuntimeError("half imported")


@pytest.mark.parametrize(
    ("modules", "env", "status", "title"),
    [
        ({}, {}, "ok", "no gevent or eventlet monkey-patching"),
        (patched_gevent(), {}, "fail", "gevent has monkey-patched this process"),
        (patched_gevent(), {"GEVENT_SUPPORT": "True"}, "fail", "gevent has monkey-patched"),
        (patched_gevent(patched=False), {}, "ok", "gevent is installed, but nothing is"),
        (patched_eventlet("thread"), {}, "fail", "eventlet has monkey-patched this process"),
        (patched_eventlet("socket"), {}, "fail", "eventlet has monkey-patched this process"),
        (patched_eventlet("os"), {}, "ok", "eventlet is installed, but nothing is"),
        (
            {"gevent.monkey": types.SimpleNamespace(is_anything_patched=raising_query)},
            {},
            "ok",
            "no gevent or eventlet monkey-patching",
        ),
        ({}, {"GUNICORN_CMD_ARGS": "-w 1 -k gevent"}, "fail", "GUNICORN_CMD_ARGS chooses"),
        ({}, {"GUNICORN_CMD_ARGS": "--worker-class=eventlet"}, "fail", "GUNICORN_CMD_ARGS"),
        ({}, {"GUNICORN_CMD_ARGS": "-k gthread --threads 4"}, "ok", "no gevent or eventlet"),
        ({}, {"GEVENT_SUPPORT": "True"}, "warn", "GEVENT_SUPPORT=True is set"),
        ({}, {"GEVENT_SUPPORT": "no"}, "ok", "no gevent or eventlet monkey-patching"),
    ],
)
def test_green_threads(
    modules: dict[str, object], env: dict[str, str], status: str, title: str
) -> None:
    """Patching, or a gevent or eventlet gunicorn worker, fails; GEVENT_SUPPORT only hints."""
    check = check_green_threads(modules, env, never_installed)
    assert check.status == status
    assert check.title.startswith(title)
    if status != "ok":
        assert "gunicorn -k gthread, or remotedbg run" in check.detail
        assert "GEVENT_SUPPORT does not change that" in check.detail


def test_gunicorn_gevent_worker_fails(tmp_path: Path) -> None:
    """A gevent worker chosen in GUNICORN_CMD_ARGS fails, naming the worker and the fix."""
    result = doctor(make_probe(tmp_path, {"GUNICORN_CMD_ARGS": "--workers 1 -k gevent"}))
    assert result.exit_code == 1
    assert lines(result, "fail") == [
        "fail GUNICORN_CMD_ARGS chooses gunicorn's gevent worker, where the debugger will not "
        "arm — a breakpoint would freeze the whole worker, and GEVENT_SUPPORT does not change "
        "that; debug with a thread-based worker instead: gunicorn -k gthread, or remotedbg run"
    ]


@pytest.mark.parametrize(
    ("args", "worker"),
    [
        ("", None),
        ("-w 2 --timeout 0", None),
        ("-k gevent", "gevent"),
        ("-keventlet", "eventlet"),
        (
            "--worker-class gunicorn.workers.ggevent.GeventWorker",
            "gunicorn.workers.ggevent.GeventWorker",
        ),
        ("--worker-class=gthread", "gthread"),
        ("-k sync -k gevent", "gevent"),
        ("--keep-alive 5", None),
        ("-k", None),
        ("-k 'gevent", None),
    ],
)
def test_gunicorn_worker_class(args: str, worker: str | None) -> None:
    """The worker class is read from GUNICORN_CMD_ARGS as gunicorn reads it; the last one wins."""
    assert gunicorn_worker_class({"GUNICORN_CMD_ARGS": args}) == worker


@pytest.mark.parametrize(
    "modules",
    [
        {},
        patched_gevent(),
        patched_gevent(patched=False),
        patched_eventlet("thread"),
        patched_eventlet("socket"),
        patched_eventlet("os"),
    ],
)
def test_green_patching_agrees_with_the_debugger(
    monkeypatch: pytest.MonkeyPatch, modules: dict[str, object]
) -> None:
    """The doctor finds patching exactly where the debugger refuses to arm, naming the library."""
    for name in ("gevent.monkey", "eventlet.patcher"):
        if name in modules:
            monkeypatch.setitem(sys.modules, name, modules[name])
        else:
            monkeypatch.delitem(sys.modules, name, raising=False)
    library = green_patching(modules)
    refusal = monkey_patched()
    if library is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert f"monkey-patched by {library}," in refusal


def test_gevent_installed_only() -> None:
    """gevent installed but not imported is a note: its workers would not arm."""
    check = check_green_threads({}, {}, lambda name: name == "gevent")
    assert check.status == "ok"
    assert check.title == "gevent is installed, but nothing is monkey-patched here"
    assert "gunicorn -k gthread" in check.detail


def test_app_checks() -> None:
    """check_app names the module, splits a loader error into problem and fix, survives anything."""

    def load(spec: str) -> str:
        if spec == "good":
            return "good_module"
        if spec == "typo":
            raise AppLoadError("APP 'typo': no module named 'typo'; run from the project folder")
        raise KeyError(spec)

    assert check_app("good", load) == Check("ok", "APP 'good' loads", "module good_module")
    assert check_app("typo", load) == Check(
        "fail", "APP 'typo': no module named 'typo'", "run from the project folder"
    )
    assert check_app("odd", load).title == "APP 'odd': loading raised KeyError: 'odd'"


# -- output -----------------------------------------------------------------------------------


def test_render_aligned() -> None:
    """Every status takes four columns and a space, and the fix follows a dash."""
    rendered = [
        render(Check("ok", "a")),
        render(Check("warn", "b", "fix b")),
        render(Check("fail", "c", "fix c")),
    ]
    assert rendered == ["ok   a", "warn b — fix b", "fail c — fix c"]


def test_render_color() -> None:
    """With color the status is styled and the text unchanged."""
    line = render(Check("fail", "c", "fix c"), color=True)
    assert line.startswith("\x1b[")
    assert line.endswith("fail\x1b[0m c — fix c")


def test_summary() -> None:
    """The summary counts each status and lists what was skipped."""
    report = Report((Check("ok", "a"), Check("warn", "b"), Check("fail", "c")), ("allowlist",))
    assert report.failed
    assert report.summary() == (
        "1 failed, 1 warning, 1 ok: fix the failures above; "
        "skipped until the settings load: allowlist"
    )
    assert Report((Check("ok", "a"),)).summary() == "no failures: 0 warnings, 1 ok"


def test_loopback_debugger_without_loopback_in_allowlist_warns() -> None:
    """A loopback debugger that no loopback peer may attach to is reachable by nobody: warn."""
    from remotedbg.doctor import check_listener
    from remotedbg.settings import Settings

    check = check_listener(Settings.load({"REMOTEDBG_ALLOW": "203.0.113.7"}))
    assert check.status == "warn"
    assert "add 127.0.0.1 to REMOTEDBG_ALLOW" in check.detail
    assert (
        check_listener(Settings.load({"REMOTEDBG_ALLOW": "203.0.113.7,127.0.0.1"})).status == "ok"
    )

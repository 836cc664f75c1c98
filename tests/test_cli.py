"""The CLI: bad input is one line on stderr with exit code 2, never a traceback."""

from __future__ import annotations

import re
import socket
import sys
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotedbg.cli import cli

BAD = [
    (["--ttl", "soon"], "--ttl='soon': not a duration"),
    (["--allow", "10.0.0.300"], "--allow='10.0.0.300': not an IP address or CIDR"),
    (["--allow", "0.0.0.0/0"], "matches every address"),
    (["--trusted-proxy", "nope"], "--trusted-proxy='nope'"),
    (["--dap-port", "70000"], "--dap-port='70000': not a TCP port"),
    (["--dap-host", "0.0.0.0"], "without a token"),
    (["--token", "short"], "--token='<hidden, 5 characters>'"),
    (["--wait", "forever"], "--wait='forever': not a duration"),
    # A bare number once meant seconds while every message asked for a unit.
    (["--ttl", "30"], "--ttl='30': a duration needs a unit; write 30s for seconds or 30m"),
    (["--wait", "30"], "--wait='30': a duration needs a unit; write 30s for seconds or 30m"),
    (["--until", "2026-01-01"], "no time zone"),
    (["--port", "70000"], "--port='70000': not a TCP port"),
    (["--host", "not a host"], "--host='not a host'"),
    # Settings that start a server which could never arm.
    (["--until", "2020-01-01T00:00Z"], "--until='2020-01-01T00:00Z': has passed"),
    (["--port", "5000", "--dap-port", "5000"], "--dap-port='5000': is also the HTTP port"),
    (["--port", "5678"], "--dap-port='5678' (the default): is also the HTTP port"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_options(args: list[str], message: str) -> None:
    """Every option, given a bad value, fails with exit 2 and one clear line."""
    result = CliRunner().invoke(cli, ["run", "tests/apps/flask_app.py", *args], env={})
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REMOTEDBG_ENABLE": "maybe"}, "REMOTEDBG_ENABLE='maybe': not a yes/no value"),
        ({"REMOTEDBG_TTL": "soon"}, "REMOTEDBG_TTL='soon'"),
        ({"REMOTEDBG_TTL": "30"}, "REMOTEDBG_TTL='30': a duration needs a unit; write 30s"),
        ({"REMOTEDBG_ALLOW": "10.0.0.300"}, "REMOTEDBG_ALLOW='10.0.0.300'"),
        ({"REMOTEDBG_DAP_PORT": "70000"}, "REMOTEDBG_DAP_PORT='70000'"),
        ({"REMOTEDBG_ALOW": "1.2.3.4"}, "did you mean REMOTEDBG_ALLOW?"),
        ({"REMOTEDBG_UNTIL": "2020-01-01T00:00Z"}, "REMOTEDBG_UNTIL='2020-01-01T00:00Z'"),
        ({"REMOTEDBG_DAP_PORT": "5000"}, "REMOTEDBG_DAP_PORT='5000': is also the HTTP port"),
    ],
)
def test_bad_environment(env: dict[str, str], message: str) -> None:
    """Bad environment values fail the same way, naming the variable."""
    result = CliRunner().invoke(cli, ["run", "tests/apps/flask_app.py"], env=env)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_bridge_with_a_past_deadline() -> None:
    """`remotedbg bridge` with a past --until says so, exit 2, instead of exiting at once."""
    args = ["bridge", "--upstream", "127.0.0.1:1", "--until", "2020-01-01T00:00Z"]
    result = CliRunner().invoke(cli, args, env={})
    assert result.exit_code == 2
    assert "--until='2020-01-01T00:00Z': has passed" in result.output


def test_app_that_does_not_import() -> None:
    """An APP that does not import is one line and exit 2."""
    result = CliRunner().invoke(cli, ["run", "no_such_module_here"], env={})
    assert result.exit_code == 2
    assert "APP 'no_such_module_here': no module named" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.fixture
def own_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Folders the loader puts on sys.path for a test's app are taken off afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))


def assert_one_line(result: t.Any, exit_code: int = 2) -> str:
    """The result is exit 2 and a single line, with nothing (no banner) before it."""
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return str(lines[0])


def test_unresolvable_host_is_one_line_before_any_banner() -> None:
    """--host that does not resolve names --host, exit 2, and never says "serving"."""
    args = ["run", "tests/apps/wsgi_app.py", "--host", "not-a-real-host.invalid", "--port", "0"]
    line = assert_one_line(CliRunner().invoke(cli, args, env={}))
    assert line.startswith("Error: --host='not-a-real-host.invalid': cannot be resolved")
    assert "; use an address of this machine" in line


def test_busy_port_is_one_line_before_any_banner() -> None:
    """A --port another program holds names --port and the fix, exit 2, no banner first."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = ["run", "tests/apps/wsgi_app.py", "--port", str(port), "--dap-port", "0"]
        line = assert_one_line(CliRunner().invoke(cli, args, env={}))
    assert line == (
        f"Error: --port={port}: already in use by another program (Address already in use); "
        "choose another --port, or stop that program"
    )


def test_demo_says_nothing_before_a_busy_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`demo` prints its breakpoint hint only once the port is bound."""
    monkeypatch.chdir(tmp_path)  # whatever demo leaves in its folder stays out of the checkout
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        args = ["demo", "--port", str(holder.getsockname()[1]), "--dap-port", "0"]
        assert "already in use" in assert_one_line(CliRunner().invoke(cli, args, env={}))


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("app:create_app(", "the factory call's parentheses do not match; write module:name"),
        ("app:", "malformed; write module:name, module:factory('args')"),
    ],
)
def test_malformed_app_spec(spec: str, problem: str) -> None:
    """A malformed APP is called that, with the accepted forms, instead of "no module"."""
    line = assert_one_line(CliRunner().invoke(cli, ["run", spec], env={}))
    assert line.startswith(f"Error: APP {spec!r}: {problem}")


@pytest.mark.parametrize(
    ("code", "said"),
    [("3", "with code 3"), ("None", "with code 0"), ("'db missing'", "saying 'db missing'")],
)
@pytest.mark.usefixtures("own_sys_path")
def test_app_that_exits_while_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str, said: str
) -> None:
    """An app calling sys.exit() at import is one line and exit 2, not a silent exit."""
    monkeypatch.chdir(tmp_path)
    name = f"exits_{len(code)}_app"  # one module name per case: imports are cached
    (tmp_path / f"{name}.py").write_text(f"raise SystemExit({code})\n")
    line = assert_one_line(CliRunner().invoke(cli, ["run", name, "--port", "0"], env={}))
    assert line.startswith(f"Error: APP '{name}': the app exited {said} while being imported; ")


@pytest.mark.usefixtures("own_sys_path")
def test_app_with_a_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    """A SyntaxError in the app is one line naming file:line."""
    app = tmp_path / "broken_syntax_app.py"
    app.write_text("x = 1\ndef (:\n")
    line = assert_one_line(CliRunner().invoke(cli, ["run", str(app), "--port", "0"], env={}))
    assert f"at {app}:2; fix the code there" in line


@pytest.mark.usefixtures("own_sys_path")
def test_app_raising_a_multiline_error_is_one_line(tmp_path: Path) -> None:
    """An import-time exception whose text spans lines still makes one line."""
    app = tmp_path / "multiline_error_app.py"
    app.write_text("raise RuntimeError('first\\nsecond')\n")
    line = assert_one_line(CliRunner().invoke(cli, ["run", str(app), "--port", "0"], env={}))
    assert "raised RuntimeError: first second; " in line


def test_version() -> None:
    """`remotedbg --version` prints the installed version."""
    from importlib.metadata import version

    result = CliRunner().invoke(cli, ["--version"], prog_name="remotedbg")
    assert result.exit_code == 0
    assert result.output == f"remotedbg, version {version('remotedbg')}\n"


def test_token_command() -> None:
    """`remotedbg token` prints a fresh, long, URL-safe secret each time."""
    first = CliRunner().invoke(cli, ["token"]).output.strip()
    second = CliRunner().invoke(cli, ["token"]).output.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", first)
    assert first != second

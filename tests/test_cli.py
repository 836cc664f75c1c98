"""The CLI: bad input is one line on stderr with exit code 2, never a traceback."""

from __future__ import annotations

import re

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


def test_token_command() -> None:
    """`remotedbg token` prints a fresh, long, URL-safe secret each time."""
    first = CliRunner().invoke(cli, ["token"]).output.strip()
    second = CliRunner().invoke(cli, ["token"]).output.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", first)
    assert first != second

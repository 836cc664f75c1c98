"""`remotedbg bridge` checks its upstream before it announces, and writes addresses as typed."""

from __future__ import annotations

import logging
import socket
import typing as t

import pytest
from click.testing import CliRunner

from remotedbg.cli import cli

from servers import free_port


def free_ipv6_port() -> int | None:
    """A free port on ::1, or None where this machine has no IPv6 loopback."""
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
            return int(sock.getsockname()[1])
    except OSError:
        return None


@pytest.fixture(autouse=True)
def restore_logging() -> t.Iterator[None]:
    """The bridge sets up remotedbg's log handler on CliRunner's stream: take it away after."""
    logger = logging.getLogger("remotedbg")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_upstream_where_nothing_listens_is_one_line() -> None:
    """An --upstream nothing listens on is one line naming it, exit 2, and no announcement."""
    upstream = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["bridge", "--upstream", upstream, "--ttl", "1s"], env={})
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"Error: --upstream={upstream!r}: nothing listens there; start debugpy first "
        f"(python -m debugpy --listen {upstream} ...) or give the address it listens on\n"
    )


def test_upstream_that_does_not_resolve_is_one_line() -> None:
    """An --upstream host that does not resolve is one line naming --upstream, exit 2."""
    args = ["bridge", "--upstream", "not-a-real-host.invalid:5679", "--ttl", "1s"]
    result = CliRunner().invoke(cli, args, env={})
    assert result.exit_code == 2, result.output
    assert result.output.startswith(
        "Error: --upstream='not-a-real-host.invalid:5679': cannot be resolved"
    )
    assert len(result.output.splitlines()) == 1


def test_upstream_is_not_connected_to() -> None:
    """The check binds rather than connects: a connection would be taken for an IDE's."""
    with socket.socket() as upstream:
        upstream.bind(("127.0.0.1", 0))
        upstream.listen()
        upstream.setblocking(False)
        port = upstream.getsockname()[1]
        args = ["bridge", "--listen", "127.0.0.1:0", "--upstream", f"127.0.0.1:{port}"]
        result = CliRunner().invoke(cli, [*args, "--ttl", "1s"], env={})
        with pytest.raises(BlockingIOError):
            upstream.accept()
    assert result.exit_code == 0, result.output
    assert "the armed window ended" in result.output


@pytest.mark.skipif(free_ipv6_port() is None, reason="no IPv6 loopback here")
def test_ipv6_listen_address_is_announced_in_brackets() -> None:
    """`--listen [::1]:N` is announced as [::1]:N, the form that can be typed back."""
    with socket.socket() as upstream:
        upstream.bind(("127.0.0.1", 0))
        upstream.listen()
        port = free_ipv6_port()
        target = f"127.0.0.1:{upstream.getsockname()[1]}"
        args = ["bridge", "--listen", f"[::1]:{port}", "--upstream", target]
        result = CliRunner().invoke(cli, [*args, "--ttl", "1s"], env={})
    assert result.exit_code == 0, result.output
    assert f"remotedbg bridge: [::1]:{port} -> debugpy at {target}," in result.output
    assert f" ::1:{port}" not in result.output

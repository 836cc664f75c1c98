"""The token rule: at least 128 random bits, refused at start-up otherwise, never echoed."""

from __future__ import annotations

import secrets

import pytest
from click.testing import CliRunner

from remotedbg.cli import cli
from remotedbg.errors import ConfigError
from remotedbg.settings import Settings, parse_token


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("a" * 24, id="one-character"),
        pytest.param("0123456789abcdef-token", id="sequential-run"),
        pytest.param("abcdefghijklmnopqrstuvwxyz0123456789", id="alphabet"),
        pytest.param("ab" * 16, id="two-characters"),
        pytest.param("password-password-password", id="repeated-word"),
        pytest.param("Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!", id="repeated-pattern"),
        pytest.param("zyxwvutsrqponmlkjihgfedcba", id="descending"),
        pytest.param("1029384756" * 3, id="repeated-digits"),
        pytest.param("correcthorsebatterystaple", id="lowercase-only"),
    ],
)
def test_visibly_weak_tokens_are_refused_without_echo(token: str) -> None:
    """A long but low-entropy token fails at start-up; the message hides it and says the fix."""
    with pytest.raises(ConfigError) as info:
        Settings.load({"REMOTEDBG_TOKEN": token})
    message = str(info.value)
    assert message.startswith(f"REMOTEDBG_TOKEN='<hidden, {len(token)} characters>': ")
    assert "128 random bits" in message
    assert message.endswith("make one with `remotedbg token`")
    assert token not in message


def test_short_tokens_are_refused() -> None:
    """21 random characters (126 bits) are too few."""
    with pytest.raises(ConfigError, match="at least 22 characters"):
        parse_token("--token", secrets.token_urlsafe(16)[:21])


@pytest.mark.parametrize("nbytes", [17, 18, 20, 24, 32, 48])
def test_random_urlsafe_tokens_always_pass(nbytes: int) -> None:
    """Thousands of secrets.token_urlsafe(n), n >= 17, are all accepted."""
    tokens = [secrets.token_urlsafe(nbytes) for _ in range(3000)]
    assert [token for token in tokens if parse_token("t", token) != token] == []


def test_random_hex_tokens_always_pass() -> None:
    """Thousands of secrets.token_hex(16) (exactly 128 bits) are all accepted."""
    tokens = [secrets.token_hex(16) for _ in range(5000)]
    assert [token for token in tokens if parse_token("t", token) != token] == []


def test_remotedbg_token_output_passes() -> None:
    """What `remotedbg token` prints is always a valid REMOTEDBG_TOKEN."""
    runner = CliRunner()
    for _ in range(50):
        token = runner.invoke(cli, ["token"]).output.strip()
        assert Settings.load({"REMOTEDBG_TOKEN": token}).token == token

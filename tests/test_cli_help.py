"""`--help` says what each value is and shows defaults one way."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from remotedbg.cli import cli

COMMANDS = [["run"], ["demo"], ["bridge"], ["attach"], ["config", "vscode"], ["config", "pycharm"]]


def help_text(*command: str) -> str:
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    "usage",
    [
        "--ttl DURATION",
        "--wait DURATION",
        "--until DATETIME",
        "--dap-port PORT",
        "--dap-host HOST",
        "--token TOKEN",
        "--allow ADDRESS",
        "--trusted-proxy ADDRESS",
    ],
)
def test_metavars_say_what_the_value_is(usage: str) -> None:
    """Each setting's option names the kind of value it takes."""
    assert usage in help_text("run")


@pytest.mark.parametrize("command", COMMANDS)
def test_no_option_takes_a_vague_value(command: list[str]) -> None:
    """No option's value is a bare VALUE or an abbreviation."""
    text = help_text(*command)
    assert " VALUE " not in text
    assert " ADDR " not in text


@pytest.mark.parametrize("command", COMMANDS)
def test_defaults_are_shown_one_way(command: list[str]) -> None:
    """A default is always `[default: ...]`, never a bare `[5678]` or inside `[env: ...]`."""
    text = help_text(*command)
    brackets = re.findall(r"\[[^\]]*\]", text.split("Options:")[1])
    odd = [b for b in brackets if not re.match(r"\[(default: |env var: |required\]|[A-Z]+\])", b)]
    assert odd == []
    assert "; default:" not in text


def test_settings_options_name_default_and_variable() -> None:
    """A setting's option shows its default and the variable it overrides."""
    text = help_text("run")
    assert "[default: 30m] [env var: REMOTEDBG_TTL]" in text
    assert "[default: 0s] [env var: REMOTEDBG_WAIT]" in text


def test_attach_local_port_default() -> None:
    """`attach --local-port` shows its default like every other option."""
    assert "[default: 5678]" in help_text("attach")


def test_pycharm_offers_no_write() -> None:
    """`config pycharm` does not advertise --write, which could only be refused."""
    assert "--write" not in help_text("config", "pycharm")
    assert "--write" in help_text("config", "vscode")

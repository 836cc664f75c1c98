"""The ready-made vscode_configs/launch.json: valid JSONC, safe, and in step with the CLI."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import json5
import pytest
from click.testing import CliRunner
from json5.tokenizer import tokenize

from remotedbg.client.ide_config import config_group
from remotedbg.client.vscode_config import TOKEN_REFERENCE

LAUNCH_JSON = Path(__file__).resolve().parent.parent / "vscode_configs" / "launch.json"
TEXT = LAUNCH_JSON.read_text(encoding="utf-8")
DATA: dict[str, t.Any] = json5.loads(TEXT)
CONFIGS: list[dict[str, t.Any]] = DATA["configurations"]
#: The configurations that carry their own path mappings and token (not the relay one).
DIRECT = [c for c in CONFIGS if "relay" not in c["name"]]
COMMENTS = [tok.value for tok in tokenize(TEXT) if tok.type in ("LINE_COMMENT", "BLOCK_COMMENT")]


def by_name(fragment: str) -> dict[str, t.Any]:
    [config] = [c for c in CONFIGS if fragment in c["name"]]
    return config


def test_version() -> None:
    """The file declares launch.json version 0.2.0."""
    assert DATA["version"] == "0.2.0"


def test_there_are_configurations() -> None:
    """There is the relay, the local and the SSH-tunnel configuration."""
    assert len(CONFIGS) >= 3
    assert by_name("relay")
    assert by_name("local")
    assert by_name("SSH tunnel")


@pytest.mark.parametrize("config", DIRECT, ids=[c["name"] for c in DIRECT])
def test_each_is_a_debugpy_attach(config: dict[str, t.Any]) -> None:
    """Each direct configuration attaches with debugpy, with connect, pathMappings, justMyCode."""
    assert config["type"] == "debugpy"
    assert config["request"] == "attach"
    assert set(config["connect"]) == {"host", "port"}
    assert isinstance(config["connect"]["host"], str)
    assert isinstance(config["connect"]["port"], int)
    assert 1 <= config["connect"]["port"] <= 65535
    assert config["pathMappings"]
    for mapping in config["pathMappings"]:
        assert set(mapping) == {"localRoot", "remoteRoot"}
        assert mapping["localRoot"] == "${workspaceFolder}"
        assert isinstance(mapping["remoteRoot"], str)
        assert mapping["remoteRoot"]
    assert isinstance(config["justMyCode"], bool)


def test_names_are_unique() -> None:
    """No two configurations share a name, so --write's merge by name is unambiguous."""
    names = [c["name"] for c in CONFIGS]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("config", DIRECT, ids=[c["name"] for c in DIRECT])
def test_token_is_only_a_reference(config: dict[str, t.Any]) -> None:
    """remotedbgToken reads the environment; no other key could carry a secret."""
    assert config["remotedbgToken"] == TOKEN_REFERENCE == "${env:REMOTEDBG_TOKEN}"
    assert not [key for key in config if "token" in key.lower() and key != "remotedbgToken"]


def test_no_literal_token_anywhere_in_the_text() -> None:
    """Every string that mentions a token in the file is the environment reference."""
    strings = [tok.value for tok in tokenize(TEXT) if tok.type == "DOUBLE_QUOTE_STRING"]
    for value in strings:
        if re.search("token", value, re.IGNORECASE) and value != '"remotedbgToken"':
            assert value == f'"{TOKEN_REFERENCE}"'


def test_a_comment_explains_the_exception_filters() -> None:
    """A comment tells where the "Uncaught Exceptions" filter is, since launch.json has none."""
    assert any("Uncaught Exceptions" in comment for comment in COMMENTS)


def test_cli_default_matches_the_local_configuration() -> None:
    """`remotedbg config vscode` prints the "local" configuration's fields, except its name."""
    result = CliRunner().invoke(config_group, ["vscode"])
    assert result.exit_code == 0, result.output
    printed = json5.loads(result.stdout)
    local = by_name("local")
    assert {k: v for k, v in printed.items() if k != "name"} == {
        k: v for k, v in local.items() if k != "name"
    }


def test_cli_remote_root_matches_the_tunnel_configuration() -> None:
    """With --remote-root, the printed configuration is the SSH-tunnel one with that root."""
    tunnel = by_name("SSH tunnel")
    root = tunnel["pathMappings"][0]["remoteRoot"]
    result = CliRunner().invoke(config_group, ["vscode", "--remote-root", root])
    printed = json5.loads(result.stdout)
    assert {k: v for k, v in printed.items() if k != "name"} == {
        k: v for k, v in tunnel.items() if k != "name"
    }


def test_relay_configuration_leaves_mappings_and_token_to_attach() -> None:
    """The relay configuration sends neither pathMappings nor a token, and matches --relay."""
    relay = by_name("relay")
    assert "pathMappings" not in relay
    assert not [key for key in relay if "token" in key.lower()]
    result = CliRunner().invoke(config_group, ["vscode", "--relay"])
    assert result.exit_code == 0, result.output
    assert json5.loads(result.stdout) == relay


def test_relay_refuses_a_remote_root() -> None:
    """--relay with --remote-root is a contradiction, refused in one line."""
    result = CliRunner().invoke(config_group, ["vscode", "--relay", "--remote-root", "/srv"])
    assert result.exit_code == 2
    assert "--relay" in result.output

"""`remotedbg config`: attach configurations printed, merged into launch.json, and refused."""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import socket
import stat
import subprocess
import sys
import threading
import typing as t
from pathlib import Path

import click
import json5
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st
from json5 import model
from json5.loader import ModelLoader

from remotedbg.client import pycharm_config, vscode_config
from remotedbg.client.ide_config import (
    IdeConfigError,
    LaunchJsonError,
    StatusPageError,
    config_group,
    fetch_status,
    status_url,
)

from servers import free_port

SECRET = "s3cret-token-value-0123456789"
NAME = "remotedbg: attach"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(config_group, list(args), env=env)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """Exit code 2, a single `Error: ...` line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def strip_comment_lines(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def jsonc(text: str) -> t.Any:
    return json5.loads(text)


def config_span(text: str, name: str) -> tuple[int, int]:
    """Offsets of the configuration called `name`, found independently of the code under test."""
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    document = json5.loads(text, loader=ModelLoader())
    top = document.value
    assert isinstance(top, model.JSONObject)
    for key, value in zip(top.keys, top.values, strict=True):
        if isinstance(key, model.DoubleQuotedString) and key.characters == "configurations":
            assert isinstance(value, model.JSONArray)
            for item in value.values:
                assert isinstance(item, model.JSONObject)
                for k, v in zip(item.keys, item.values, strict=True):
                    if (
                        isinstance(k, model.DoubleQuotedString)
                        and k.characters == "name"
                        and isinstance(v, model.DoubleQuotedString)
                        and v.characters == name
                    ):
                        assert item.lineno is not None
                        assert item.col_offset is not None
                        assert item.end_lineno is not None
                        assert item.end_col_offset is not None
                        return (
                            starts[item.lineno - 1] + item.col_offset,
                            starts[item.end_lineno - 1] + item.end_col_offset,
                        )
    raise LookupError(name)


def without_added(new: str, name: str) -> str:
    """`new` minus the configuration `name` and the line break and trailing comma around it."""
    start, end = config_span(new, name)
    start = new.rfind("\n", 0, start)
    if new[start - 1] == "\r":
        start -= 1
    if new[end : end + 1] == ",":
        end += 1
    return new[:start] + new[end:]


def comments(text: str) -> list[str]:
    """Every comment in a JSONC text, in order, read with json-five's tokenizer."""
    from json5.tokenizer import tokenize

    return [tok.value for tok in tokenize(text) if tok.type in ("LINE_COMMENT", "BLOCK_COMMENT")]


# A launch.json as people keep them: comments of both kinds everywhere, trailing commas,
# other configurations and a compound.
RICH = """\
// Project launch configurations. /* not a block comment */ "not a string"
{
    /* Keep the version:
       VS Code checks it. */
    "version": "0.2.0",
    "configurations": [ // start of the list
        {
            // The web app, started by VS Code.
            "name": "Flask: run",
            "type": "debugpy",
            "request": "launch",
            "module": "flask", /* inline */
            "args": ["run", "--no-debugger",], // trailing comma inside
            "env": {"URL": "http://example.com/a//b", "GLOB": "/*.py"},
        },
        /* a commented-out configuration:
        { "name": "old", "type": "debugpy" },
        */
        {
            "name": "Tests",
            "type": "debugpy",
            "request": "launch",
            "module": "pytest",
        }, // last one
    ],
    "compounds": [
        { "name": "Both", "configurations": ["Flask: run", "Tests"] }, // compound
    ],
}
// the end
"""

# The same without a trailing comma after the last configuration, and a comment after it.
NO_TRAILING_COMMA = """\
{
  "version": "0.2.0",
  "configurations": [
    {
      "name": "Tests",
      "type": "debugpy",
      "request": "launch"
    } // last one, no comma
  ]
}
"""


# -- printing -------------------------------------------------------------------------------


def test_printed_config_parses_with_the_expected_fields() -> None:
    """The printed configuration is a JSONC object with the attach fields and defaults."""
    result = invoke("vscode")
    assert result.exit_code == 0, result.output
    config = json.loads(strip_comment_lines(result.stdout))
    assert config == jsonc(result.stdout)
    assert config == {
        "name": NAME,
        "type": "debugpy",
        "request": "attach",
        "connect": {"host": "127.0.0.1", "port": 5678},
        "pathMappings": [{"localRoot": "${workspaceFolder}", "remoteRoot": "${workspaceFolder}"}],
        "justMyCode": True,
        "remotedbgToken": "${env:REMOTEDBG_TOKEN}",
    }


def test_printed_config_explains_exception_filters_in_a_comment() -> None:
    """A comment line above the object says where exception filters live in VS Code."""
    out = invoke("vscode").stdout
    head = out[: out.index("{")]
    assert all(line.startswith("//") for line in head.splitlines())
    assert "Uncaught Exceptions" in head
    assert "BREAKPOINTS" in head
    assert comments(out[out.index("{") :]) == []  # the object itself is plain JSON


def test_options_change_the_printed_config() -> None:
    """--name, --host, --port, --remote-root and --no-just-my-code land in their fields."""
    result = invoke(
        "vscode",
        "--name",
        "staging",
        "--host",
        "localhost",
        "--port",
        "15678",
        "--remote-root",
        "/srv/app",
        "--no-just-my-code",
    )
    config = jsonc(result.stdout)
    assert config["name"] == "staging"
    assert config["connect"] == {"host": "localhost", "port": 15678}
    assert config["pathMappings"] == [{"localRoot": "${workspaceFolder}", "remoteRoot": "/srv/app"}]
    assert config["justMyCode"] is False


def test_token_never_printed() -> None:
    """With REMOTEDBG_TOKEN set, the output refers to the variable and never holds the value."""
    result = invoke("vscode", env={"REMOTEDBG_TOKEN": SECRET})
    assert result.exit_code == 0
    assert SECRET not in result.output
    assert jsonc(result.stdout)["remotedbgToken"] == "${env:REMOTEDBG_TOKEN}"


def test_there_is_no_token_option() -> None:
    """A literal token cannot be passed: `--token` is not an option of `config vscode`."""
    result = invoke("vscode", "--token", SECRET)
    assert result.exit_code == 2
    assert "No such option" in result.output


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--port", "http"], ["--port='http'", "not a TCP port"]),
        (["--port", "70000"], ["--port='70000'"]),
        (["--port", "0"], ["--port='0'", "real port"]),
        (["--host", "bad host!"], ["--host='bad host!'", "not an IP address or host name"]),
        (["--url", "ftp://example.com"], ["--url='ftp://example.com'", "http"]),
        (["--url", "http://x", "--remote-root", "/srv"], ["--remote-root", "one of the two"]),
    ],
)
def test_bad_options_fail_in_one_line(args: list[str], fragments: list[str]) -> None:
    """A bad option value exits with code 2 and one line naming the option and the fix."""
    assert_one_line_error(invoke("vscode", *args), *fragments)


def printed_write_command(out: str) -> list[str]:
    """The `remotedbg config vscode ... --write` that the printed comment names, as argv."""
    found = re.search(
        r"^// `remotedbg config (vscode .*--write)` to have it merged there\.$", out, re.M
    )
    assert found is not None, out
    return shlex.split(found[1])


def test_relay_comment_is_true_of_the_relay_configuration() -> None:
    """--relay's comment names --relay in its --write command and no remotedbgToken field."""
    out = invoke("vscode", "--relay").stdout
    assert printed_write_command(out) == ["vscode", "--relay", "--write"]
    assert "remotedbgToken" not in out
    assert "no pathMappings and no token here" in out
    assert "Uncaught Exceptions" in out


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--relay"],
        ["--relay", "--port", "5680"],
        ["--relay", "--name", "mine relay", "--no-just-my-code"],
        ["--remote-root", "/srv/my app", "--host", "localhost", "--port", "15678"],
        ["--name", "staging", "--remote-root", "/srv/app"],
    ],
)
def test_the_printed_write_command_writes_the_printed_configuration(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The --write command in the printed comment merges exactly the object printed below it."""
    out = invoke("vscode", *args).stdout
    monkeypatch.chdir(tmp_path)
    command = printed_write_command(out)
    assert invoke(*command).exit_code == 0
    written = jsonc((tmp_path / ".vscode" / "launch.json").read_text())["configurations"]
    assert written == [jsonc(out)]


def test_a_written_relay_configuration_has_only_true_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written into launch.json, a relay configuration's comment mentions no remotedbgToken."""
    monkeypatch.chdir(tmp_path)
    assert invoke("vscode", "--relay", "--write").exit_code == 0
    text = (tmp_path / ".vscode" / "launch.json").read_text()
    assert "remotedbgToken" not in text
    assert "--write" not in text  # the printed advice on where the object goes stays out
    assert any("the relay adds both" in comment for comment in comments(text))
    assert any("Uncaught Exceptions" in comment for comment in comments(text))


def test_a_written_direct_configuration_keeps_its_token_comment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configuration that sends remotedbgToken keeps the comment on where its value comes from."""
    monkeypatch.chdir(tmp_path)
    assert invoke("vscode", "--write").exit_code == 0
    text = (tmp_path / ".vscode" / "launch.json").read_text()
    assert any("never paste" in comment for comment in comments(text))


# -- --write ------------------------------------------------------------------------------


def test_write_creates_the_file_and_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a launch.json, --write creates .vscode/ and a file with version and the config."""
    monkeypatch.chdir(tmp_path)
    result = invoke("vscode", "--write")
    assert result.exit_code == 0, result.output
    assert "Created .vscode/launch.json" in result.stdout
    text = (tmp_path / ".vscode" / "launch.json").read_text()
    data = jsonc(text)
    assert data["version"] == "0.2.0"
    assert data["configurations"] == [jsonc(invoke("vscode").stdout)]
    assert "Uncaught Exceptions" in " ".join(comments(text))


def test_write_to_a_given_path(tmp_path: Path) -> None:
    """--write PATH writes there, creating missing directories."""
    target = tmp_path / "deep" / "dir" / "launch.json"
    result = invoke("vscode", "--write", str(target), "--name", "n")
    assert result.exit_code == 0, result.output
    assert [c["name"] for c in jsonc(target.read_text())["configurations"]] == ["n"]


def test_write_adds_and_keeps_every_comment_byte_identical(tmp_path: Path) -> None:
    """Adding to a launch.json with comments and trailing commas changes nothing else."""
    target = tmp_path / "launch.json"
    target.write_text(RICH)
    result = invoke("vscode", "--write", str(target), "--remote-root", "/srv/app")
    assert result.exit_code == 0, result.output
    assert "Added" in result.stdout
    new = target.read_text()
    assert without_added(new, NAME) == RICH
    start, end = config_span(new, NAME)
    assert comments(new[:start]) + comments(new[end:]) == comments(RICH)
    old, data = jsonc(RICH), jsonc(new)
    assert data["configurations"][:-1] == old["configurations"]
    assert data["configurations"][-1]["pathMappings"][0]["remoteRoot"] == "/srv/app"
    assert data["compounds"] == old["compounds"]
    # The new configuration follows the file's style: indented like its neighbours, with a
    # trailing comma like them.
    assert new[new.rfind("\n", 0, start) + 1 : start] == " " * 8
    assert new[end] == ","


def test_write_without_trailing_comma_puts_the_comma_before_the_comment(tmp_path: Path) -> None:
    """The separator goes right after the last configuration, never into its trailing comment."""
    target = tmp_path / "launch.json"
    target.write_text(NO_TRAILING_COMMA)
    assert invoke("vscode", "--write", str(target)).exit_code == 0
    new = target.read_text()
    expected = NO_TRAILING_COMMA.replace("} // last one", "}, // last one")
    assert without_added(new, NAME) == expected
    assert [c["name"] for c in jsonc(new)["configurations"]] == ["Tests", NAME]
    # Two-space indentation is the file's own, and it is kept.
    start, _ = config_span(new, NAME)
    assert new[new.rfind("\n", 0, start) + 1 : start] == "    "
    assert '\n      "name": "remotedbg: attach",' in new


def test_write_is_idempotent(tmp_path: Path) -> None:
    """A second run with the same options leaves the file byte-identical and says so."""
    target = tmp_path / "launch.json"
    target.write_text(RICH)
    invoke("vscode", "--write", str(target))
    first = target.read_bytes()
    inode = target.stat().st_ino
    result = invoke("vscode", "--write", str(target))
    assert result.exit_code == 0
    assert "already up to date" in result.stdout
    assert target.read_bytes() == first
    assert target.stat().st_ino == inode  # not even rewritten


def test_write_replaces_by_name(tmp_path: Path) -> None:
    """A configuration with the same name is replaced in place; the rest stays byte-identical."""
    target = tmp_path / "launch.json"
    target.write_text(RICH)
    invoke("vscode", "--write", str(target), "--port", "1111")
    before = target.read_text()
    result = invoke("vscode", "--write", str(target), "--port", "2222")
    assert "Replaced" in result.stdout
    after = target.read_text()
    names = [c["name"] for c in jsonc(after)["configurations"]]
    assert names == ["Flask: run", "Tests", NAME]
    assert jsonc(after)["configurations"][-1]["connect"]["port"] == 2222
    b_start, b_end = config_span(before, NAME)
    a_start, a_end = config_span(after, NAME)
    assert before[:b_start] == after[:a_start]
    assert before[b_end:] == after[a_end:]


def test_write_replaces_a_hand_written_configuration_in_the_middle(tmp_path: Path) -> None:
    """A same-named configuration anywhere in the list is the one replaced, at its place."""
    target = tmp_path / "launch.json"
    target.write_text(RICH.replace('"name": "Flask: run"', '"name": "mine"'))
    invoke("vscode", "--write", str(target), "--name", "mine", "--port", "7000")
    data = jsonc(target.read_text())
    assert [c["name"] for c in data["configurations"]] == ["mine", "Tests"]
    assert data["configurations"][0]["connect"] == {"host": "127.0.0.1", "port": 7000}
    assert "module" not in data["configurations"][0]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('{"version": "0.2.0", "configurations": []}', [NAME]),
        ('{\n    "version": "0.2.0",\n    "configurations": [\n    ]\n}\n', [NAME]),
        ('{"version": "0.2.0", "configurations": [ /* none yet */ ]}', [NAME]),
        ('{"version": "0.2.0"}', [NAME]),
        ('{\n  "version": "0.2.0", // comment\n}\n', [NAME]),
        ("{}", [NAME]),
        ('{"configurations": [{"name": "a"}]}', ["a", NAME]),
        ("\n  \n", [NAME]),
    ],
)
def test_write_into_sparse_files(tmp_path: Path, text: str, names: list[str]) -> None:
    """Empty lists, a missing "configurations", one-line files: the result parses and is stable."""
    target = tmp_path / "launch.json"
    target.write_text(text)
    assert invoke("vscode", "--write", str(target)).exit_code == 0
    first = target.read_text()
    assert [c["name"] for c in jsonc(first)["configurations"]] == names
    for comment in comments(text):
        assert comment in first
    assert invoke("vscode", "--write", str(target)).exit_code == 0
    assert target.read_text() == first


def test_write_keeps_crlf_and_bom(tmp_path: Path) -> None:
    """A file with CRLF line ends and a byte-order mark keeps both."""
    target = tmp_path / "launch.json"
    original = ("\ufeff" + RICH).replace("\n", "\r\n").encode()
    target.write_bytes(original)
    assert invoke("vscode", "--write", str(target)).exit_code == 0
    new = target.read_bytes()
    assert new.startswith("\ufeff".encode())
    assert b"\n" not in new.replace(b"\r\n", b"")
    text = new.decode()
    assert without_added(text, NAME).encode() == original


def test_write_keeps_the_file_mode(tmp_path: Path) -> None:
    """The rewritten file keeps the permission bits of the old one."""
    target = tmp_path / "launch.json"
    target.write_text(RICH)
    target.chmod(0o640)
    assert invoke("vscode", "--write", str(target)).exit_code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["launch.json"]  # no temporary left


def test_write_through_a_symlink_writes_its_target(tmp_path: Path) -> None:
    """A symlinked launch.json stays a symlink; the file it points to gets the change."""
    real = tmp_path / "shared.json"
    real.write_text(RICH)
    link = tmp_path / "launch.json"
    link.symlink_to(real)
    assert invoke("vscode", "--write", str(link)).exit_code == 0
    assert link.is_symlink()
    assert NAME in [c["name"] for c in jsonc(real.read_text())["configurations"]]


BAD_FILES = [
    pytest.param('{"version": "0.2.0", "configurations": [}', "not valid JSONC", id="syntax"),
    pytest.param('{"configurations": [] /* open', "not valid JSONC", id="open-comment"),
    pytest.param('{"a": 1}{"b": 2}', "not valid JSONC", id="two-values"),
    pytest.param("{'configurations': []}", "single quotes", id="json5-quotes"),
    pytest.param("{configurations: []}", "no double quotes", id="json5-key"),
    pytest.param('{"configurations": [], "x": 0x10}', "JSON5, not JSON", id="json5-hex"),
    pytest.param('{"configurations": [], "x": +1}', "leading +", id="json5-plus"),
    pytest.param('{"configurations": [], "x": .5}', "JSON5, not JSON", id="json5-float"),
    pytest.param('{"configurations": [], "x": Infinity}', "Infinity", id="json5-inf"),
    pytest.param('{"x": "a\\\nb", "configurations": []}', "JSON5, not JSON", id="json5-continue"),
    pytest.param('[{"name": "a"}]', "top level is an array", id="top-array"),
    pytest.param('"launch"', "top level is a string", id="top-string"),
    pytest.param('{"configurations": {"name": "a"}}', '"configurations" is an object', id="obj"),
    pytest.param('{"configurations": null}', '"configurations" is null', id="null"),
    pytest.param('{"configurations": ["a"]}', "item 1", id="item-string"),
    pytest.param('{"configurations": [], "configurations": []}', "appears 2 times", id="duplicate"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD_FILES)
def test_write_refuses_a_file_it_cannot_merge(tmp_path: Path, text: str, fragment: str) -> None:
    """An unparseable file or a wrong type exits 2 with one line, and the file is untouched."""
    target = tmp_path / "launch.json"
    target.write_text(text)
    result = invoke("vscode", "--write", str(target))
    assert_one_line_error(result, str(target), fragment)
    assert target.read_text() == text
    assert [p.name for p in tmp_path.iterdir()] == ["launch.json"]


def test_write_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are refused rather than guessed at."""
    target = tmp_path / "launch.json"
    target.write_bytes(b'{"configurations": [], "x": "\xff"}')
    assert_one_line_error(invoke("vscode", "--write", str(target)), "not UTF-8")
    assert target.read_bytes() == b'{"configurations": [], "x": "\xff"}'


def test_write_refuses_a_directory(tmp_path: Path) -> None:
    """--write on a directory says so in one line."""
    assert_one_line_error(invoke("vscode", "--write", str(tmp_path)), "is a directory")


def test_failed_replace_leaves_the_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the final rename fails, the old file is intact and the temporary file is removed."""
    target = tmp_path / "launch.json"
    target.write_text(RICH)

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    assert_one_line_error(invoke("vscode", "--write", str(target)), "No space left on device")
    assert target.read_text() == RICH
    assert [p.name for p in tmp_path.iterdir()] == ["launch.json"]


def test_write_explains_a_shadowed_json5_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the json5 module is not json-five's (pyjson5 has the same name), one line says so."""
    target = tmp_path / "launch.json"
    target.write_text(RICH)
    monkeypatch.setitem(sys.modules, "json5.loader", None)
    assert_one_line_error(invoke("vscode", "--write", str(target)), "json-five", "pip install")
    assert target.read_text() == RICH


def test_ready_made_launch_json_accepts_a_merge(tmp_path: Path) -> None:
    """The shipped vscode_configs/launch.json can be merged into; its comments survive."""
    shipped = (Path(__file__).parent.parent / "vscode_configs" / "launch.json").read_text()
    target = tmp_path / "launch.json"
    target.write_text(shipped)
    assert invoke("vscode", "--write", str(target)).exit_code == 0
    _, last_end = config_span(shipped, "remotedbg: attach (remote, SSH tunnel)")
    assert without_added(target.read_text(), NAME) == shipped[:last_end] + "," + shipped[last_end:]


# A small grammar of launch.json layouts: indentation, line ends, trailing commas and where
# comments sit all vary; the merge must keep every byte it does not own.
@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(
        st.text(alphabet=st.sampled_from('ab :/*"\\é'), min_size=1, max_size=6),
        max_size=4,
        unique=True,
    ),
    unit=st.sampled_from(["  ", "    ", "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    trailing=st.booleans(),
    comment_after=st.booleans(),
    replace=st.booleans(),
)
def test_merge_keeps_every_layout(
    names: list[str],
    unit: str,
    newline: str,
    trailing: bool,
    comment_after: bool,
    replace: bool,
) -> None:
    """For any layout, merging keeps the others, parses as JSONC and is idempotent."""
    items = []
    for n in names:
        obj = json.dumps({"name": n, "type": "debugpy"}, indent=unit)
        items.append(unit * 2 + obj.replace("\n", newline + unit * 2))
    separator = "," + (" // after" if comment_after else "") + newline
    body = separator.join(items)
    if items:
        body += ("," if trailing else "") + (" /* end */" if comment_after else "") + newline
    text = (
        f'{{{newline}{unit}"version": "0.2.0",{newline}{unit}"configurations": [{newline}'
        f"{body}{unit}]{newline}}}{newline}"
    )
    name = names[0] if replace and names else "remotedbg: attach"
    config = vscode_config.attach_configuration(name=name)
    merged = vscode_config.merge_configuration(text, config)
    data = jsonc(merged.text)
    expected = list(names)
    if name not in expected:
        expected.append(name)
    assert [c["name"] for c in data["configurations"]] == expected
    for comment in comments(text):
        assert comment in merged.text
    assert vscode_config.merge_configuration(merged.text, config) == (merged.text, "unchanged")
    if newline == "\r\n":
        assert "\n" not in merged.text.replace("\r\n", "")


def test_merge_refuses_with_launch_json_error() -> None:
    """The library function raises LaunchJsonError, an IdeConfigError, naming the source."""
    with pytest.raises(LaunchJsonError) as info:
        vscode_config.merge_configuration("[]", vscode_config.attach_configuration(), source="x")
    assert isinstance(info.value, IdeConfigError)
    assert str(info.value).startswith("x: ")


# -- --url --------------------------------------------------------------------------------


class StatusServer:
    """A real HTTP server on 127.0.0.1 that answers fixed routes, in a thread."""

    def __init__(self, routes: dict[str, tuple[int, str, bytes]]) -> None:
        outer = self
        self.seen: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append(self.path)
                status, content_type, body = routes.get(self.path, (404, "text/html", b"nope"))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: t.Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> StatusServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def status(app_root: str = "/srv/app", **extra: object) -> tuple[int, str, bytes]:
    body = {
        "armed": False,
        "pid": 4242,
        "dap_host": "127.0.0.1",
        "dap_port": 5678,
        "expires_at": None,
        "app_root": app_root,
        "token_required": False,
        **extra,
    }
    return 200, "application/json", json.dumps(body).encode()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to the test server must not wander off to a proxy from the environment."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def test_url_fills_remote_root_from_the_status_page() -> None:
    """--url reads app_root from GET URL/__remotedbg__ and uses it as remoteRoot."""
    with StatusServer({"/__remotedbg__": status("/srv/shop")}) as server:
        result = invoke("vscode", "--url", server.url)
    assert result.exit_code == 0, result.output
    assert server.seen == ["/__remotedbg__"]
    mapping = jsonc(result.stdout)["pathMappings"][0]
    assert mapping == {"localRoot": "${workspaceFolder}", "remoteRoot": "/srv/shop"}


def test_url_takes_the_port_from_the_status_page() -> None:
    """--url reads dap_port too (a server on 5690 gives 5690); --port still wins."""
    with StatusServer({"/__remotedbg__": status("/srv/shop", dap_port=5690)}) as server:
        from_page = jsonc(invoke("vscode", "--url", server.url).stdout)
        given = jsonc(invoke("vscode", "--url", server.url, "--port", "5700").stdout)
    assert from_page["connect"] == {"host": "127.0.0.1", "port": 5690}
    assert given["connect"] == {"host": "127.0.0.1", "port": 5700}


def test_url_keeps_the_path_the_app_is_mounted_at() -> None:
    """An app under a path prefix is asked at that prefix, with or without a trailing slash."""
    with StatusServer({"/shop/__remotedbg__": status("/srv/shop")}) as server:
        for url in (f"{server.url}/shop", f"{server.url}/shop/"):
            assert (
                jsonc(invoke("vscode", "--url", url).stdout)["pathMappings"][0]["remoteRoot"]
                == "/srv/shop"
            )


def test_url_with_token_required_says_to_export_it() -> None:
    """When the server requires a token, a note on stderr says to export REMOTEDBG_TOKEN."""
    with StatusServer({"/__remotedbg__": status(token_required=True)}) as server:
        result = invoke("vscode", "--url", server.url)
    assert result.exit_code == 0
    assert "export REMOTEDBG_TOKEN" in result.stderr
    assert "export" not in result.stdout


@pytest.mark.parametrize(
    ("route", "fragments"),
    [
        ((404, "text/html", b"<h1>Not Found</h1>"), ["404", "REMOTEDBG_ALLOW", "--remote-root"]),
        ((500, "text/plain", b"boom"), ["500", "--remote-root"]),
        ((200, "text/html", b"<html>an app</html>"), ["not remotedbg's status page"]),
        ((200, "application/json", b"[1, 2]"), ["not remotedbg's status page"]),
        ((200, "application/json", b'{"armed": false}'), ["no app_root"]),
        ((200, "application/json", b'{"app_root": ""}'), ["no app_root"]),
        ((200, "application/json", b"x" * 70_000), ["more than"]),
    ],
)
def test_url_failures_are_one_line(route: tuple[int, str, bytes], fragments: list[str]) -> None:
    """A status page that fails or is not remotedbg's exits 2 with one line naming the URL."""
    with StatusServer({"/__remotedbg__": route}) as server:
        result = invoke("vscode", "--url", server.url)
        assert_one_line_error(result, f"{server.url}/__remotedbg__", *fragments)


def test_url_not_found_without_route() -> None:
    """An app without the hook answers 404, reported in one line with exit code 2."""
    with StatusServer({}) as server:
        assert_one_line_error(invoke("vscode", "--url", server.url), "404")


def test_url_unreachable_is_one_line() -> None:
    """Nothing listening on the port: one line with exit code 2, and no file is written."""
    url = f"http://127.0.0.1:{free_port()}"
    assert_one_line_error(invoke("vscode", "--url", url), "could not connect", url)


def test_url_timeout_is_one_line() -> None:
    """A server that accepts but never answers times out into one line."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(StatusPageError, match=r"no answer within 0\.2s"):
            fetch_status(url, timeout=0.2)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://staging.example.com", "https://staging.example.com/__remotedbg__"),
        ("https://staging.example.com/", "https://staging.example.com/__remotedbg__"),
        ("http://h:8000/app/", "http://h:8000/app/__remotedbg__"),
        ("http://h/__remotedbg__", "http://h/__remotedbg__"),
        ("http://h/?q=1#frag", "http://h/__remotedbg__"),
    ],
)
def test_status_url(url: str, expected: str) -> None:
    """The status page sits at /__remotedbg__ under the app's URL."""
    assert status_url(url) == expected


# -- PyCharm ------------------------------------------------------------------------------


def test_pycharm_prints_the_attach_to_dap_steps() -> None:
    """The steps name the menu path, the fields and their values, and how the token is added."""
    result = invoke("pycharm", "--remote-root", "/srv/app", "--port", "15678")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Run | Edit Configurations... | + (Add New Configuration) | Attach to DAP" in out
    assert re.search(r"Name:\s+remotedbg attach", out)
    assert re.search(r"Remote address:\s+127\.0\.0\.1:15678", out)
    assert re.search(r"Remote project path:\s+/srv/app", out)
    assert "Local project path" in out
    assert "remotedbgToken" in out
    assert "remotedbg attach https://your-app --local-port 15678" in out


def test_pycharm_prints_the_debug_server_alternative() -> None:
    """The older route: Python Debug Server, the server's settings and the pinned package."""
    out = invoke("pycharm", "--remote-root", "/srv/app", "--ide-port", "6000").stdout
    assert "Python Debug Server" in out
    assert "REMOTEDBG_BACKEND=pycharm REMOTEDBG_IDE=127.0.0.1:6000" in out
    assert "pip install 'remotedbg[pycharm]'" in out
    assert "pydevd-pycharm~=<build>" in out
    assert "your project root = /srv/app" in out
    assert "ssh -N -R 6000:127.0.0.1:6000" in out


def test_pycharm_without_remote_root_maps_the_project_to_itself() -> None:
    """With neither --remote-root nor --url, the app is taken to run in the project folder."""
    out = invoke("pycharm").stdout
    assert "Remote project path: the same folder as Local project path" in out


def test_pycharm_url_fills_the_remote_project_path() -> None:
    """--url works for PyCharm too."""
    with StatusServer({"/__remotedbg__": status("/opt/site")}) as server:
        out = invoke("pycharm", "--url", server.url).stdout
    assert re.search(r"Remote project path:\s+/opt/site", out)


def test_pycharm_brackets_an_ipv6_address() -> None:
    """An IPv6 host is written in brackets in host:port."""
    assert "Remote address:      [::1]:5678" in invoke("pycharm", "--host", "::1").stdout


@pytest.mark.parametrize("args", [["--write"], ["--write", "x.run.xml"]])
def test_pycharm_write_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """--write refuses in one line that says the format is undocumented, and writes nothing."""
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke("pycharm", *args), "not supported", "not document")
    assert list(tmp_path.iterdir()) == []


def test_pycharm_steps_hold_no_xml() -> None:
    """Nothing resembling a run configuration file is printed, since none is confirmed."""
    out = invoke("pycharm").stdout
    assert "<configuration" not in out
    assert "<?xml" not in out


# -- the group and the package ------------------------------------------------------------


def test_group_plugs_into_a_cli() -> None:
    """The group registers on another click group as `config` with both subcommands."""

    @click.group()
    def cli() -> None:
        """A stand-in for remotedbg's command."""

    cli.add_command(config_group)
    result = CliRunner().invoke(cli, ["config", "--help"])
    assert result.exit_code == 0
    assert "vscode" in result.output
    assert "pycharm" in result.output
    assert CliRunner().invoke(cli, ["config", "vscode"]).exit_code == 0


def test_defaults_agree_with_the_libraries() -> None:
    """The CLI's default names are the library defaults."""
    assert jsonc(invoke("vscode").stdout)["name"] == vscode_config.DEFAULT_NAME
    assert f"Name:                {pycharm_config.DEFAULT_NAME}" in invoke("pycharm").stdout


def test_importing_the_group_stays_light() -> None:
    """Importing remotedbg.client.ide_config loads neither json5 nor the CLI's commands."""
    script = (
        "import sys, remotedbg.client.ide_config\n"
        "print(sorted(m for m in ('json5', 'sly', 'remotedbg.cli.commands',\n"
        "                         'remotedbg.client.vscode_config') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "module",
    [
        "remotedbg.client.ide_config",
        "remotedbg.client.vscode_config",
        "remotedbg.client.pycharm_config",
    ],
)
def test_exports_resolve(module: str) -> None:
    """Each name in `__all__` exists and is unique."""
    mod = __import__(module, fromlist=["__all__"])
    assert len(set(mod.__all__)) == len(mod.__all__)
    for name in mod.__all__:
        assert getattr(mod, name) is not None

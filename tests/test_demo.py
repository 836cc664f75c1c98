"""`remotedbg demo`: its app is copied to a folder of yours, where the IDE stops in it."""

from __future__ import annotations

import importlib.resources
import os
import re
import shutil
import subprocess
import sys
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from remotedbg.cli import cli

from dap_client import DAPClient
from ide import attach, pause_request
from servers import Server, free_port

PACKAGE = Path(__file__).resolve().parent.parent / "remotedbg"
SOURCE = importlib.resources.files("remotedbg.cli").joinpath("demo_app.py").read_text("utf-8")
#: How the banner names the breakpoint: the file and the line, as path:line.
BREAKPOINT = re.compile(r"set a breakpoint in greet\(\), at\n\s+(?P<path>.+?):(?P<line>\d+)\n")


def breakpoint_line(text: str) -> int:
    [line] = [n for n, s in enumerate(text.splitlines(), 1) if "# set a breakpoint here" in s]
    return line


# -- the copy, with the server left out -------------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, t.Any]]:
    """What `remotedbg demo` would serve, recorded instead of served, run in `tmp_path`."""
    calls: list[dict[str, t.Any]] = []

    def record(spec: str, *args: object, intro: str | None = None, **kwargs: object) -> None:
        calls.append({"spec": spec, "intro": intro or ""})

    monkeypatch.setattr("remotedbg.cli.commands._serve", record)
    monkeypatch.chdir(tmp_path)
    return calls


def demo(*args: str) -> Result:
    return CliRunner().invoke(cli, ["demo", *args])


def test_the_app_is_copied_to_remotedbg_demo_and_served_from_there(
    served: list[dict[str, t.Any]], tmp_path: Path
) -> None:
    """By default the app is written to ./remotedbg-demo and imported from that copy."""
    result = demo()
    assert result.exit_code == 0, result.output
    copy = (tmp_path / "remotedbg-demo" / "demo_app.py").resolve()
    assert copy.read_text("utf-8") == SOURCE
    [call] = served
    assert call["spec"] == f"{copy}:app"
    named = BREAKPOINT.search(call["intro"])
    assert named is not None, call["intro"]
    assert (named["path"], int(named["line"])) == (str(copy), breakpoint_line(SOURCE))
    assert "site-packages" not in call["intro"]


def test_dir_chooses_the_folder(served: list[dict[str, t.Any]], tmp_path: Path) -> None:
    """--dir DIR puts the copy in DIR, creating it."""
    assert demo("--dir", "play/here").exit_code == 0
    copy = (tmp_path / "play" / "here" / "demo_app.py").resolve()
    assert copy.read_text("utf-8") == SOURCE
    assert served[0]["spec"] == f"{copy}:app"


def test_an_edited_copy_is_served_as_it_is_and_said_so(
    served: list[dict[str, t.Any]], tmp_path: Path
) -> None:
    """A copy that differs is served as it is, never overwritten, and the banner says so."""
    folder = tmp_path / "remotedbg-demo"
    folder.mkdir()
    edited = SOURCE.replace("Hello", "Howdy").replace("\n", "\r\n")
    (folder / "demo_app.py").write_bytes(edited.encode())
    assert demo().exit_code == 0
    assert (folder / "demo_app.py").read_bytes() == edited.encode()
    assert served[0]["spec"] == f"{(folder / 'demo_app.py').resolve()}:app"
    assert "your edited copy" in served[0]["intro"]
    assert "delete it" in served[0]["intro"]


def test_an_identical_copy_is_reused_quietly(
    served: list[dict[str, t.Any]], tmp_path: Path
) -> None:
    """Run twice, the demo serves the same copy and says nothing about edits."""
    assert demo().exit_code == 0
    copy = tmp_path / "remotedbg-demo" / "demo_app.py"
    before = copy.stat().st_mtime_ns
    assert demo().exit_code == 0
    assert copy.stat().st_mtime_ns == before
    assert "edited" not in served[1]["intro"]
    assert served[0]["spec"] == served[1]["spec"]


def test_a_folder_that_cannot_be_written_is_one_line(
    served: list[dict[str, t.Any]], tmp_path: Path
) -> None:
    """A --dir that cannot hold the copy (here: below a file) fails in one line naming --dir."""
    (tmp_path / "a-file").write_text("")
    result = demo("--dir", "a-file/demo")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "--dir='a-file/demo'" in lines[0]
    assert served == []


# -- the demo as installed, with a real debugger --------------------------------------------


@pytest.fixture
def installed(tmp_path: Path) -> dict[str, str]:
    """remotedbg copied into a folder named site-packages, first on PYTHONPATH: installed,
    as a wheel would be, without building one; the debugger treats that folder as library."""
    site = tmp_path / "lib" / "site-packages"
    shutil.copytree(PACKAGE, site / "remotedbg", ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PYTHONPATH": str(site)}
    found = subprocess.run(
        [sys.executable, "-c", "import remotedbg; print(remotedbg.__file__)"],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert found == str(site / "remotedbg" / "__init__.py")
    return env


@pytest.fixture
def demo_server(installed: dict[str, str], tmp_path: Path) -> Iterator[tuple[Server, int]]:
    """`remotedbg demo` from the installed copy, in an empty folder, and its debugger port."""
    work = tmp_path / "work"
    work.mkdir()
    http_port, dap_port = free_port(), free_port()
    argv = [
        sys.executable, "-m", "remotedbg", "demo",
        "--port", str(http_port), "--dap-port", str(dap_port),
    ]  # fmt: skip
    server = Server(
        argv, http_port=http_port, env=installed, cwd=work, log_path=tmp_path / "demo.log"
    )
    try:
        server.wait_ready()
        yield server, dap_port
    finally:
        server.stop()


def named_breakpoint(server: Server) -> tuple[Path, int]:
    """The file and line the demo's banner says to break on."""
    found = server.wait_for_log(BREAKPOINT.pattern)
    return Path(found["path"]), int(found["line"])


@pytest.mark.e2e
def test_installed_demo_stops_where_its_banner_says(
    demo_server: tuple[Server, int], tmp_path: Path
) -> None:
    """Installed, the demo stops at the breakpoint its banner names, with justMyCode on."""
    server, dap_port = demo_server
    path, line = named_breakpoint(server)
    assert path == (tmp_path / "work" / "remotedbg-demo" / "demo_app.py").resolve()
    assert server.get("/__remotedbg__").json()["app_root"] == str(path.parent)
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client, breakpoints={path: [line]})["success"]
        paused = pause_request(client, server.http_port, "/?name=newcomer")
        assert paused.stopped["reason"] == "breakpoint"
        assert (paused.frame["source"]["path"], paused.frame["line"]) == (str(path), line)
        assert paused.local_vars["name"] == "'newcomer'"
        client.request("continue", {"threadId": paused.thread_id})
        response = paused.request.result()
        assert (response.status, response.body) == (200, b"Hello, newcomer!\n")


@pytest.mark.e2e
def test_installed_demo_stops_on_the_boom_exception(demo_server: tuple[Server, int]) -> None:
    """Installed, /boom stops the IDE on the ZeroDivisionError in divide(), then answers 500."""
    server, dap_port = demo_server
    path, _ = named_breakpoint(server)
    server.get("/__remotedbg__")
    with DAPClient(("127.0.0.1", dap_port)) as client:
        assert attach(client)["success"]
        paused = pause_request(client, server.http_port, "/boom")
        assert paused.stopped["reason"] == "exception"
        assert (paused.frame["name"], paused.frame["source"]["path"]) == ("divide", str(path))
        client.request("continue", {"threadId": paused.thread_id})
        assert paused.request.result().status == 500
    assert "site-packages/remotedbg/hooks/wsgi.py" in server.log  # the installed copy ran

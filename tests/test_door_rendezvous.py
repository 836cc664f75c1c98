"""Where the workers of a server meet their shared door: a directory only this user can
enter, checked before use; and a socket another local user cannot reach."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from remotedbg.door.rendezvous import door_paths, peer_uid, runtime_dir, same_user
from remotedbg.errors import ArmError

from servers import python_for

needs_root = pytest.mark.skipif(os.getuid() != 0, reason="needs root to make another user's dir")


@pytest.fixture
def private_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "run"
    base.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    return base


def test_the_directory_is_made_private(private_base: Path) -> None:
    path = Path(runtime_dir())
    assert path == private_base / "remotedbg"
    assert path.stat().st_mode & 0o777 == 0o700
    assert Path(door_paths("127.0.0.1", 5678).socket).parent == path


def test_a_directory_open_to_others_is_refused(private_base: Path) -> None:
    (private_base / "remotedbg").mkdir(mode=0o755)
    (private_base / "remotedbg").chmod(0o755)
    with pytest.raises(ArmError, match="not a directory private to this user"):
        runtime_dir()


def test_a_symlink_is_refused(private_base: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (private_base / "remotedbg").symlink_to(elsewhere)
    with pytest.raises(ArmError, match="not a directory private to this user"):
        runtime_dir()


@needs_root
def test_a_directory_another_user_made_first_is_refused(private_base: Path) -> None:
    """Another user who makes the directory first (to pose as the door) is found out."""
    made = private_base / "remotedbg"
    made.mkdir(mode=0o700)
    os.chown(made, pwd.getpwnam("nobody").pw_uid, -1)
    with pytest.raises(ArmError, match="another user may"):
        runtime_dir()


@needs_root
def test_another_local_user_cannot_reach_the_door_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a shared temporary directory (no XDG_RUNTIME_DIR), only ours keeps others out."""
    shared = Path(tempfile.mkdtemp(prefix="remotedbg-test-", dir="/tmp"))
    shared.chmod(0o1777)  # like /tmp: anyone may enter
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    path = door_paths("127.0.0.1", 5678).socket
    assert Path(path).parent == shared / f"remotedbg-{os.getuid()}"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen()
        probe = (
            "import socket, sys\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "try:\n    s.connect(sys.argv[1])\nexcept OSError as e:\n    print(e.errno)\n"
            "else:\n    print('connected')\n"
        )
        result = subprocess.run(
            [python_for("nobody"), "-c", probe, path],
            user="nobody",
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            cwd="/",
        )
    shutil.rmtree(shared)
    assert result.stdout.strip() == "13", result  # EACCES: our directory keeps them out


def test_the_peer_of_a_unix_socket_is_known() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        if sys.platform.startswith("linux"):
            assert peer_uid(ours) == os.getuid()
        assert same_user(ours)

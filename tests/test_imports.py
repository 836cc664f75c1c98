"""`import remotedbg` and the hook, switched off, stay light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = [
    "debugpy",
    "flask",
    "pydevd",
    "remotedbg.debuggee.gate",
    "remotedbg.door.bridge",
    "asyncio",
]


def imported_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_remotedbg_is_light() -> None:
    """Importing the package imports neither debugpy nor Flask nor the machinery."""
    modules = imported_after("import remotedbg")
    assert not modules & set(HEAVY)


def test_switched_off_hook_is_light() -> None:
    """A WSGI app wrapped with the hook switched off still imports nothing heavy."""
    code = (
        "from remotedbg import RemoteDebugMiddleware\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', []); return [b'ok']\n"
        "hooked = RemoteDebugMiddleware(app)\n"
        "assert hooked.gate is None\n"
        "list(hooked({'REMOTE_ADDR': '127.0.0.1', 'PATH_INFO': '/'}, lambda s, h: None))\n"
    )
    modules = imported_after(code, env={"PATH": "/usr/bin"})
    assert not modules & set(HEAVY)


def test_exports() -> None:
    """`__all__` is the public contract, and each name resolves."""
    import remotedbg

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        remotedbg.nope  # noqa: B018 - the attribute access is the test
    assert sorted(remotedbg.__all__) == remotedbg.__all__
    assert dir(remotedbg) == remotedbg.__all__
    for name in remotedbg.__all__:
        assert getattr(remotedbg, name).__name__ == name


#: What the pure layer may never import: I/O, threads, frameworks, the debugger.
IMPURE = {
    "socket", "asyncio", "threading", "selectors", "ssl", "subprocess", "debugpy", "pydevd",
    "flask", "werkzeug", "django", "starlette", "click",
}  # fmt: skip


def test_the_sansio_layer_imports_no_io() -> None:
    """Nothing under remotedbg/sansio/ imports sockets, threads, frameworks or debugpy."""
    import ast
    from pathlib import Path

    import remotedbg.sansio

    found: dict[str, list[str]] = {}
    for path in Path(remotedbg.sansio.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.partition(".")[0] in IMPURE:
                    found.setdefault(path.name, []).append(name)
    assert found == {}

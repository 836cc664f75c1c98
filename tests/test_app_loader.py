"""`remotedbg run APP` finds apps the way `flask --app` does, and explains every miss in a line."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from remotedbg.cli.app_loader import load_app
from remotedbg.errors import AppLoadError


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a package, a factory and a broken module, on a clean sys.path."""
    pkg = tmp_path / "shop"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "wsgi.py").write_text(
        textwrap.dedent(
            """
            def app(environ, start_response):
                start_response("200 OK", [])
                return [b"wsgi"]

            def make(name="default"):
                def inner(environ, start_response):
                    start_response("200 OK", [])
                    return [name.encode()]
                return inner

            not_callable = 42
            """
        )
    )
    (pkg / "factory.py").write_text("def create_app():\n    return lambda e, s: [b'f']\n")
    (pkg / "application.py").write_text("application = lambda e, s: [b'a']\n")
    (pkg / "empty.py").write_text("x = 1\n")
    (pkg / "broken.py").write_text("raise RuntimeError('db down')\n")
    (pkg / "syntax.py").write_text("def (:\n")
    (pkg / "multiline.py").write_text("raise RuntimeError('first\\n  second')\n")
    (pkg / "missing_dep.py").write_text("import no_such_dependency_xyz\n")
    (tmp_path / "single.py").write_text("def app(e, s):\n    return [b'single']\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.") or m == "single"]:
        monkeypatch.delitem(sys.modules, name)
    return tmp_path


def call(app: object) -> bytes:
    result = app({}, lambda status, headers: None)  # type: ignore[operator]
    return b"".join(result)


@pytest.mark.parametrize(
    ("spec", "body"),
    [
        ("shop.wsgi:app", b"wsgi"),
        ("shop.wsgi", b"wsgi"),
        ("shop.factory", b"f"),
        ("shop.factory:create_app()", b"f"),
        ("shop.application", b"a"),
        ("shop.wsgi:make('staging')", b"staging"),
        ("shop.wsgi:make(name='kw')", b"kw"),
        ("shop/wsgi.py", b"wsgi"),
        ("shop/wsgi.py:app", b"wsgi"),
        ("single.py", b"single"),
    ],
)
def test_finds_app(project: Path, spec: str, body: bytes) -> None:
    """Each accepted form of APP yields the right WSGI callable."""
    loaded = load_app(spec)
    assert call(loaded.app) == body


def test_root_is_the_import_root(project: Path) -> None:
    """The app root is the folder the top-level package is imported from."""
    assert load_app("shop/wsgi.py").root == str(project)
    assert load_app("shop/wsgi.py").module == "shop.wsgi"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("nosuchmodule", "no module named 'nosuchmodule'"),
        ("shop.nosuch", "no module named 'shop.nosuch'"),
        ("shop.wsgi:nope", "has no attribute 'nope'"),
        ("shop.wsgi:not_callable", "not a WSGI app"),
        ("shop.empty", "found no 'app'"),
        ("shop.broken", "raised RuntimeError: db down"),
        ("shop.syntax", "invalid syntax"),
        ("shop.syntax", f"shop{os.sep}syntax.py:1; fix the code there"),
        ("shop.multiline", "raised RuntimeError: first second; "),
        ("shop.wsgi:make(", "the factory call's parentheses do not match; write module:name"),
        ("shop.wsgi:", "malformed; write module:name"),
        ("shop/wsgi.py:make(", "the factory call's parentheses do not match"),
        ("shop wsgi", "malformed"),
        ("shop.missing_dep", "No module named 'no_such_dependency_xyz'"),
        ("shop.wsgi:make(os.getcwd())", "cannot read the arguments"),
        ("shop/none.py", "no file"),
        ("", "give module:name"),
    ],
)
def test_failures_are_one_line(project: Path, spec: str, problem: str) -> None:
    """Each way APP can be wrong is one line naming APP and the problem."""
    with pytest.raises(AppLoadError) as info:
        load_app(spec)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"APP {spec!r}")
    assert problem in message

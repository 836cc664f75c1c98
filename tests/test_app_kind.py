"""Telling WSGI apps, ASGI apps and neither apart, and seeing remotedbg's hook inside an app."""

from __future__ import annotations

import functools
import sys
import types
import typing as t
from pathlib import Path

import pytest
from a2wsgi import ASGIMiddleware, WSGIMiddleware
from click.testing import CliRunner
from django.core.handlers.asgi import ASGIHandler  # type: ignore[import-untyped,unused-ignore]
from django.core.handlers.wsgi import WSGIHandler  # type: ignore[import-untyped,unused-ignore]
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware

from remotedbg import RemoteDebugASGIMiddleware, RemoteDebugger, RemoteDebugMiddleware
from remotedbg.cli.app_kind import AppKind, app_shape, installed_hook
from remotedbg.cli.app_loader import load_app
from remotedbg.doctor import Check, Probe, check_app, doctor_command
from remotedbg.errors import AppLoadError, AppLoadKind

from servers import APPS


def wsgi(environ: t.Any, start_response: t.Any) -> list[bytes]:
    return [b"ok"]


async def asgi(scope: t.Any, receive: t.Any, send: t.Any) -> None:
    pass


def one(request: t.Any) -> t.Any:
    return request


async def async_two(environ: t.Any, start_response: t.Any) -> None:
    pass


def variadic(*args: t.Any) -> t.Any:
    return args


async def async_variadic(*args: t.Any) -> None:
    pass


def keyword_only(environ: t.Any, start_response: t.Any, *, config: t.Any) -> t.Any:
    return config


def returns_awaitable(scope: t.Any, receive: t.Any, send: t.Any) -> t.Any:
    return asgi(scope, receive, send)


@functools.wraps(asgi)
def decorated(*args: t.Any) -> t.Any:
    return asgi(*args)


class AsyncCall:
    async def __call__(self, scope: t.Any, receive: t.Any, send: t.Any) -> None:
        pass


class SyncCall:
    def __call__(self, environ: t.Any, start_response: t.Any) -> list[bytes]:
        return []


class OneArgCall:
    def __call__(self, request: t.Any) -> t.Any:
        return request


class Methods:
    def wsgi(self, environ: t.Any, start_response: t.Any) -> list[bytes]:
        return []

    async def asgi(self, scope: t.Any, receive: t.Any, send: t.Any) -> None:
        pass


class Asgi2:
    """An ASGI 2 app: built from the scope, then called with receive and send."""

    def __init__(self, scope: t.Any) -> None:
        self.scope = scope

    async def __call__(self, receive: t.Any, send: t.Any) -> None:
        pass


class WsgiClass:
    """PEP 3333 allows a class as the app: calling it yields the body."""

    def __init__(self, environ: t.Any, start_response: t.Any) -> None:
        self.body = [b"ok"]

    def __iter__(self) -> t.Iterator[bytes]:
        return iter(self.body)


def quart_like() -> object:
    """An instance of a class named as Quart's, without installing Quart."""
    cls = type("Quart", (), {"__module__": "quart.app", "__call__": AsyncCall.__call__})
    return cls()


WSGI_APPS: dict[str, tuple[t.Callable[[], object], str | None]] = {
    "function": (lambda: wsgi, None),
    "lambda": (lambda: lambda environ, start_response: [], None),
    "object with __call__": (SyncCall, None),
    "bound method": (lambda: Methods().wsgi, None),
    "partial": (lambda: functools.partial(lambda extra, e, s: [], 1), None),
    "*args": (lambda: variadic, None),
    "PEP 3333 class": (lambda: WsgiClass, None),
    "Flask": (lambda: Flask("kind_flask"), "Flask"),
    "Django": (lambda: object.__new__(WSGIHandler), "Django"),  # needs no settings so
    "a2wsgi ASGIMiddleware": (lambda: ASGIMiddleware(asgi), None),
    "hooked Flask": (lambda: RemoteDebugMiddleware(Flask("kind_hooked"), enable=False), "Flask"),
}
ASGI_APPS: dict[str, tuple[t.Callable[[], object], str | None]] = {
    "async def": (lambda: asgi, None),
    "object with async __call__": (AsyncCall, None),
    "bound async method": (lambda: Methods().asgi, None),
    "partial of async def": (lambda: functools.partial(asgi), None),
    "async *args": (lambda: async_variadic, None),
    "sync, 3 arguments, returns an awaitable": (lambda: returns_awaitable, None),
    "functools.wraps of async def": (lambda: decorated, None),
    "FastAPI": (FastAPI, "FastAPI"),
    "Starlette": (Starlette, "Starlette"),
    "Django": (lambda: object.__new__(ASGIHandler), "Django"),
    "Quart": (quart_like, "Quart"),
    "a2wsgi WSGIMiddleware": (lambda: WSGIMiddleware(wsgi), None),
    "hooked FastAPI": (lambda: RemoteDebugASGIMiddleware(FastAPI(), enable=False), "FastAPI"),
}


@pytest.mark.parametrize(("make", "framework"), WSGI_APPS.values(), ids=list(WSGI_APPS))
def test_wsgi_apps(make: t.Callable[[], object], framework: str | None) -> None:
    shape = app_shape(make())
    assert (shape.kind, shape.framework) == (AppKind.WSGI, framework)
    assert shape.label == (f"a {framework} app (WSGI)" if framework else "a plain WSGI app")


@pytest.mark.parametrize(("make", "framework"), ASGI_APPS.values(), ids=list(ASGI_APPS))
def test_asgi_apps(make: t.Callable[[], object], framework: str | None) -> None:
    shape = app_shape(make())
    assert (shape.kind, shape.framework) == (AppKind.ASGI, framework)
    assert shape.label == (f"a {framework} app (ASGI)" if framework else "a plain ASGI app")


NEITHER: dict[str, tuple[object, str]] = {
    "str": ("app", "a str"),
    "int": (42, "an int"),
    "None": (None, "None"),
    "module": (types, "a module"),
    "1-argument function": (one, "a function taking 1 argument"),
    "0-argument lambda": (lambda: None, "a function taking 0 arguments"),
    "async, 2 arguments": (async_two, "an async function taking 2 arguments"),
    "required keyword": (keyword_only, "a function taking 2 arguments and a keyword 'config'"),
    "object, 1 argument": (OneArgCall(), "an OneArgCall object whose __call__ takes 1 argument"),
    "partial too full": (functools.partial(asgi, {}), "a functools.partial of an async function"),
    "ASGI 2 class": (Asgi2, "the class Asgi2"),
    "framework class": (FastAPI, "the class FastAPI"),
}


@pytest.mark.parametrize(("app", "found"), NEITHER.values(), ids=list(NEITHER))
def test_neither(app: object, found: str) -> None:
    """What was found, in words, with what is expected, for one line."""
    shape = app_shape(app)
    assert shape.kind is None
    assert shape.found.startswith(found)
    assert shape.label == shape.found
    assert shape.problem
    assert shape.fix
    assert "\n" not in shape.problem + shape.fix


def test_neither_lines() -> None:
    """The problem says what was found; the fix says what is expected."""
    shape = app_shape("app")
    assert shape.problem == "found a str, which is not a WSGI app or an ASGI app"
    assert shape.fix == (
        "name a WSGI app (a callable taking environ, start_response) or an ASGI app "
        "(an async callable taking scope, receive, send)"
    )
    assert app_shape(types).fix == "name the app in it, like types:app"
    asgi2 = app_shape(Asgi2)
    assert asgi2.problem == "found the class Asgi2, an ASGI 2 app, which remotedbg cannot serve"
    assert "guarantee_single_callable(Asgi2)" in asgi2.fix
    assert app_shape(FastAPI).fix == (
        "name the FastAPI app made from it, like module:app where app = FastAPI(...)"
    )


def test_hook_already_installed() -> None:
    """The hook is found however the app put it in; an app without it has none."""
    flask_app = Flask("kind_ext")
    RemoteDebugger(flask_app, enable=False)
    wrapped = Flask("kind_wrapped")
    wrapped.wsgi_app = RemoteDebugMiddleware(wrapped.wsgi_app, enable=False)  # type: ignore[method-assign]
    fastapi_app = FastAPI()
    fastapi_app.add_middleware(RemoteDebugASGIMiddleware)  # type: ignore[arg-type]
    starlette_app = Starlette(middleware=[Middleware(RemoteDebugASGIMiddleware)])  # type: ignore[arg-type]

    class Outer:
        def __init__(self, app: object) -> None:
            self.app = app

        def __call__(self, environ: t.Any, start_response: t.Any) -> t.Any:
            return []

    assert installed_hook(flask_app) == "the RemoteDebugger Flask extension"
    assert installed_hook(wrapped) == "RemoteDebugMiddleware"
    assert installed_hook(Outer(Outer(RemoteDebugMiddleware(wsgi, enable=False)))) == (
        "RemoteDebugMiddleware"
    )
    assert (
        installed_hook(RemoteDebugASGIMiddleware(asgi, enable=False)) == "RemoteDebugASGIMiddleware"
    )
    assert installed_hook(fastapi_app) == "RemoteDebugASGIMiddleware (add_middleware)"
    assert installed_hook(starlette_app) == "RemoteDebugASGIMiddleware (add_middleware)"
    for bare in (Flask("kind_bare"), FastAPI(), wsgi, asgi, Outer(None), "x"):
        assert installed_hook(bare) is None
    cycle = Outer(None)
    cycle.app = cycle
    assert installed_hook(cycle) is None


# -- the loader and the doctor ----------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "kind_mod.py").write_text(
        "import os\n"
        "def one(request):\n    return request\n"
        "async def app(scope, receive, send):\n    pass\n"
        "class Asgi2:\n"
        "    def __init__(self, scope):\n        pass\n"
        "    async def __call__(self, receive, send):\n        pass\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "kind_mod", raising=False)
    return tmp_path


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize(
    ("attr", "kind", "details"),
    [
        ("os", AppLoadKind.NOT_AN_APP, ("module",)),
        ("one", AppLoadKind.WRONG_SIGNATURE, ("a function taking 1 argument",)),
        ("Asgi2", AppLoadKind.WRONG_SIGNATURE, ("the class Asgi2",)),
    ],
)
def test_loader_refuses_neither(attr: str, kind: AppLoadKind, details: tuple[str, ...]) -> None:
    with pytest.raises(AppLoadError) as info:
        load_app(f"kind_mod:{attr}")
    assert (info.value.kind, info.value.details) == (kind, details)
    assert str(info.value).startswith(f"APP 'kind_mod:{attr}': found ")


@pytest.mark.usefixtures("project")
def test_loader_gives_the_kind() -> None:
    loaded = load_app("kind_mod")
    assert (loaded.kind, loaded.shape.label, loaded.module) == (
        AppKind.ASGI,
        "a plain ASGI app",
        "kind_mod",
    )


@pytest.fixture
def sys_path(monkeypatch: pytest.MonkeyPatch) -> t.Iterator[None]:
    """Apps the doctor imports are forgotten afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name in ("fastapi_app", "flask_app", "wsgi_app", "asgi_plain_app", "flask_ext_app"):
            del sys.modules[name]


def installed(*names: str) -> t.Callable[[str], bool]:
    return lambda name: name in names


@pytest.mark.usefixtures("sys_path")
@pytest.mark.parametrize(
    ("app", "line"),
    [
        (
            "flask_app.py",
            "ok   APP '{path}' loads: a Flask app (WSGI) — module flask_app; "
            "`remotedbg run` serves it with Werkzeug",
        ),
        (
            "asgi_plain_app.py",
            "ok   APP '{path}' loads: a plain ASGI app — module asgi_plain_app; "
            "`remotedbg run` serves it with uvicorn",
        ),
        (
            "wsgi_app.py",
            "ok   APP '{path}' loads: a plain WSGI app — module wsgi_app; `remotedbg run` "
            "serves it with Werkzeug; it installs remotedbg's hook itself "
            "(RemoteDebugMiddleware): under `remotedbg run` that inner hook steps aside, and "
            "run's own handles each request",
        ),
        (
            "flask_ext_app.py",
            "ok   APP '{path}' loads: a Flask app (WSGI) — module flask_ext_app; `remotedbg run` "
            "serves it with Werkzeug; it installs remotedbg's hook itself (the RemoteDebugger "
            "Flask extension): under `remotedbg run` that inner hook steps aside, and run's "
            "own handles each request",
        ),
        (
            "fastapi_app.py",
            "ok   APP '{path}' loads: a FastAPI app (ASGI) — module fastapi_app; `remotedbg run` "
            "serves it with uvicorn; it installs remotedbg's hook itself "
            "(RemoteDebugASGIMiddleware (add_middleware)): under `remotedbg run` that inner hook "
            "steps aside, and run's own handles each request",
        ),
    ],
)
def test_doctor_says_kind_framework_and_hook(app: str, line: str) -> None:
    """`doctor APP` names the kind, the framework, the server and a hook already inside."""
    path = str(APPS / app)
    probe = Probe(environ={}, installed=installed("uvicorn"))
    result = CliRunner().invoke(doctor_command, [path], obj=probe)
    assert line.format(path=path) in result.output.splitlines(), result.output


@pytest.mark.usefixtures("sys_path")
def test_doctor_warns_when_uvicorn_is_missing_for_an_asgi_app() -> None:
    path = str(APPS / "asgi_plain_app.py")
    check = check_app(path, load_app, installed())
    assert check == Check(
        "warn",
        f"APP '{path}' loads: a plain ASGI app",
        "module asgi_plain_app; `remotedbg run` serves it with uvicorn, which is not "
        "installed: pip install 'remotedbg[asgi]'",
    )
    assert check_app(str(APPS / "wsgi_app.py"), load_app, installed()).status == "ok"


@pytest.mark.usefixtures("project")
def test_doctor_fails_neither_with_runs_line() -> None:
    """Neither WSGI nor ASGI fails the check with the line `remotedbg run` prints."""
    check = check_app("kind_mod:one", load_app, installed("uvicorn"))
    assert check == Check(
        "fail",
        "APP 'kind_mod:one': found a function taking 1 argument, which is not a WSGI app or "
        "an ASGI app",
        "name a WSGI app (a callable taking environ, start_response) or an ASGI app "
        "(an async callable taking scope, receive, send)",
    )
    result = CliRunner().invoke(
        doctor_command, ["kind_mod:one"], obj=Probe(environ={}, installed=installed("uvicorn"))
    )
    assert result.exit_code == 1
    assert f"fail {check.title} — {check.detail}" in result.output.splitlines()

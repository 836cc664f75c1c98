"""The framework examples in the docs (docs/examples/hook_*.py, django_settings.py) do what
the pages say: installed, off without REMOTEDBG_ENABLE, strangers served as usual."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import types
import typing as t
from pathlib import Path

import pytest

from remotedbg import RemoteDebugASGIMiddleware
from remotedbg.settings import Settings

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture(autouse=True)
def _no_remotedbg_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("REMOTEDBG_")]:
        monkeypatch.delenv(name)


def load(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"docs_example_{Path(name).stem}", EXAMPLES / name
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def get(app: t.Any, path: str, client: str) -> tuple[int, bytes]:
    """One GET through an ASGI app, from `client`, without a server."""
    sent: list[dict[str, t.Any]] = []

    async def receive() -> dict[str, t.Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, t.Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"staging.example.com")],
        "client": (client, 50000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


def test_hook_asgi_is_off_without_enable() -> None:
    app = load("hook_asgi.py").app
    assert isinstance(app, RemoteDebugASGIMiddleware)
    assert app.gate is None
    assert get(app, "/", "198.51.100.9") == (200, b"hello")


def test_hook_asgi_switched_on_ignores_strangers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMOTEDBG_ENABLE", "1")
    app = load("hook_asgi.py").app
    assert app.gate is not None
    assert get(app, "/__remotedbg__", "198.51.100.9") == (200, b"hello")  # the app's answer
    assert not app.gate.armed


def test_hook_fastapi_adds_the_middleware(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi")
    monkeypatch.setenv("REMOTEDBG_ENABLE", "1")
    app = load("hook_fastapi.py").app
    assert [m.cls for m in app.user_middleware] == [RemoteDebugASGIMiddleware]
    assert get(app, "/", "198.51.100.9") == (200, b'"hello"')
    assert get(app, "/__remotedbg__", "198.51.100.9")[0] == 404


def test_django_settings_name_the_hook_and_valid_settings() -> None:
    pytest.importorskip("django")
    from django.utils.module_loading import import_string

    module = load("django_settings.py")
    hook = import_string(module.MIDDLEWARE[0])
    assert hook.__module__.startswith("remotedbg.")
    assert hook.__name__ == "RemoteDebugMiddleware"
    assert Settings.load({"REMOTEDBG_ALLOW": module.REMOTEDBG_ALLOW}).allow

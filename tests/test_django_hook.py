"""The Django middleware in process: where its settings come from, how a bad one is told,
and what a request meets, with a fake backend standing in for debugpy.

Django's settings can be configured once per process, so each test runs in a fresh
interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import typing as t

from servers import TESTS

PRELUDE = """
import asyncio, json, os, sys
from django.conf import settings

def configure(**options):
    settings.configure(
        SECRET_KEY="x", ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=__name__, **options
    )
    import django
    django.setup()
"""


def run(body: str, env: dict[str, str] | None = None) -> t.Any:
    """Run `body` after the prelude; it prints one JSON value as its last line."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("REMOTEDBG_")}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PRELUDE) + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=TESTS,
        env={**base, **(env or {})},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_override_the_environment() -> None:
    """Django's settings win over the environment; the environment fills the rest."""
    out = run(
        """
        configure(REMOTEDBG_ENABLE=True, REMOTEDBG_TTL="10m", BASE_DIR="/srv/shop")
        from remotedbg.django import RemoteDebugMiddleware
        m = RemoteDebugMiddleware(lambda request: None)
        print(json.dumps({"ttl": m.settings.ttl, "allow": str(m.settings.allow),
                          "root": m.gate.app_root}))
        """,
        env={"REMOTEDBG_TTL": "5m", "REMOTEDBG_ALLOW": "10.0.0.7"},
    )
    assert out == {"ttl": 600.0, "allow": "10.0.0.7/32", "root": "/srv/shop"}


def test_off_by_default_and_import_stays_light() -> None:
    """Without REMOTEDBG_ENABLE there is no gate; `import remotedbg` never imports Django."""
    out = run(
        """
        import remotedbg
        light = "django.http" not in sys.modules and "remotedbg.hooks.django" not in sys.modules
        configure()
        from remotedbg.django import RemoteDebugMiddleware
        print(json.dumps({"light": light, "gate": RemoteDebugMiddleware(print).gate is None}))
        """
    )
    assert out == {"light": True, "gate": True}


def test_bad_settings_are_one_line_naming_where_they_came_from() -> None:
    """A bad value names the setting as written, in Django's settings or the environment."""
    out = run(
        """
        from remotedbg.errors import ConfigError
        from django.conf import settings as s
        from django.utils.functional import empty
        from remotedbg.django import RemoteDebugMiddleware
        cases = [({"REMOTEDBG_TTL": "soon"}, {}), ({"REMOTEDBG_ALOW": "10.0.0.1"}, {}),
                 ({}, {"REMOTEDBG_ALLOW": "0.0.0.0/0"})]
        errors = []
        for options, env in cases:
            s._wrapped = empty  # configure afresh
            configure(**options)
            os.environ.update(env)
            try:
                RemoteDebugMiddleware(print)
            except ConfigError as exc:
                errors.append(str(exc))
        print(json.dumps(errors))
        """
    )
    ttl, misspelt, allow = t.cast("list[str]", out)
    assert ttl.startswith("settings.REMOTEDBG_TTL='soon': ")
    assert "did you mean settings.REMOTEDBG_ALLOW?" in misspelt
    assert allow.startswith("REMOTEDBG_ALLOW='0.0.0.0/0': ")
    assert all("\n" not in error for error in (ttl, misspelt, allow))


REQUESTS = """
configure(REMOTEDBG_ENABLE=True)
from django.http import HttpResponse
from django.test import AsyncRequestFactory, RequestFactory
from remotedbg.debuggee.fake_backend import FakeBackend
from remotedbg.debuggee.gate import Gate
from remotedbg.django import RemoteDebugMiddleware
from remotedbg.hooks.asgi import SCOPE_KEY
from remotedbg.hooks.wsgi import HOOKED_KEY

def app(request):
    return HttpResponse("app")

async def async_app(request):
    return HttpResponse("app")

def hooked(middleware):
    middleware.gate = Gate(middleware.settings, backend=FakeBackend)
    return middleware

def answer(response):
    return [response.status_code, response.get("Cache-Control"), response.content.decode()[:5]]
"""


def test_sync_requests() -> None:
    """Visitors and an outer hook's requests pass through; the developer arms and alone
    sees the status page."""
    out = run(
        REQUESTS
        + textwrap.dedent(
            """
        m = hooked(RemoteDebugMiddleware(app))
        get = RequestFactory().get
        visitor = answer(m(get("/__remotedbg__", REMOTE_ADDR="127.0.0.2")))
        forged = answer(m(get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.1")))
        outer = answer(m(get("/__remotedbg__", REMOTE_ADDR="127.0.0.1", **{HOOKED_KEY: 1})))
        armed_before = m.gate.armed
        status = answer(m(get("/__remotedbg__", REMOTE_ADDR="127.0.0.1")))
        print(json.dumps([visitor, forged, outer, armed_before, status, m.gate.armed]))
        """
        )
    )
    assert out == [
        [200, None, "app"],
        [200, None, "app"],
        [200, None, "app"],
        False,
        [200, "no-store", '{"arm'],
        True,
    ]


def test_async_requests() -> None:
    """The same under ASGI: the peer is the scope's client, and the ASGI hook's mark counts."""
    out = run(
        REQUESTS
        + textwrap.dedent(
            """
        from asgiref.sync import iscoroutinefunction
        m = hooked(RemoteDebugMiddleware(async_app))
        factory = AsyncRequestFactory()

        def get(path, client, **scope):
            request = factory.get(path)
            request.scope["client"] = (client, 1234)
            request.scope.update(scope)
            return request

        async def main():
            visitor = answer(await m(get("/__remotedbg__", "127.0.0.2")))
            outer = answer(await m(get("/__remotedbg__", "127.0.0.1", **{SCOPE_KEY: None})))
            status = answer(await m(get("/__remotedbg__", "127.0.0.1")))
            debugged = answer(await m(get("/", "127.0.0.1")))
            return [iscoroutinefunction(m), visitor, outer, status, debugged]

        print(json.dumps(asyncio.run(main())))
        """
        )
    )
    assert out == [
        True,
        [200, None, "app"],
        [200, None, "app"],
        [200, "no-store", '{"arm'],
        [200, None, "app"],
    ]

"""The Flask extension: ``RemoteDebugger(app)`` or ``RemoteDebugger().init_app(app)``.

It wraps ``app.wsgi_app`` in :class:`RemoteDebugMiddleware` and reads ``REMOTEDBG_*`` keys
of ``app.config`` over the environment. It also listens to ``got_request_exception``:
outside debug mode Flask turns a view's exception into its own 500 page, so the exception
never reaches the middleware, and this signal is the one place it can still be handed to
the IDE, with the raising frame intact.
"""

from __future__ import annotations

import sys
import typing as t

from ..settings import ENV_PREFIX, Settings
from .app_root import import_root
from .wsgi import CLIENT_KEY, REPORTED_KEY, RemoteDebugMiddleware

if t.TYPE_CHECKING:
    from flask import Flask

__all__ = ["EXTENSION_KEY", "RemoteDebugger"]

EXTENSION_KEY = "remotedbg"


class RemoteDebugger:
    """Flask extension; keyword arguments override ``app.config`` and the environment."""

    def __init__(self, app: Flask | None = None, **overrides: object) -> None:
        self.overrides = overrides
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, settings: Settings | None = None) -> RemoteDebugMiddleware:
        if settings is None:
            settings = _settings_for(app, self.overrides)
        middleware = RemoteDebugMiddleware(
            app.wsgi_app,
            settings,
            app_root=import_root(app.import_name) or app.root_path,
        )
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions[EXTENSION_KEY] = middleware
        if middleware.gate is not None:
            from flask import got_request_exception

            got_request_exception.connect(_report_exception, app, weak=False)
        return middleware


def _settings_for(app: Flask, overrides: t.Mapping[str, object]) -> Settings:
    from_config = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in app.config.items()
        if key.startswith(ENV_PREFIX)
    }
    labels = {field: f"RemoteDebugger({field}=...)" for field in overrides}

    def label(field: str) -> str:
        return labels.get(field, f'app.config["{ENV_PREFIX}{field.upper()}"]')

    return Settings.load(overrides={**from_config, **overrides}, label=label)


def _report_exception(sender: Flask, exception: BaseException, **extra: object) -> None:
    from flask import request

    environ = request.environ
    middleware = sender.extensions.get(EXTENSION_KEY)
    if middleware is None or middleware.gate is None or CLIENT_KEY not in environ:
        return
    if environ.get(REPORTED_KEY):
        return
    environ[REPORTED_KEY] = True
    middleware.gate.report_uncaught(t.cast("t.Any", sys.exc_info()))

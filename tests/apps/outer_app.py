"""A WSGI app with the hook inside another middleware, as `app.wsgi_app = Outer(...)` makes it.

Outer runs before the hook sees the request, so it must never run traced for a visitor.
"""

from __future__ import annotations

import typing as t

from remotedbg import RemoteDebugMiddleware

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def inner(environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
    body = b"inner"  # BREAK: inner
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [body]


class Outer:
    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Any:
        authorization = environ.get("HTTP_AUTHORIZATION")  # BREAK: outer
        environ["outer.authorization"] = authorization
        return self.app(environ, start_response)


app = Outer(RemoteDebugMiddleware(inner))

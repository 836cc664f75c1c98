"""A plain WSGI app hooked with the middleware, for gunicorn; switched on by the environment."""

from __future__ import annotations

import typing as t

from remotedbg import RemoteDebugMiddleware

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def index(environ: WSGIEnvironment) -> bytes:
    visitor = "tester"
    message = f"hello {visitor}"  # BREAK: index
    return message.encode()


def boom(environ: WSGIEnvironment) -> bytes:
    secret_number = 42
    raise RuntimeError(f"boom {secret_number}")  # RAISE: boom


def bare_app(environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/boom":
        body = boom(environ)
    elif path in ("/", "/health"):
        body = index(environ) if path == "/" else b"ok"
    else:
        start_response("404 NOT FOUND", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


app = RemoteDebugMiddleware(bare_app)

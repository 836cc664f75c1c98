"""The demo app of `remotedbg demo`: two pages, one of them broken on purpose.

`remotedbg demo` copies this file to a folder of yours (``./remotedbg-demo/`` unless
``--dir`` says otherwise) and serves that copy: an IDE stepping only through "my code"
skips files under site-packages, where an installed remotedbg lives. Edit the copy as you
like; it is never overwritten. Plain Werkzeug, so the demo needs nothing beyond remotedbg's
own dependencies. Set a breakpoint in ``greet()``, open ``/``, and inspect ``name``; open
``/boom`` to see the IDE stop on an unhandled exception.
"""

from __future__ import annotations

import typing as t

from werkzeug.wrappers import Request, Response

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def greet(name: str) -> str:
    return f"Hello, {name}!"  # set a breakpoint here


def divide(numerator: int, denominator: int) -> float:
    return numerator / denominator  # /boom stops here with ZeroDivisionError


def app(environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
    request = Request(environ)
    if request.path == "/boom":
        result = divide(1, 0)
        response = Response(f"{result}\n")
    else:
        response = Response(greet(request.args.get("name", "world")) + "\n")
    return response(environ, start_response)

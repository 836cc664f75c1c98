"""A plain ASGI app wrapped by the middleware, for hypercorn and uvicorn."""

from __future__ import annotations

import typing as t

from remotedbg import RemoteDebugASGIMiddleware


async def index() -> bytes:
    visitor = "tester"
    message = f"hello {visitor}"  # BREAK: index
    return message.encode()


async def boom() -> bytes:
    secret_number = 42
    raise RuntimeError(f"boom {secret_number}")  # RAISE: boom


async def bare_app(scope: dict[str, t.Any], receive: t.Any, send: t.Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/boom":
        body = await boom()
    elif path in ("/", "/health"):
        body = await index() if path == "/" else b"ok"
    else:
        body = b"not found"
    status = 404 if body == b"not found" else 200
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = RemoteDebugASGIMiddleware(bare_app)

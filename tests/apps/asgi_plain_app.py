"""A plain ASGI app with no hook of its own and no lifespan support, for `remotedbg run`."""

from __future__ import annotations

import typing as t


async def index() -> bytes:
    visitor = "tester"
    message = f"hello {visitor}"  # BREAK: index
    return message.encode()


async def boom() -> bytes:
    secret_number = 42
    raise RuntimeError(f"boom {secret_number}")  # RAISE: boom


async def app(scope: dict[str, t.Any], receive: t.Any, send: t.Any) -> None:
    if scope["type"] != "http":  # lifespan too: uvicorn's "auto" carries on without it
        raise RuntimeError(f"unsupported scope type {scope['type']!r}")
    path = scope["path"]
    if path == "/boom":
        body = await boom()
    elif path == "/":
        body = await index()
    elif path == "/health":
        body = b"ok"
    else:
        body = b"not found"
    status = 404 if body == b"not found" else 200
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

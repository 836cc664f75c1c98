"""A FastAPI app hooked with the ASGI middleware: async and sync endpoints, and an error."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from remotedbg import RemoteDebugASGIMiddleware

app = FastAPI()
# (mypy cannot match Starlette's middleware factory type against **overrides; it runs fine.)
app.add_middleware(RemoteDebugASGIMiddleware)  # type: ignore[arg-type]


async def pause_a_moment() -> str:
    await asyncio.sleep(0)
    return "awaited"


@app.get("/", response_class=PlainTextResponse)
async def index() -> str:
    visitor = "tester"
    waited = await pause_a_moment()  # BREAK: index
    return f"hello {visitor} {waited}"  # AFTER: index


@app.get("/sync", response_class=PlainTextResponse)
def sync_view() -> str:
    kind = "sync"
    return f"hello {kind}"  # BREAK: sync


@app.get("/health", response_class=PlainTextResponse)
async def health() -> str:
    return "ok"


@app.get("/boom")
async def boom() -> str:
    secret_number = 42
    raise RuntimeError(f"boom {secret_number}")  # RAISE: boom


@app.get("/sync-boom")
def sync_boom() -> str:
    secret_number = 43
    raise RuntimeError(f"boom {secret_number}")  # RAISE: sync-boom

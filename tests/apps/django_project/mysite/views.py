"""Sync and async views, errors in both, and a streaming body; markers name the lines."""

from __future__ import annotations

import asyncio
import typing as t

from django.http import (
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)


def index(request: HttpRequest) -> HttpResponse:
    visitor = "tester"
    return HttpResponse(f"hello {visitor}")  # BREAK: index


async def pause_a_moment() -> str:
    await asyncio.sleep(0)
    return "awaited"


async def async_index(request: HttpRequest) -> HttpResponse:
    visitor = "async tester"
    waited = await pause_a_moment()  # BREAK: async
    return HttpResponse(f"hello {visitor} {waited}")  # AFTER: async


def boom(request: HttpRequest) -> HttpResponse:
    secret_number = 42
    raise RuntimeError(f"boom {secret_number}")  # RAISE: boom


async def async_boom(request: HttpRequest) -> HttpResponse:
    secret_number = 43
    await asyncio.sleep(0)
    raise RuntimeError(f"boom {secret_number}")  # RAISE: async-boom


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> t.Iterator[str]:
        for number in range(3):
            yield f"chunk {number}\n"  # BREAK: stream

    return StreamingHttpResponse(chunks())


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")

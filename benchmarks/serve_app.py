"""The app the throughput benchmarks serve, in one of several modes (one process per mode).

    python serve_app.py MODE HTTP_PORT [wsgi|asgi]

MODE: bare (no remotedbg), off (hook installed, switched off), on (switched on, allowlist
127.0.0.1 only), short (on, with a 2-second window), debugpy (plain debugpy.listen() with
its adapter process, as people do today). The WSGI app is served as `remotedbg run` serves
it (Werkzeug's threaded server, request threads kept for the next request), in every mode;
the ASGI app by uvicorn, one process. Each request does a little Python work, so that
tracing shows.
"""

from __future__ import annotations

import resource
import sys
import typing as t

from remotedbg.cli.runner import make_wsgi_server


def work(n: int) -> int:
    total = 0
    for i in range(n):
        total += square(i)
    return total


def square(i: int) -> int:
    return i * i  # a breakpoint here is hit by every request


def cold() -> int:
    return 0  # BREAK: cold (never run by the load: breakpoints set, none hit)


def cpu_seconds() -> float:
    """CPU time of this whole process, every thread included (dead request threads too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def app(environ: t.Any, start_response: t.Any) -> list[bytes]:
    if environ.get("PATH_INFO") == "/__cpu__":
        body = repr(cpu_seconds()).encode()
    else:
        body = str(work(2000)).encode()
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    start_response("200 OK", headers)  # BREAK: view (once per request)
    return [body]


async def asgi_app(scope: t.Any, receive: t.Any, send: t.Any) -> None:
    if scope["type"] != "http":
        return
    cpu = scope["path"] == "/__cpu__"
    body = repr(cpu_seconds()).encode() if cpu else str(work(2000)).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build(mode: str, kind: str) -> t.Any:
    bare: t.Any = asgi_app if kind == "asgi" else app
    if mode == "bare":
        return bare
    if mode == "debugpy":
        import debugpy

        debugpy.listen(("127.0.0.1", 0))
        return bare
    from remotedbg.settings import Settings

    overrides: dict[str, object] = {"enable": mode != "off", "dap_port": 0, "allow": "127.0.0.1"}
    if mode == "short":
        overrides["ttl"] = 2
    settings = Settings.load({}, overrides)
    if kind == "asgi":
        from remotedbg.hooks.asgi import RemoteDebugASGIMiddleware

        return RemoteDebugASGIMiddleware(bare, settings)
    from remotedbg.hooks.wsgi import RemoteDebugMiddleware

    return RemoteDebugMiddleware(bare, settings)


def serve_asgi(application: t.Any, port: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    print("ready", flush=True)
    server.run()


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    kind = sys.argv[3] if len(sys.argv) > 3 else "wsgi"
    if kind == "asgi":
        serve_asgi(build(mode, kind), port)
    else:
        server = make_wsgi_server("127.0.0.1", port, build(mode, kind))
        print("ready", flush=True)
        server.serve_forever()

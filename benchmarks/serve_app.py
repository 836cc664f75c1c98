"""The app the throughput benchmarks serve, in one of several modes (one process per mode).

    python serve_app.py MODE HTTP_PORT

MODE: bare (no remotedbg), off (hook installed, switched off), on (switched on, allowlist
127.0.0.1 only), short (on, with a 2-second window), debugpy (plain debugpy.listen() with
its adapter process, as people do today). Served by Werkzeug's threaded server, like
`remotedbg run`. Each request does a little Python work, so that tracing shows.
"""

from __future__ import annotations

import resource
import sys
import typing as t

from werkzeug.serving import make_server


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
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def build(mode: str) -> t.Any:
    if mode == "bare":
        return app
    if mode == "debugpy":
        import debugpy

        debugpy.listen(("127.0.0.1", 0))
        return app
    from remotedbg.hooks.wsgi import RemoteDebugMiddleware
    from remotedbg.settings import Settings

    overrides: dict[str, object] = {"enable": mode != "off", "dap_port": 0, "allow": "127.0.0.1"}
    if mode == "short":
        overrides["ttl"] = 2
    return RemoteDebugMiddleware(app, Settings.load({}, overrides))


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    server = make_server("127.0.0.1", port, build(mode), threaded=True)
    print("ready", flush=True)
    server.serve_forever()

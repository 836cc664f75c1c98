"""What the hook costs the app when debugging is off or not armed, and what the allowlist costs.

Targets (issue 5): hook off >= 0.99x the bare app's throughput; on but not armed >= 0.98x;
`import remotedbg` adds <= 5 ms; a lookup against 10,000 CIDRs <= 2x one against one.
The app is called in-process through WSGI, with no server around it: the server's own cost
would dilute the hook's, so this is the strictest way to measure it.
"""

from __future__ import annotations

import ipaddress
import random
import statistics
import subprocess
import sys
import time
import typing as t

from remotedbg.hooks.wsgi import RemoteDebugMiddleware
from remotedbg.sansio.addresses import AddressSet
from remotedbg.settings import Settings

from benchlib import Row, paired_ratios, print_table


def flask_app() -> t.Any:
    from flask import Flask

    app = Flask("bench")

    @app.route("/")
    def index() -> str:
        return "hello"

    return app


def call(app: t.Any, environ: dict[str, t.Any]) -> t.Callable[[], object]:
    def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> None:
        return None

    def once() -> object:
        body = app(dict(environ), start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
        return body

    return once


def environ(remote_addr: str) -> dict[str, t.Any]:
    from werkzeug.test import EnvironBuilder

    env = EnvironBuilder(path="/").get_environ()
    env["REMOTE_ADDR"] = remote_addr
    return env


def hook_rows(quick: bool) -> list[Row]:
    bare = flask_app()
    off = flask_app()
    off.wsgi_app = RemoteDebugMiddleware(off.wsgi_app, Settings.load({}))
    on = flask_app()
    on.wsgi_app = RemoteDebugMiddleware(
        on.wsgi_app, Settings.load({}, {"enable": True, "allow": "10.1.0.0/16"})
    )
    visitor = environ("198.51.100.7")
    number, repeat = (300, 9) if quick else (1000, 41)
    times, ratios = paired_ratios(
        {"bare": call(bare, visitor), "off": call(off, visitor), "on": call(on, visitor)},
        "bare",
        number=number,
        repeat=repeat,
    )
    # Throughput is the inverse of time per request.
    return [
        Row("hook off: requests/s", 1 / times["off"], 1 / times["bare"], "req/s", ">= 0.99x",
            ratios["off"] >= 0.99, paired_ratio=ratios["off"]),
        Row("hook on, not armed, visitor: requests/s", 1 / times["on"], 1 / times["bare"],
            "req/s", ">= 0.98x", ratios["on"] >= 0.98, paired_ratio=ratios["on"]),
    ]  # fmt: skip


def import_row(quick: bool) -> Row:
    runs = 7 if quick else 21

    def spawn(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    with_import: list[float] = []
    without: list[float] = []
    for _ in range(runs):
        without.append(spawn("pass"))
        with_import.append(spawn("import remotedbg"))
    ours, base = statistics.median(with_import), statistics.median(without)
    added_ms = (ours - base) * 1000
    return Row(
        f"python -c 'import remotedbg' (adds {added_ms:.1f} ms)",
        ours * 1000,
        base * 1000,
        "ms",
        "+<= 5 ms",
        added_ms <= 5.0,
    )


def allowlist_row(quick: bool) -> Row:
    rng = random.Random(7)
    big = AddressSet(
        ipaddress.IPv4Network((rng.getrandbits(32), 24), strict=False) for _ in range(10_000)
    )
    small = AddressSet([ipaddress.IPv4Network("10.0.0.0/8")])
    probes = [ipaddress.IPv4Address(rng.getrandbits(32)) for _ in range(1000)]

    def lookups(address_set: AddressSet) -> t.Callable[[], object]:
        return lambda: [p in address_set for p in probes]

    number, repeat = (20, 5) if quick else (100, 11)
    times, _ = paired_ratios(
        {"big": lookups(big), "small": lookups(small)}, "small", number=number, repeat=repeat
    )
    per_lookup = {k: v / len(probes) * 1e9 for k, v in times.items()}
    return Row(
        "allowlist lookup, 10,000 CIDRs vs 1",
        per_lookup["big"],
        per_lookup["small"],
        "ns",
        "<= 2x",
        per_lookup["big"] <= 2 * per_lookup["small"],
    )


def rows(quick: bool = False) -> list[Row]:
    return [*hook_rows(quick), import_row(quick), allowlist_row(quick)]


if __name__ == "__main__":
    print_table(rows("--quick" in sys.argv), "Hook and allowlist (in-process)")

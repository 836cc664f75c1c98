"""Several workers behind one door, against today's single-process bridge, side by side.

Targets (issue 11): every step through the shared door to a worker within 1 ms of the
same step through the bridge inside a single process (`remotedbg run`); a large variables
answer (a 10 MB value copied to the clipboard) at >= 0.8x the single process's speed; and
visitors' throughput on the other workers of `gunicorn -w 4` while the developer is paused
in one of them, >= 0.9x of the same server with no debugger. Both sides run alternately.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_dap import APP, HERE, STEPS, Target
from bench_throughput import burst

from benchlib import Row, print_table
from dap_client import DAPClient
from ide import Background, attach
from servers import Server, free_port, http_get, marker_line

#: What an IDE asks for when the developer copies a big value: pydevd answers in full.
BIG = "'x' * 10_000_000"


def targets(tmp: Path) -> list[Target]:
    single_http, single_dap = free_port(), free_port()
    door_http, door_dap = free_port(), free_port()
    return [
        Target(
            "remotedbg single process",
            [sys.executable, "-m", "remotedbg", "run", str(APP), "--port", str(single_http),
             "--dap-port", str(single_dap)],
            single_http, single_dap, tmp / "single.log",
        ),
        Target(
            "remotedbg door, gunicorn -w 2",
            [sys.executable, "-m", "gunicorn", "-w", "2", "--timeout", "300", "--bind",
             f"127.0.0.1:{door_http}", "dap_app_hooked:app"],
            door_http, door_dap, tmp / "door.log",
            env={"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(door_dap)},
        ),
    ]  # fmt: skip


def big_variables(target: Target) -> float:
    """Seconds to evaluate a 10 MB string for the clipboard, while stopped at BREAK."""
    c = target.client
    request = Background(target.server.http_port, "/")
    thread_id = c.wait_event("stopped", timeout=60)["body"]["threadId"]
    frame = c.request("stackTrace", {"threadId": thread_id})["body"]["stackFrames"][0]
    start = time.perf_counter()
    answer = c.request(
        "evaluate",
        {"expression": BIG, "frameId": frame["id"], "context": "clipboard"},
        timeout=120,
    )
    took = time.perf_counter() - start
    assert len(answer["body"]["result"]) >= 10_000_000, str(answer)[:300]
    c.send("continue", {"threadId": thread_id})
    request.result(60)
    return took


def rows(quick: bool = False) -> list[Row]:
    rounds = 5 if quick else 15
    with tempfile.TemporaryDirectory() as tmp:
        served = targets(Path(tmp))
        samples: dict[str, dict[str, list[float]]] = {
            t.name: {s: [] for s in (*STEPS, "big")} for t in served
        }
        try:
            for target in served:
                target.round()  # warm-up
            for _ in range(rounds):
                for target in served:
                    for step, value in target.round().items():
                        samples[target.name][step].append(value)
                    samples[target.name]["big"].append(big_variables(target))
        finally:
            for target in served:
                target.stop()
    single, door = (samples[t.name] for t in served)
    out = []
    for step in STEPS:
        ours, base = statistics.median(door[step]), statistics.median(single[step])
        out.append(Row(f"door: {step}", ours, base, "ms", "within 1 ms", ours - base <= 1.0))
    ours, base = statistics.median(door["big"]), statistics.median(single["big"])
    out.append(Row("door: a 10 MB value (evaluate, clipboard)", 1 / ours, 1 / base, "answers/s",
                   ">= 0.8x", base / ours >= 0.8))  # fmt: skip
    for where in PAUSE_AT:
        with tempfile.TemporaryDirectory() as tmp:
            out.append(paused_throughput_row(quick, Path(tmp), where))
    return out


#: Where the developer's request is paused: a line the view runs once per request, and a
#: line inside a loop every request runs 2,000 times (visitors pass it as often).
PAUSE_AT = {
    "in the view": "BREAK: view (once per request)",
    "in a loop visitors run 2,000 times a request": "a breakpoint here is hit by every request",
}


def paused_throughput_row(quick: bool, tmp: Path, where: str) -> Row:
    """Visitors of gunicorn -w 4 while one worker is paused, against gunicorn -w 4 bare."""
    app_file = HERE / "serve_app.py"
    servers = {}
    for name in ("bare", "hooked"):
        http_port, dap_port = free_port(), free_port()
        env = {"REMOTEDBG_ENABLE": "1", "REMOTEDBG_DAP_PORT": str(dap_port)}
        argv = [sys.executable, "-m", "gunicorn", "-w", "4", "--timeout", "300",
                "--bind", f"127.0.0.1:{http_port}", "gunicorn_app:app"]  # fmt: skip
        server = Server(argv, http_port=http_port, cwd=HERE, log_path=tmp / f"{name}.log",
                        env=env if name == "hooked" else None)  # fmt: skip
        server.wait_ready()
        servers[name] = (server, dap_port)
    hooked, dap_port = servers["hooked"]
    try:
        http_get(hooked.http_port, "/__remotedbg__")  # an allowlisted request arms
        ide = DAPClient(("127.0.0.1", dap_port), timeout=60)
        line = marker_line(app_file, PAUSE_AT[where])
        attach(ide, breakpoints={app_file: [line]})
        developer = Background(hooked.http_port, "/")
        ide.wait_event("stopped", timeout=60)  # one worker is now paused, for good
        rates: dict[str, list[float]] = {"bare": [], "hooked": []}
        requests, repeat = (200, 5) if quick else (400, 15)
        for server, _ in servers.values():
            burst(server.http_port, requests // 2)  # warm-up
        for _ in range(repeat):
            for name, (server, _) in servers.items():
                rates[name].append(burst(server.http_port, requests)[0])
        ide.close()  # the window's release resumes the paused request
        developer.result(60)
    finally:
        for server, _ in servers.values():
            server.stop()
    ours, base = statistics.median(rates["hooked"]), statistics.median(rates["bare"])
    return Row(f"gunicorn -w 4, one worker paused {where}: visitors' req/s", ours, base,
               "req/s", ">= 0.9x", ours / base >= 0.9)  # fmt: skip


if __name__ == "__main__":
    print_table(rows("--quick" in sys.argv), "Several workers: the shared door against one process")

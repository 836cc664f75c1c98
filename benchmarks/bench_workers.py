"""Several workers behind one door, against today's single-process bridge, side by side.

Targets (issue 11): every step through the shared door to a worker within 1 ms of the
same step through the bridge inside a single process (`remotedbg run`); a large variables
answer (a 10 MB value copied to the clipboard) at >= 0.8x the single process's speed.
Both targets serve the same Flask app (benchmarks/dap_app.py) and run alternately.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_dap import APP, STEPS, Target

from benchlib import Row, print_table
from ide import Background
from servers import free_port

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
    return out


if __name__ == "__main__":
    print_table(rows("--quick" in sys.argv), "Several workers: the shared door against one process")

"""Run every benchmark and print one table: measure, remotedbg, baseline, ratio, target, result.

    python benchmarks/run.py            # the full run, several minutes
    python benchmarks/run.py --quick    # fewer repetitions, for a smoke test

Run it with each interpreter you care about (e.g. a Python 3.12 venv) for that version's
figures. Exit status is 0 even when a target is missed: this reports, CI tests.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_dap
import bench_hook
import bench_throughput
import bench_workers

from benchlib import print_table


def main() -> None:
    quick = "--quick" in sys.argv
    import debugpy

    rows = [
        *bench_hook.rows(quick),
        *bench_throughput.rows(quick),
        *bench_throughput.rows(quick, "asgi"),
        *bench_dap.rows(quick),
        *bench_workers.rows(quick),
    ]
    title = (
        f"remotedbg benchmarks: Python {platform.python_version()}, debugpy "
        f"{debugpy.__version__}, {platform.machine()}{' (quick)' if quick else ''}"
    )
    print_table(rows, title)
    passed = sum(row.passed for row in rows)
    print(f"\n{passed} of {len(rows)} targets met")


if __name__ == "__main__":
    main()

"""Shared pieces of the benchmarks: side-by-side timing, medians, and the results table.

Every comparison runs its variants interleaved in the same process or run, after a warm-up,
several times over, and reports medians and ratios: absolute times on shared machines are
noise, ratios of medians taken side by side are not.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

# The benchmarks drive servers and debuggers with the tests' own harness (DAP client,
# server processes), so that both measure the same thing the same way.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    measure: str
    ours: float
    baseline: float
    unit: str
    target: str
    passed: bool
    #: The ratio judged; by default ours / baseline, but a paired median where measured so.
    paired_ratio: float | None = None

    @property
    def ratio(self) -> float:
        if self.paired_ratio is not None:
            return self.paired_ratio
        return self.ours / self.baseline if self.baseline else float("inf")


def timeit(func: t.Callable[[], object], number: int) -> float:
    """Seconds per call of `func`, over `number` calls, with the collector off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            func()
        return (time.perf_counter() - start) / number
    finally:
        if enabled:
            gc.enable()


def paired_ratios(
    variants: dict[str, t.Callable[[], object]],
    baseline: str,
    *,
    number: int,
    repeat: int,
    warmup: int = 2,
    seed: int = 3,
) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds per call of each variant, and the median of its per-round speed ratio.

    Each round runs every variant once, in a shuffled order, and a variant's ratio is taken
    against the baseline of the same round: drift and order effects cancel round by round.
    """
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    ratios: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(warmup + repeat):
        order = list(variants)
        rng.shuffle(order)
        took = {name: timeit(variants[name], number) for name in order}
        if round_ >= warmup:
            for name, value in took.items():
                samples[name].append(value)
                ratios[name].append(took[baseline] / value)
    return (
        {name: statistics.median(values) for name, values in samples.items()},
        {name: statistics.median(values) for name, values in ratios.items()},
    )


def median_ms(samples: t.Sequence[float]) -> float:
    return statistics.median(samples) * 1000.0


def print_table(rows: t.Sequence[Row], title: str, out: t.TextIO = sys.stdout) -> None:
    header = ("measure", "remotedbg", "baseline", "ratio", "target", "result")
    lines = [
        (
            row.measure,
            f"{row.ours:.4g} {row.unit}",
            f"{row.baseline:.4g} {row.unit}",
            f"{row.ratio:.3f}x",
            row.target,
            "pass" if row.passed else "FAIL",
        )
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]
    out.write(f"\n{title}\n")
    for cells in (header, tuple("-" * w for w in widths), *lines):
        out.write(
            "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n"
        )
    out.flush()

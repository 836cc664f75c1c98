"""The Flask app the stepping benchmarks debug; BREAK marks the line every request stops on."""

from __future__ import annotations

import os

from flask import Flask

app = Flask(__name__)


def helper(items: list[int]) -> int:
    total = 0
    for item in items:
        total += item
    return total


@app.route("/")
def index() -> str:
    items = list(range(50))
    total = helper(items)  # BREAK
    text = f"total {total}"
    return text  # noqa: RET504 - a line of its own, for `next` to step onto


@app.route("/arm")
def arm() -> str:
    """The baseline's arming: the Flask docs' recipe, debugpy.listen() in a request."""
    import debugpy

    debugpy.listen(("127.0.0.1", int(os.environ["BENCH_DEBUGPY_PORT"])))
    return "armed"

"""A Flask app for the end-to-end tests; the BREAK markers name the lines tests stop on."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index() -> str:
    visitor = "tester"
    return f"hello {visitor}"  # BREAK: index


@app.route("/boom")
def boom() -> str:
    secret_number = 42
    raise RuntimeError(f"boom {secret_number}")  # RAISE: boom


@app.route("/health")
def health() -> str:
    return "ok"


@app.route("/tracer")
def tracer() -> str:
    import sys

    return "traced" if sys.gettrace() is not None else "untraced"

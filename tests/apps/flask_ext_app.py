"""A Flask app hooked with the extension, switched on by REMOTEDBG_ENABLE, for other servers."""

from __future__ import annotations

from flask import Flask

from remotedbg import RemoteDebugger

app = Flask(__name__)
app.config["REMOTEDBG_TTL"] = "10m"
RemoteDebugger(app)


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

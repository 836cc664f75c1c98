from flask import Flask

from remotedbg import RemoteDebugger

app = Flask(__name__)
RemoteDebugger(app)  # off unless REMOTEDBG_ENABLE=1; reads REMOTEDBG_* and app.config


@app.route("/")
def index() -> str:
    return "hello"

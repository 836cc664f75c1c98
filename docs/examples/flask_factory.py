from flask import Flask

from remotedbg import RemoteDebugger

debugger = RemoteDebugger()  # keyword arguments here would override app.config


def create_app(config: dict[str, object] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["REMOTEDBG_TTL"] = "2h"  # REMOTEDBG_* keys override the environment
    app.config.update(config or {})
    debugger.init_app(app)  # off unless REMOTEDBG_ENABLE is on (environment or app.config)

    @app.route("/")
    def index() -> str:
        return "hello"

    return app

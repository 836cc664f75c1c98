"""dap_app with the Flask hook, for servers other than `remotedbg run` (gunicorn)."""

from __future__ import annotations

from dap_app import app
from remotedbg import RemoteDebugger

RemoteDebugger(app)

"""serve_app's visitors' page for gunicorn, hooked when REMOTEDBG_ENABLE is set."""

from __future__ import annotations

import os

from remotedbg import RemoteDebugMiddleware
from serve_app import app as bare

app = RemoteDebugMiddleware(bare) if os.environ.get("REMOTEDBG_ENABLE") else bare

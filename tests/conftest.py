"""Fixtures shared by the tests: real servers (after Werkzeug's `dev_server`) and the audit log.

The helpers themselves live in `servers.py`, which the benchmarks import too.
"""

from __future__ import annotations

import logging
import typing as t
from pathlib import Path

import pytest

from servers import AuditCapture, Clock, DevServers


@pytest.fixture
def dev_server(tmp_path: Path) -> t.Iterator[DevServers]:
    """Start servers with `dev_server(APP, *args)` (``remotedbg run``) or
    `dev_server.start(argv, http_port=...)`: each answers before it returns, and every one
    is stopped, its log printed, when the test ends."""
    servers = DevServers(tmp_path)
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture
def audit_log() -> t.Iterator[AuditCapture]:
    """Every event on the ``remotedbg.audit`` logger (INFO and up) while the test runs."""
    capture = AuditCapture()
    logger = capture.logger
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(capture)
    yield capture
    logger.removeHandler(capture)
    logger.setLevel(level)


@pytest.fixture
def clock() -> Clock:
    """A clock for policies and audit trails that moves only when the test moves it."""
    return Clock()

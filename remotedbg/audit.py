"""Structured audit events on the ``remotedbg.audit`` logger.

A debugger port is a code-execution door, so whoever opened it, used it or was turned away
must be on record. Each event is one log line in ``key=value`` form (greppable, and read by
log shippers as logfmt) and carries the same fields as a dict in ``record.remotedbg`` for
handlers that want structure.
"""

from __future__ import annotations

import logging

__all__ = ["AUDIT_LOGGER", "Audit"]

AUDIT_LOGGER = "remotedbg.audit"

#: Events that mean someone was refused or something broke: logged at WARNING.
_WARNINGS = frozenset({"arm_failed", "refused", "token_rejected", "locked_out", "fault", "expired"})


def _logfmt(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\\') or not text.isprintable():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class Audit:
    """Writes audit events; one instance per gate or bridge, so tests can give their own."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(AUDIT_LOGGER)

    def __call__(self, event: str, **fields: object) -> None:
        record = {"event": event, **{k: v for k, v in fields.items() if v is not None}}
        level = logging.WARNING if event in _WARNINGS else logging.INFO
        message = " ".join(f"{key}={_logfmt(value)}" for key, value in record.items())
        self.logger.log(level, "%s", message, extra={"remotedbg": record})

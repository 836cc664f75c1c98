"""The DAP messages the door writes or rewrites itself, and how it words a fault.

Pure helpers of the door's conversation (`door_conversation.py`), kept apart so that the
conversation is only about who may do what, when.
"""

from __future__ import annotations

import typing as t

from ..errors import ProtocolError
from .access_policy import TOKEN_FIELD
from .breakpoint_guard import GUARDED_COMMANDS, guard_arguments
from .dap_codec import Message, Request

__all__ = [
    "AUTHORIZE_FIELD",
    "adapter_capabilities",
    "capability_changes",
    "explain",
    "for_shared_box",
    "guarded",
    "without_token",
]

#: pydevd's ``pydevdAuthorize`` argument that carries the bridge's per-session secret.
AUTHORIZE_FIELD = "debugServerAccessToken"


def adapter_capabilities() -> dict[str, t.Any]:
    """What debugpy's own adapter answers to ``initialize`` (debugpy/adapter/clients.py).

    The bridge answers before debugpy is reachable, and an IDE set up for debugpy expects
    exactly this, descriptions of the exception filters included. Built per call: no shared
    mutable state.
    """
    filters = [
        {
            "filter": "raised",
            "label": "Raised Exceptions",
            "default": False,
            "description": "Break whenever any exception is raised.",
        },
        {
            "filter": "uncaught",
            "label": "Uncaught Exceptions",
            "default": True,
            "description": "Break when the process is exiting due to unhandled exception.",
        },
        {
            "filter": "userUnhandled",
            "label": "User Uncaught Exceptions",
            "default": False,
            "description": "Break when exception escapes into library code.",
        },
    ]
    return {
        "supportsCompletionsRequest": True,
        "supportsConditionalBreakpoints": True,
        "supportsConfigurationDoneRequest": True,
        "supportsDebuggerProperties": True,
        "supportsDelayedStackTraceLoading": True,
        "supportsEvaluateForHovers": True,
        "supportsExceptionInfoRequest": True,
        "supportsExceptionOptions": True,
        "supportsFunctionBreakpoints": True,
        "supportsHitConditionalBreakpoints": True,
        "supportsLogPoints": True,
        "supportsModulesRequest": True,
        "supportsSetExpression": True,
        "supportsSetVariable": True,
        "supportsValueFormattingOptions": True,
        "supportsTerminateDebuggee": True,
        "supportsTerminateRequest": True,
        "supportsGotoTargetsRequest": True,
        "supportsClipboardContext": True,
        "exceptionBreakpointFilters": filters,
        "supportsStepInTargetsRequest": True,
    }


def capability_changes(ours: dict[str, t.Any], theirs: dict[str, t.Any]) -> dict[str, t.Any]:
    """Capabilities debugpy reports differently from our answer, for a ``capabilities`` event.

    A false or empty value we did not mention is the DAP default, so it is no change; filters
    are compared by id, since only debugpy's adapter adds descriptions.
    """
    changes = {}
    for key, value in theirs.items():
        mine = ours.get(key)
        if key == "exceptionBreakpointFilters" and isinstance(value, list) and mine:
            same = [f.get("filter") for f in mine] == [
                f.get("filter") if isinstance(f, dict) else f for f in value
            ]
        else:
            same = mine == value or (not value and key not in ours)
        if not same:
            changes[key] = value
    return changes


def explain(exc: BaseException) -> str:
    """An audit reason: protocol errors speak for themselves; anything else names its type."""
    if isinstance(exc, ProtocolError):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def guarded(msg: Message) -> Message:
    """Breakpoints that stop only the developer's requests (see breakpoint_guard.py)."""
    if not isinstance(msg, Request) or msg.command not in GUARDED_COMMANDS:
        return msg
    arguments = guard_arguments(msg.command, msg.arguments or {})
    return Request(msg.seq, msg.command, arguments, msg.extra)


def without_token(msg: Message) -> Message:
    """debugpy copies attach arguments into child configs and logs: the token stops here."""
    if not isinstance(msg, Request) or not msg.arguments or TOKEN_FIELD not in msg.arguments:
        return msg
    arguments = {k: v for k, v in msg.arguments.items() if k != TOKEN_FIELD}
    return Request(msg.seq, msg.command, arguments, msg.extra)


def for_shared_box(attach: Message) -> Message:
    """Pause only the thread that stops, unless the IDE asked otherwise.

    debugpy's default stops every thread on a breakpoint: on a staging box that freezes
    the server's accept loop, and every other visitor hangs while one developer reads a
    variable. ``stopAllThreadsOnSuspend`` is debugpy's own attach option for this.
    """
    if not isinstance(attach, Request) or "stopAllThreadsOnSuspend" in (attach.arguments or {}):
        return attach
    arguments = {**(attach.arguments or {}), "stopAllThreadsOnSuspend": False}
    return Request(attach.seq, attach.command, arguments, attach.extra)

"""Every breakpoint the IDE sets gets a condition of ours: "this is the developer's request".

On Python 3.12+ pydevd traces through ``sys.monitoring``, which is global. Switching a
visitor's thread off keeps it from stopping, but then pydevd never switches off the code
only visitors run, and every call there pays a callback, forever. With the condition on
every breakpoint, visitors' threads can stay on: pydevd disables each code location
without breakpoints for good, and at a breakpoint the condition, false for a visitor, keeps
them running. The door adds it to every ``setBreakpoints`` and ``setFunctionBreakpoints``
on the way in, so no IDE needs to know.

The user's own condition and hit count keep their meaning, counted for the developer's
hits only. pydevd would count every thread's hits, and a true hit condition stops without
the condition being asked, so the hit condition moves into the condition, where the
debuggee's ``__remotedbg_hit__`` counts and tests it. pydevd's rule stays: stop when the
hit condition holds, or else when the condition does. A condition that raises still raises
(and pydevd still stops to say so), but only on the developer's hits.

The debuggee installs ``__remotedbg_mine__`` and ``__remotedbg_hit__`` as builtins before
any session starts (`remotedbg.debuggee.breakpoint_helpers`).
"""

from __future__ import annotations

import typing as t

__all__ = ["GUARDED_COMMANDS", "MINE", "guard_arguments"]

#: The requests whose breakpoints get the condition.
GUARDED_COMMANDS = frozenset({"setBreakpoints", "setFunctionBreakpoints"})
#: True only in the developer's request (the debuggee defines it).
MINE = "__remotedbg_mine__()"


def guard_arguments(command: str, arguments: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The request's arguments with every breakpoint guarded (a copy; others untouched)."""
    guarded = dict(arguments)
    breakpoints = arguments.get("breakpoints")
    if command not in GUARDED_COMMANDS or not isinstance(breakpoints, list):
        return guarded
    where = _where(command, arguments)
    guarded["breakpoints"] = [
        _guard(bp, f"{where}#{index}") if isinstance(bp, dict) else bp
        for index, bp in enumerate(breakpoints)
    ]
    return guarded


def _where(command: str, arguments: t.Mapping[str, t.Any]) -> str:
    source = arguments.get("source")
    if command == "setBreakpoints" and isinstance(source, dict):
        return str(source.get("path") or source.get("sourceReference") or "?")
    return command


def _guard(breakpoint: dict[str, t.Any], key: str) -> dict[str, t.Any]:
    guarded = dict(breakpoint)
    condition = _text(guarded.get("condition"))
    hit = _text(guarded.pop("hitCondition", None))
    if breakpoint.get("line") is not None:
        key = f"{key}:{breakpoint['line']}"
    elif breakpoint.get("name") is not None:
        key = f"{key}:{breakpoint['name']}"
    guarded["condition"] = guarded_condition(condition, hit, key)
    return guarded


def guarded_condition(condition: str | None, hit: str | None, key: str) -> str:
    """The condition pydevd gets, for the user's `condition` and `hit` condition."""
    parts = []
    if hit is not None:
        parts.append(f"__remotedbg_hit__({key!r}, {hit!r})")
    if condition is not None:
        if _is_expression(condition):
            parts.append(f"({condition}\n)")  # a newline ends a trailing comment in theirs
        else:  # e.g. ``0)) or ((1``, which would close our parentheses: never pasted as code
            parts.append(f"eval({condition!r})")  # raises its SyntaxError, for the developer
    if not parts:
        return MINE
    return f"{MINE} and ({' or '.join(parts)})"


def _is_expression(text: str) -> bool:
    """Whether `text` is a Python expression on its own (then it cannot escape ours)."""
    try:
        compile(text, "<condition>", "eval", dont_inherit=True)
    except Exception:  # SyntaxError, or a parser's RecursionError / MemoryError
        return False
    return True


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    return None

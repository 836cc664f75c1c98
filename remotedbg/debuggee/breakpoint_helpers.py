"""The two names every guarded breakpoint condition calls (see sansio/breakpoint_guard.py).

They are builtins so that a condition finds them in any module's frame without an import,
and installed before the first session, so no guarded condition can ever raise NameError
(pydevd stops on a condition that raises, which would stop visitors).
"""

from __future__ import annotations

import builtins
import sys
import threading
import typing as t

from ..sansio.breakpoint_guard import MINE

__all__ = ["guard_exception_breakpoints", "hit_expression", "install"]


def hit_expression(hit_condition: str) -> str:
    """pydevd's reading of a DAP hit condition: ``5``, ``>= 5``, ``% 2`` (its own rules)."""
    expr = hit_condition.strip()
    try:
        int(expr)
    except ValueError:
        pass
    else:
        return f"@HIT@ == {expr}"
    if expr.startswith("%"):
        return f"@HIT@ {expr} == 0"
    if expr.startswith(("==", ">", "<")):
        return f"@HIT@ {expr}"
    return expr


def install(mine: t.Callable[[], bool]) -> None:
    """Make the helpers available to every frame; `mine` says if this is the developer's."""
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def hit(key: str, hit_condition: str) -> bool:
        with lock:
            counts[key] = count = counts.get(key, 0) + 1
        frame = sys._getframe(1)
        expression = hit_expression(hit_condition).replace("@HIT@", str(count))
        return bool(eval(expression, frame.f_globals, frame.f_locals))  # noqa: S307 - the IDE's own expression, as pydevd evaluates it

    builtins.__remotedbg_mine__ = mine  # type: ignore[attr-defined]
    builtins.__remotedbg_hit__ = hit  # type: ignore[attr-defined]


def guard_exception_breakpoints(py_db: t.Any) -> bool:
    """Exception filters ("Raised", "User Uncaught") stop only the developer's requests too.

    DAP gives exception filters no condition, but pydevd's exception breakpoints take one
    and check it for every kind of stop; the door cannot add it, so pydevd's own way in
    adds it here. False if this pydevd has no such way in.
    """
    add = getattr(py_db, "add_break_on_exception", None)
    if add is None:
        return False
    if getattr(add, "remotedbg_guarded", False):
        return True

    def add_break_on_exception(
        exception: t.Any, condition: t.Any, *args: t.Any, **kw: t.Any
    ) -> t.Any:
        condition = MINE if not condition else f"{MINE} and ({condition}\n)"
        return add(exception, condition, *args, **kw)

    add_break_on_exception.remotedbg_guarded = True  # type: ignore[attr-defined]
    py_db.add_break_on_exception = add_break_on_exception
    _guard_log_messages(py_db)
    _answer_visitors_at_once(py_db)
    return _guard_template_exceptions(py_db) and _never_pause_visitors(py_db)


def _never_pause_visitors(py_db: t.Any) -> bool:
    """A visitor's thread never pauses, whatever asks: the IDE's Pause button, an IDE that
    asks every thread to stop with the developer's (``stopAllThreadsOnSuspend``), a
    ``breakpoint()`` call in code visitors run. Every pause goes through pydevd's
    ``do_wait_suspend``, in the pausing thread: a visitor's is let go there, marked running,
    before pydevd tells the IDE anything.
    """
    pause = getattr(py_db, "do_wait_suspend", None)
    lifecycle = sys.modules.get("_pydevd_bundle.pydevd_thread_lifecycle")
    run_thread = getattr(lifecycle, "internal_run_thread", None)
    additional_info = getattr(lifecycle, "set_additional_thread_info", None)
    if pause is None or run_thread is None or additional_info is None:
        return False
    if getattr(pause, "remotedbg_guarded", False):
        return True
    mine = builtins.__remotedbg_mine__  # type: ignore[attr-defined]

    def do_wait_suspend(thread: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if mine():
            return pause(thread, *args, **kwargs)
        run_thread(thread, additional_info)
        return None

    do_wait_suspend.remotedbg_guarded = True  # type: ignore[attr-defined]
    py_db.do_wait_suspend = do_wait_suspend
    return _never_suspend_from_a_visitor(py_db, run_thread, additional_info)


def _never_suspend_from_a_visitor(py_db: t.Any, run_thread: t.Any, additional_info: t.Any) -> bool:
    """A visitor's thread that stops itself (a ``breakpoint()`` call, a step left pending on
    a pooled thread) is let go before pydevd marks anything.

    Letting it go only at the pause is too late when the IDE asked every thread to stop
    with the first (``stopAllThreadsOnSuspend``): pydevd would already have marked every
    other thread, the developer's among them, to pause without telling the IDE. Suspending
    *other* threads (the IDE's Pause, the developer's stop) is left to pydevd: a visitor's
    thread so marked is let go at its pause.
    """
    suspend = getattr(py_db, "set_suspend", None)
    if suspend is None:
        return False
    if getattr(suspend, "remotedbg_guarded", False):
        return True
    mine = builtins.__remotedbg_mine__  # type: ignore[attr-defined]

    def set_suspend(thread: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if getattr(thread, "ident", None) == threading.get_ident() and not mine():
            run_thread(thread, additional_info)
            return None
        return suspend(thread, *args, **kwargs)

    set_suspend.remotedbg_guarded = True  # type: ignore[attr-defined]
    py_db.set_suspend = set_suspend
    return True


def _developer_only(owner: t.Any, name: str, visitors_answer: object) -> bool:
    """Replace ``owner.name`` with a call that runs it for the developer's thread only, and
    gives everyone else `visitors_answer`. False if `owner` has no such method."""
    original = getattr(owner, name, None)
    if original is None:
        return False
    if getattr(original, "remotedbg_guarded", False):
        return True
    mine = builtins.__remotedbg_mine__  # type: ignore[attr-defined]

    def guarded(*args: t.Any, **kwargs: t.Any) -> t.Any:
        return original(*args, **kwargs) if mine() else visitors_answer

    guarded.remotedbg_guarded = True  # type: ignore[attr-defined]
    setattr(owner, name, guarded)
    return True


def _answer_visitors_at_once(py_db: t.Any) -> None:
    """A visitor's hit on a guarded breakpoint is answered without evaluating its condition.

    pydevd compiles a condition's text anew at every hit: a breakpoint on a line visitors
    run in a loop would cost them that on every pass. The guard's answer for a visitor is
    known without it (false), and a true hit condition has to wait for ours anyway.
    """
    _developer_only(py_db, "handle_breakpoint_condition", False)


def _guard_log_messages(py_db: t.Any) -> None:
    """pydevd evaluates a log point's message before it asks the condition: a message with
    a call in it would run in every visitor's frame. It is evaluated for the developer only."""
    _developer_only(py_db, "handle_breakpoint_expression", None)


def _guard_template_exceptions(py_db: t.Any) -> bool:
    """Jinja's and Django's template errors ("jinja": true in attach) are plugin exception
    breakpoints, which take no condition at all: their plugin hook is asked only in the
    developer's requests."""
    lazy = getattr(py_db, "get_plugin_lazy_init", None)
    manager: t.Any = lazy() if lazy is not None else None
    return manager is not None and _developer_only(manager, "exception_break", None)

"""The door's condition on every breakpoint (sansio/breakpoint_guard.py) and the debuggee's
hit counting (debuggee/breakpoint_helpers.py), in memory."""

from __future__ import annotations

import builtins

import pytest

from remotedbg.debuggee import breakpoint_helpers
from remotedbg.sansio.breakpoint_guard import MINE, guard_arguments, guarded_condition


def test_a_plain_breakpoint_asks_only_whose_request_it_is() -> None:
    args = {"source": {"path": "/app/views.py"}, "breakpoints": [{"line": 7}]}
    guarded = guard_arguments("setBreakpoints", args)
    assert guarded["breakpoints"] == [{"line": 7, "condition": MINE}]
    assert args["breakpoints"] == [{"line": 7}]  # the IDE's request is not changed


def test_the_users_condition_and_hit_count_move_behind_ours() -> None:
    args = {
        "source": {"path": "/app/views.py"},
        "breakpoints": [{"line": 7, "condition": "x > 1", "hitCondition": ">= 3"}],
    }
    [bp] = guard_arguments("setBreakpoints", args)["breakpoints"]
    assert "hitCondition" not in bp
    assert bp["condition"] == (
        f"{MINE} and (__remotedbg_hit__('/app/views.py#0:7', '>= 3') or (x > 1\n))"
    )


def test_function_breakpoints_are_guarded_and_other_requests_are_not() -> None:
    guarded = guard_arguments("setFunctionBreakpoints", {"breakpoints": [{"name": "f"}]})
    assert guarded["breakpoints"] == [{"name": "f", "condition": MINE}]
    other = {"threadId": 1}
    assert guard_arguments("continue", other) == other
    assert guard_arguments("setBreakpoints", {"breakpoints": "nonsense"}) == {
        "breakpoints": "nonsense"
    }


@pytest.mark.parametrize(
    ("hit", "hits_that_stop"),
    [("3", [3]), (">= 4", [4, 5, 6]), ("% 2", [2, 4, 6]), ("== 1", [1]), ("< 3", [1, 2])],
)
def test_hit_conditions_read_as_pydevd_reads_them(hit: str, hits_that_stop: list[int]) -> None:
    mine = [True]
    breakpoint_helpers.install(lambda: mine[0])
    condition = guarded_condition(None, hit, f"key {hit}")
    stops = []
    for hit_number in range(1, 7):
        mine[0] = False  # a visitor passes first: it neither stops nor counts
        assert not eval(condition)  # noqa: S307 - the condition pydevd would evaluate
        mine[0] = True
        if eval(condition):  # noqa: S307
            stops.append(hit_number)
    assert stops == hits_that_stop
    assert callable(builtins.__remotedbg_mine__)  # type: ignore[attr-defined]


def test_a_condition_that_raises_raises_only_for_the_developer() -> None:
    mine = [False]
    breakpoint_helpers.install(lambda: mine[0])
    condition = guarded_condition("1 / 0", None, "k")
    assert not eval(condition)  # noqa: S307 - a visitor's hit never evaluates theirs
    mine[0] = True
    with pytest.raises(ZeroDivisionError):
        eval(condition)  # noqa: S307

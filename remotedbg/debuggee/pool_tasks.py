"""Work handed to a thread pool is the developer's if the hand-over was, task by task.

A thread started by the developer's request inherits "the developer's" (`TraceScope`), as
its work serves the developer. A pool's worker thread is different: started by whichever
request first needed it, it then runs everyone's tasks, and one started by the developer's
request would stop visitors at the developer's breakpoints for good. So while debugging
is armed, `ThreadPoolExecutor.submit` (which `loop.run_in_executor` and asgiref use too)
carries the submitting thread's answer into the task, for the task's duration.
"""

from __future__ import annotations

import concurrent.futures
import typing as t

__all__ = ["carry_into_pool_tasks"]


def carry_into_pool_tasks(local: t.Any) -> t.Callable[[], None]:
    """Patch `ThreadPoolExecutor.submit`; `local.debugging` is the per-thread answer.

    Returns the function that undoes it.
    """
    executor = concurrent.futures.ThreadPoolExecutor
    original = executor.submit

    def submit(self: t.Any, fn: t.Callable[..., t.Any], /, *args: t.Any, **kwargs: t.Any) -> t.Any:
        debugging = getattr(local, "debugging", False)

        def task(*task_args: t.Any, **task_kwargs: t.Any) -> t.Any:
            before = getattr(local, "debugging", False)
            local.debugging = debugging
            try:
                return fn(*task_args, **task_kwargs)
            finally:
                local.debugging = before

        return original(self, task, *args, **kwargs)

    executor.submit = submit  # type: ignore[method-assign]

    def undo() -> None:
        if executor.submit is submit:
            executor.submit = original  # type: ignore[method-assign]

    return undo

"""The ``remotedbg`` command: its commands, their errors, and what `run` and `demo` serve.

Kept light: the commands load on first use, so that modules which only need the CLI's
error convention (``remotedbg.cli.errors``) do not pull in every command.
"""

from __future__ import annotations

import typing as t

__all__ = ["CLIError", "cli", "main"]


def __getattr__(name: str) -> t.Any:
    if name in __all__:
        from . import commands

        return getattr(commands, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    from .commands import main as run

    run()

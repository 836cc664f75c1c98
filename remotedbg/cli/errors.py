"""The CLI's error convention, apart from cli.py so that subcommand modules can use it.

A user's mistake is one line on stderr and exit code 2; never a traceback.
"""

from __future__ import annotations

import contextlib
import typing as t

import click

from ..errors import RemotedbgError

__all__ = ["CLIError", "one_line_errors"]


class CLIError(click.ClickException):
    """One line on stderr and exit code 2, the convention for bad usage or configuration."""

    exit_code = 2


@contextlib.contextmanager
def one_line_errors() -> t.Iterator[None]:
    """Turn remotedbg's own errors into the CLI convention."""
    try:
        yield
    except RemotedbgError as exc:
        raise CLIError(str(exc)) from None

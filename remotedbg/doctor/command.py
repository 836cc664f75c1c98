"""The ``remotedbg doctor`` command: run the checks, print one line each, exit 1 on failure."""

from __future__ import annotations

import click

from ..cli.errors import one_line_errors
from ..client.status import status_url
from .checkup import Probe, run_checks
from .report import render

__all__ = ["doctor_command"]


@click.command("doctor")
@click.argument("app", required=False)
@click.option(
    "--url",
    metavar="URL",
    help="The running app's URL, as seen from here (http://127.0.0.1:8000). If the debugger "
    "port is in use, its status page tells whether the app's own armed debugger holds it. "
    "[default: try http://127.0.0.1 on ports 5000, 8000 and 8080]",
)
@click.pass_context
def doctor_command(ctx: click.Context, app: str | None, url: str | None) -> None:
    """Check this machine and the REMOTEDBG_* settings for what would stop debugging.

    With APP (module:name, module or path/to/file.py[:name], as for `remotedbg run`), also
    check that it imports, and say whether it is a WSGI or an ASGI app, made with what.
    Prints one line per check; exits 1 if any failed (warnings do not fail). Settings come
    from the environment only: run it in the app's environment.
    If the debugger port is in use, it asks the app's status page (see --url), which, like
    any request from an allowlisted address, arms an app that is not armed yet.
    """
    if url is not None:
        with one_line_errors():
            status_url(url)
    # A Probe passed as the context object replaces the machine (tests); else it is this one.
    report = run_checks(app, ctx.find_object(Probe) or Probe(), url)
    for check in report.checks:
        # click.echo drops the colors when stdout is not a terminal.
        click.echo(render(check, color=True))
    click.echo(report.summary())
    if report.failed:
        ctx.exit(1)

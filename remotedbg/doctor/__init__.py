"""`remotedbg doctor [APP]`: what would keep debugging from working here, and the fix.

Each check is a plain function from explicit inputs (an environ mapping, a module dict, file
paths, a bind function) to one :class:`Check`, so each is tested without touching the
machine. :class:`Probe` bundles those inputs, defaulting to this process and machine;
:func:`run_checks` runs every check in order, and :data:`doctor_command` prints one line per
check and a summary, and exits 1 if any check failed. Warnings never fail, and appear
only when there is something to do.

A busy debugger port is usually the app itself, armed: the doctor then asks the app's
status page (``--url``, or this machine's usual app ports) whether remotedbg's own door
holds it, and reports it as fine if so.

The modules, one job each: :mod:`.report` (the Check and Report model, and each line),
:mod:`.settings_checks`, :mod:`.debugger_checks` (debugpy, Python, the port and the status
page), :mod:`.app_checks` (container, Flask, reloader, gevent, APP), :mod:`.checkup` (Probe
and run_checks) and :mod:`.command` (the click command). This package re-exports them.

Bad settings are reported as ``fail`` lines, all of them at once, never as a traceback;
the checks that need the settings are then skipped, and the rest still run.
"""

from __future__ import annotations

from .app_checks import (
    check_app,
    check_container,
    check_flask_debug,
    check_green_threads,
    check_reloader,
    detect_container,
    green_patching,
    gunicorn_worker_class,
)
from .checkup import Probe, run_checks
from .command import doctor_command
from .debugger_checks import (
    StatusAnswer,
    ask_status_pages,
    bind_port,
    check_debugpy,
    check_listener,
    check_port,
    check_python,
)
from .report import Check, Report, render
from .settings_checks import (
    check_allowlist,
    check_enable,
    check_proxies,
    check_settings,
    check_until,
)

__all__ = [
    "Check",
    "Probe",
    "Report",
    "StatusAnswer",
    "ask_status_pages",
    "bind_port",
    "check_allowlist",
    "check_app",
    "check_container",
    "check_debugpy",
    "check_enable",
    "check_flask_debug",
    "check_green_threads",
    "check_listener",
    "check_port",
    "check_proxies",
    "check_python",
    "check_reloader",
    "check_settings",
    "check_until",
    "detect_container",
    "doctor_command",
    "green_patching",
    "gunicorn_worker_class",
    "render",
    "run_checks",
]

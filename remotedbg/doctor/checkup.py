"""What the doctor looks at (:class:`Probe`), and every check run in order (:func:`run_checks`)."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import sys
import typing as t
from datetime import datetime, timezone

from ..cli.app_loader import LoadedApp, load_app
from ..client.status import fetch_status
from .app_checks import (
    CGROUP_FILE,
    CONTAINER_MARKERS,
    PROXY_MARKERS,
    check_app,
    check_container,
    check_flask_debug,
    check_green_threads,
    check_reloader,
    detect_container,
    find_first,
)
from .debugger_checks import (
    Fetch,
    ask_status_pages,
    bind_port,
    check_debugpy,
    check_listener,
    check_port,
    check_python,
)
from .report import Report
from .settings_checks import (
    check_allowlist,
    check_enable,
    check_proxies,
    check_settings,
    check_until,
)

if t.TYPE_CHECKING:
    from pathlib import Path

    from ..sansio.status_page import StatusPage

__all__ = ["LOCAL_APP_URLS", "NEEDS_SETTINGS", "Probe", "run_checks"]

#: Where an app usually answers on this machine, asked when no --url is given:
#: `remotedbg run` and `flask run` (5000), gunicorn (8000), waitress (8080).
LOCAL_APP_URLS = ("http://127.0.0.1:5000", "http://127.0.0.1:8000", "http://127.0.0.1:8080")
#: Seconds to wait for a status page.
STATUS_TIMEOUT = 2.0
#: The checks that need valid settings, named as the summary lists them when skipped.
NEEDS_SETTINGS = (
    "REMOTEDBG_ENABLE",
    "debugger port",
    "debugger address",
    "allowlist",
    "proxies",
    "REMOTEDBG_UNTIL",
    "container",
)


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _import_quietly(name: str) -> object:
    """Import `name`, with pydevd's notice about frozen modules off, as the app does.

    The notice is about breakpoints in the standard library, yet reads like a failure.
    """
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return importlib.import_module(name)


def _load_app(spec: str) -> LoadedApp:
    return load_app(spec)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _fetch_status(url: str) -> StatusPage:
    return fetch_status(url, timeout=STATUS_TIMEOUT, fallback="or give the app's URL with --url")


@dataclasses.dataclass(frozen=True)
class Probe:
    """Everything the checks look at; the defaults are this process and this machine."""

    environ: t.Mapping[str, str] = dataclasses.field(default_factory=lambda: os.environ)
    modules: t.Mapping[str, object] = dataclasses.field(default_factory=lambda: sys.modules)
    container_markers: t.Sequence[Path] = CONTAINER_MARKERS
    cgroup: Path = CGROUP_FILE
    proxy_markers: t.Sequence[Path] = PROXY_MARKERS
    bind: t.Callable[[str, int], None] = bind_port
    import_module: t.Callable[[str], object] = _import_quietly
    installed: t.Callable[[str], bool] = _installed
    #: The app APP names (a module name will do), or AppLoadError.
    load_app: t.Callable[[str], str | LoadedApp] = _load_app
    now: t.Callable[[], datetime] = _now
    #: The app's status page at a URL; its JSON object will do too.
    fetch_status: Fetch = _fetch_status
    python: tuple[int, int] = (sys.version_info[0], sys.version_info[1])
    platform: str = sys.platform


def run_checks(app: str | None, probe: Probe, url: str | None = None) -> Report:
    """Every check, in the order printed; APP is imported before gevent is looked for.

    `url` is the app's URL, whose status page is asked if the debugger port is busy;
    without it, :data:`LOCAL_APP_URLS` are.
    """
    settings, checks = check_settings(probe.environ)
    urls = LOCAL_APP_URLS if url is None else (url,)
    skipped: tuple[str, ...] = ()
    if settings is None:
        skipped = NEEDS_SETTINGS
    else:
        checks += [
            check_enable(settings),
            check_port(
                settings.dap_host,
                settings.dap_port,
                probe.bind,
                probe.platform,
                lambda: ask_status_pages(urls, settings.dap_port, probe.fetch_status),
                url_given=url is not None,
            ),
            check_listener(settings),
            check_allowlist(settings.allow),
            check_proxies(
                settings.allow, settings.trusted_proxies, find_first(probe.proxy_markers)
            ),
            check_until(settings.until, probe.now()),
            check_container(
                detect_container(probe.environ, probe.container_markers, probe.cgroup), settings
            ),
        ]
    if app is not None:
        checks.append(check_app(app, probe.load_app, probe.installed))
    checks += [
        check_debugpy(probe.import_module),
        check_python(probe.python, probe.environ),
        check_flask_debug(probe.environ),
        check_reloader(probe.environ),
        check_green_threads(probe.modules, probe.environ, probe.installed),
    ]
    return Report(tuple(checks), skipped)

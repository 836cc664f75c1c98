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

Bad settings are reported as ``fail`` lines, all of them at once, never as a traceback;
the checks that need the settings are then skipped, and the rest still run.
"""

from __future__ import annotations

import dataclasses
import errno
import importlib
import importlib.util
import inspect
import os
import shlex
import socket
import sys
import typing as t
from datetime import datetime, timezone
from pathlib import Path

import click

from ..cli.app_loader import load_app
from ..cli.errors import one_line_errors
from ..client.ide_config import fetch_status, status_url
from ..errors import AppLoadError, ConfigError, RemotedbgError
from ..settings import ENV_PREFIX, Settings

if t.TYPE_CHECKING:
    from ..sansio.addresses import AddressSet, IPNetwork

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

Status = t.Literal["ok", "warn", "fail"]

#: Public ranges wider than these (shorter prefixes) draw a warning.
WIDEST_PUBLIC_PREFIX = {4: 24, 6: 48}
#: Where a container leaves a mark on its file system.
CONTAINER_MARKERS = (Path("/.dockerenv"), Path("/run/.containerenv"))
CGROUP_FILE = Path("/proc/1/cgroup")
CGROUP_WORDS = ("docker", "kubepods", "containerd")
#: Main config files of reverse proxies (not their folders, which other packages create):
#: if one exists, a proxy likely runs here and forwards to the app.
PROXY_MARKERS = tuple(
    Path("/etc", name)
    for name in (
        "nginx/nginx.conf",
        "apache2/apache2.conf",
        "httpd/conf/httpd.conf",
        "caddy/Caddyfile",
        "haproxy/haproxy.cfg",
        "traefik/traefik.yml",
        "traefik/traefik.toml",
    )
)
#: Where an app usually answers on this machine, asked when no --url is given:
#: `remotedbg run` and `flask run` (5000), gunicorn (8000), waitress (8080).
LOCAL_APP_URLS = ("http://127.0.0.1:5000", "http://127.0.0.1:8000", "http://127.0.0.1:8080")
#: Seconds to wait for a status page.
STATUS_TIMEOUT = 2.0
#: What debugpy (pydevd) reads as true and false in its environment variables.
_PYDEVD_TRUE = ("yes", "true", "1")
_PYDEVD_FALSE = ("no", "false", "0")
#: Valid values standing in for a bad token or IDE address, so that, with the bad value set
#: aside, the next error is not "no token" about a token the user did set.
_STAND_INS = {
    "REMOTEDBG_TOKEN": "doctor-stand-in-Qm4Zt8Rk2Xv7Lp3Wn9Bc",
    "REMOTEDBG_IDE": "127.0.0.1:1",
}
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


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one check: `title` says what was found, `detail` the fix or a note."""

    status: Status
    title: str
    detail: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    """Every check's outcome, in order, and the checks skipped for want of valid settings."""

    checks: tuple[Check, ...]
    skipped: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return any(check.status == "fail" for check in self.checks)

    def summary(self) -> str:
        counts = dict.fromkeys(("ok", "warn", "fail"), 0)
        for check in self.checks:
            counts[check.status] += 1
        warnings = f"{counts['warn']} warning{'' if counts['warn'] == 1 else 's'}"
        if counts["fail"]:
            line = f"{counts['fail']} failed, {warnings}, {counts['ok']} ok: fix the failures above"
        else:
            line = f"no failures: {warnings}, {counts['ok']} ok"
        if self.skipped:
            line += f"; skipped until the settings load: {', '.join(self.skipped)}"
        return line


def bind_port(host: str, port: int) -> None:
    """Bind `host`:`port` as a listener would, without SO_REUSEADDR, and let go at once.

    Raises OSError (socket.gaierror if `host` does not resolve) when it cannot.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        sock.bind(address)


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _import_quietly(name: str) -> object:
    """Import `name`, with pydevd's notice about frozen modules off, as the app does.

    The notice is about breakpoints in the standard library, yet reads like a failure.
    """
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return importlib.import_module(name)


def _load_app_module(spec: str) -> str:
    return load_app(spec).module


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _fetch_status(url: str) -> t.Mapping[str, object]:
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
    load_app: t.Callable[[str], str] = _load_app_module
    now: t.Callable[[], datetime] = _now
    fetch_status: t.Callable[[str], t.Mapping[str, object]] = _fetch_status
    python: tuple[int, int] = (sys.version_info[0], sys.version_info[1])
    platform: str = sys.platform


# -- settings -------------------------------------------------------------------------


def load_all(environ: t.Mapping[str, str]) -> tuple[Settings | None, list[ConfigError]]:
    """The settings in `environ`, or every problem with them, not just the first.

    Settings.load stops at the first bad value, so each bad variable is set aside (or
    replaced by a valid stand-in) and the rest are loaded again, until they load.
    """
    env = {key: value for key, value in environ.items() if key.startswith(ENV_PREFIX)}
    errors: list[ConfigError] = []
    for _ in range(2 * len(env) + 1):
        try:
            settings = Settings.load(env)
        except ConfigError as exc:
            errors.append(exc)
            if exc.setting not in env:
                break
            stand_in = _STAND_INS.get(exc.setting)
            if stand_in is None or env[exc.setting] == stand_in:
                del env[exc.setting]
            else:
                env[exc.setting] = stand_in
            continue
        return (None if errors else settings), errors
    return None, errors


def check_settings(environ: t.Mapping[str, str]) -> tuple[Settings | None, list[Check]]:
    """The settings from ``REMOTEDBG_*`` in `environ` and one line, or one fail line per error."""
    settings, errors = load_all(environ)
    if settings is None:
        return None, [
            Check("fail", f"{exc.setting}={exc.value!r}: {exc.problem}", exc.fix) for exc in errors
        ]
    names = sorted(key for key in environ if key.startswith(ENV_PREFIX))
    detail = f"{', '.join(names)} set, the rest default" if names else "all defaults"
    return settings, [Check("ok", "settings from REMOTEDBG_* are valid", detail)]


def check_enable(settings: Settings) -> Check:
    """Whether the hook in the app is switched on by the environment."""
    if settings.enable:
        return Check(
            "ok",
            "REMOTEDBG_ENABLE is on",
            "the hook in your app arms the debugger for allowlisted clients",
        )
    return Check(
        "ok", "REMOTEDBG_ENABLE is off", "the hook in your app is off; `remotedbg run` turns it on"
    )


# -- the debugger -----------------------------------------------------------------------


def _accepts(function: object, parameter: str) -> bool:
    """Whether `function` takes `parameter`; True when its signature cannot be read."""
    if not callable(function):
        return False
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return True


def _missing_safety_parts(import_module: t.Callable[[str], object]) -> str | None:
    """What debugpy's pydevd lacks for remotedbg to keep its port closed, or None.

    The names are those the debugger checks when it starts (`missing_safety_parts`), read
    here from pydevd's classes. debugpy's server module goes first: it puts debugpy's own
    pydevd on the path, ahead of any other (pydevd-pycharm has one too).
    """
    from ..debuggee.debugpy_backend import missing_safety_parts_of

    try:
        import_module("debugpy.server.api")
        pydevd = import_module("pydevd")
        api = import_module("_pydevd_bundle.pydevd_api")
    except Exception as exc:  # a part that does not import is as missing as an absent one
        return f"an importable pydevd ({type(exc).__name__}: {exc})"
    return missing_safety_parts_of(
        getattr(pydevd, "PyDB", None),
        getattr(pydevd, "_Authentication", None),
        getattr(api, "PyDevdAPI", None),
    )


def check_debugpy(import_module: t.Callable[[str], object]) -> Check:
    """debugpy imports, runs in-process, can keep its own port closed, and stops on errors."""
    try:
        debugpy = import_module("debugpy")
    except ImportError as exc:
        return Check("fail", f"debugpy is not importable ({exc})", "pip install debugpy")
    except Exception as exc:  # a broken install must be a line, not a traceback
        return Check(
            "fail",
            f"importing debugpy raised {type(exc).__name__}: {exc}",
            "reinstall it: pip install --force-reinstall debugpy",
        )
    name = f"debugpy {getattr(debugpy, '__version__', '(unknown version)')}"
    if not _accepts(getattr(debugpy, "listen", None), "in_process_debug_adapter"):
        return Check(
            "fail",
            f"{name} cannot run its debug adapter in-process, so arming would fail",
            "pip install -U debugpy",
        )
    missing = _missing_safety_parts(import_module)
    if missing is not None:
        return Check(
            "fail",
            f"{name} lacks {missing}, which remotedbg needs to keep debugpy's own port "
            "closed, so arming is refused",
            "install a debugpy this remotedbg supports",
        )
    if not callable(getattr(debugpy, "trigger_exception_handler", None)):
        return Check(
            "warn",
            f"{name} lacks trigger_exception_handler",
            "unhandled view errors won't stop the IDE; pip install -U debugpy",
        )
    return Check("ok", name)


def check_python(version: tuple[int, int], environ: t.Mapping[str, str]) -> Check:
    """What this Python version means for the cost of a request while debugging is armed."""
    name = f"Python {version[0]}.{version[1]}"
    if version < (3, 12):
        return Check(
            "ok",
            name,
            "debugpy traces with sys.settrace; remotedbg traces only the debugging client's "
            "requests, so other visitors keep their speed",
        )
    raw = environ.get("PYDEVD_USE_SYS_MONITORING", "")
    value = raw.lower()
    if value and value not in _PYDEVD_TRUE + _PYDEVD_FALSE:
        return Check(
            "fail",
            f"PYDEVD_USE_SYS_MONITORING={raw!r} is not a value debugpy knows, so arming fails",
            "set it to 1 or 0, or unset it",
        )
    if value in _PYDEVD_FALSE:
        return Check(
            "ok",
            name,
            f"PYDEVD_USE_SYS_MONITORING={raw}: debugpy traces with sys.settrace, as before "
            "3.12; remotedbg traces only the debugging client's requests",
        )
    return Check(
        "ok",
        name,
        "note: debugpy uses sys.monitoring; while breakpoints are set, code that only other "
        "visitors run costs them about 60 ns per Python call (docs: performance)",
    )


def _where(host: str, port: int | str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StatusAnswer:
    """What one app's status page said: its JSON object, or the `problem` in getting it."""

    url: str
    status: t.Mapping[str, object] | None = None
    problem: str = ""

    def holds(self, port: int) -> bool:
        """Whether this app's armed door is the listener on `port`."""
        return (
            self.status is not None
            and self.status.get("armed") is True
            and self.status.get("dap_port") == port
        )

    def said(self) -> str:
        """What the answer was, in a few words, for a line that it did not settle."""
        if self.status is None:
            return self.problem
        found = ", ".join(
            f"{key} {self.status.get(key)!r}"
            for key in ("armed", "dap_port", "error")
            if self.status.get(key) is not None
        )
        return f"{self.url} says {found}"


def ask_status_pages(
    urls: t.Sequence[str], port: int, fetch: t.Callable[[str], t.Mapping[str, object]]
) -> tuple[StatusAnswer, ...]:
    """Each app's status page at `urls`, asked in turn until one's armed door holds `port`.

    Like any request from an allowlisted address, asking arms an app that is not armed.
    """
    answers = []
    for url in urls:
        try:
            answer = StatusAnswer(url=status_url(url), status=fetch(url))
        except RemotedbgError as exc:
            answer = StatusAnswer(url=url, problem=str(exc))
        answers.append(answer)
        if answer.holds(port):
            break
    return tuple(answers)


def _no_answers() -> tuple[StatusAnswer, ...]:
    return ()


def check_port(
    host: str,
    port: int,
    bind: t.Callable[[str, int], None],
    platform: str = sys.platform,
    answers: t.Callable[[], t.Sequence[StatusAnswer]] = _no_answers,
    *,
    url_given: bool = False,
) -> Check:
    """The debugger's address can be listened on: bound by no one, and this machine's own.

    A port in use is fine when remotedbg's own armed door holds it: `answers` asks the
    status pages (only then), and `url_given` says whether the user named the app's URL.
    """
    where = _where(host, port)
    if port == 0:
        return Check(
            "ok",
            "REMOTEDBG_DAP_PORT=0: a free port is picked when arming",
            "the status page /__remotedbg__ tells which",
        )
    try:
        bind(host, port)
    except socket.gaierror as exc:
        return Check(
            "fail",
            f"REMOTEDBG_DAP_HOST={host!r} does not resolve ({exc.strerror or exc})",
            "use an IP address of this machine, like 127.0.0.1",
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            return _port_in_use(port, where, platform, answers(), url_given=url_given)
        if exc.errno == errno.EADDRNOTAVAIL:
            return Check(
                "fail",
                f"cannot listen on {where}: {host} is not an address of this machine",
                "set REMOTEDBG_DAP_HOST to one of its addresses, or to 127.0.0.1",
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return Check(
                "fail",
                f"no permission to listen on {where} ({reason})",
                "pick a REMOTEDBG_DAP_PORT above 1023",
            )
        return Check(
            "fail",
            f"cannot listen on {where} ({reason})",
            "check REMOTEDBG_DAP_HOST and REMOTEDBG_DAP_PORT",
        )
    return Check("ok", f"debugger port {where} is free")


def _port_in_use(
    port: int,
    where: str,
    platform: str,
    answers: t.Sequence[StatusAnswer],
    *,
    url_given: bool,
) -> Check:
    """A busy debugger port: fine if an app's status page says its armed door holds it."""
    for answer in answers:
        status = answer.status
        if status is not None and answer.holds(port):
            until = status.get("expires_at")
            return Check(
                "ok",
                f"debugger port {where} is in use by remotedbg's own door, "
                + (f"armed until {until}" if until else "armed"),
                f"{answer.url} says so (pid {status.get('pid')})",
            )
    finder = (
        f"ss -ltnp 'sport = :{port}'"
        if platform.startswith("linux")
        else f"lsof -nP -iTCP:{port} -sTCP:LISTEN"
    )
    detail = f"find who holds it with `{finder}`, or pick another REMOTEDBG_DAP_PORT"
    said = [answer.said() for answer in answers if url_given or answer.status is not None]
    if said:
        detail += f"; no status page says remotedbg holds it ({'; '.join(said)})"
    if not url_given:
        detail += (
            "; if your app holds it, give the app's URL with --url so the doctor can ask "
            "its status page"
        )
    return Check("fail", f"debugger port {port} is in use ({where})", detail)


def check_listener(settings: Settings) -> Check:
    """Who can reach the debugger address (the no-token case is already a settings error)."""
    port: int | str = settings.dap_port or "<port>"
    where = _where(settings.dap_host, port)
    loopback_allowed = "127.0.0.1" in settings.allow or "::1" in settings.allow
    if settings.dap_host_is_loopback and settings.backend == "debugpy" and not loopback_allowed:
        return Check(
            "warn",
            f"the IDE attaches to {where}, but REMOTEDBG_ALLOW holds no loopback address",
            "connections to a loopback port, SSH tunnels included, come from 127.0.0.1, "
            "so the bridge refuses them all: add 127.0.0.1 to REMOTEDBG_ALLOW",
        )
    if settings.dap_host_is_loopback:
        return Check(
            "ok",
            f"the IDE attaches to {where}, from this machine only",
            f"from elsewhere, tunnel it: ssh -L {port}:127.0.0.1:{port} <this server>",
        )
    return Check(
        "ok",
        f"the IDE attaches to {where} with the token",
        "anyone who reaches it and holds REMOTEDBG_TOKEN runs code: keep the token secret",
    )


# -- who may arm ------------------------------------------------------------------------


def _wide_public(networks: t.Iterable[IPNetwork]) -> list[IPNetwork]:
    return [
        net
        for net in networks
        if net.is_global and net.prefixlen < WIDEST_PUBLIC_PREFIX[net.version]
    ]


def check_allowlist(allow: AddressSet) -> Check:
    """The allowlist holds no public range wider than /24 (IPv4) or /48 (IPv6)."""
    wide = _wide_public(allow)
    if wide:
        return Check(
            "warn",
            f"REMOTEDBG_ALLOW has wide public ranges: {', '.join(map(str, wide))}",
            "anyone there can arm the debugger; list the developers' addresses, "
            "or ranges of /24 (IPv4) or /48 (IPv6) at most",
        )
    return Check("ok", f"allowlist: {allow}")


def find_first(paths: t.Iterable[Path]) -> Path | None:
    """The first of `paths` that exists."""
    for path in paths:
        try:
            if path.exists():
                return path
        except OSError:
            continue
    return None


def check_proxies(allow: AddressSet, trusted: AddressSet, local_proxy: Path | None) -> Check:
    """Forwarding headers are believed from narrow ranges only, and a local proxy is noticed.

    `local_proxy` is a sign that a reverse proxy runs on this machine (its config file).
    Requests cannot be seen from here, so a loopback allowlist entry with no trusted proxy
    gets a conditional warning only when such a sign exists.
    """
    if trusted.covers_everything():
        return Check(
            "fail",
            f"REMOTEDBG_TRUSTED_PROXIES={trusted} trusts every address",
            "anyone who reaches the app can claim an allowlisted address and arm; "
            "list only your reverse proxies' addresses",
        )
    wide = _wide_public(trusted)
    if wide:
        return Check(
            "warn",
            f"REMOTEDBG_TRUSTED_PROXIES has wide public ranges: {', '.join(map(str, wide))}",
            "anyone there can claim any client address, an allowlisted one too; "
            "list only your reverse proxies' addresses",
        )
    if trusted:
        return Check("ok", f"forwarding headers are believed only from {trusted}")
    loopback = "127.0.0.1" in allow or "::1" in allow
    if loopback and local_proxy is not None:
        return Check(
            "warn",
            f"loopback is allowlisted, no proxy is trusted, and {local_proxy} exists",
            "if a reverse proxy on this box forwards to the app, every request comes from "
            "127.0.0.1: requests with forwarding headers never arm unless the proxy is in "
            "REMOTEDBG_TRUSTED_PROXIES (set it to 127.0.0.1,::1 and allowlist your own address)",
        )
    return Check("ok", "no trusted proxies: requests with forwarding headers never arm")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value][:2]
    return " ".join(shown) or "0s"


def check_until(until: datetime | None, now: datetime) -> Check:
    """REMOTEDBG_UNTIL, if set, is still ahead."""
    if until is None:
        return Check("ok", "no REMOTEDBG_UNTIL deadline", "each armed window still closes itself")
    stamp = until.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    if until <= now:
        return Check(
            "fail",
            f"REMOTEDBG_UNTIL={stamp} has passed: nothing will arm",
            "move it forward or unset it",
        )
    left = _duration((until - now).total_seconds())
    return Check("ok", f"arming allowed until {stamp} (in {left})")


# -- where the app runs -----------------------------------------------------------------


def detect_container(
    environ: t.Mapping[str, str],
    markers: t.Sequence[Path] = CONTAINER_MARKERS,
    cgroup: Path = CGROUP_FILE,
) -> str | None:
    """Why this looks like a container (a marker file, the cgroup, Kubernetes), or None."""
    marker = find_first(markers)
    if marker is not None:
        return f"{marker} exists"
    try:
        text = cgroup.read_text(errors="replace")
    except OSError:
        text = ""
    for word in CGROUP_WORDS:
        if word in text:
            return f"{cgroup} mentions {word}"
    if environ.get("KUBERNETES_SERVICE_HOST"):
        return "KUBERNETES_SERVICE_HOST is set"
    return None


def check_container(container: str | None, settings: Settings) -> Check:
    """Inside a container, a loopback debugger address cannot be reached from the IDE."""
    if container is None:
        return Check("ok", "not in a container")
    where = _where(settings.dap_host, settings.dap_port)
    if settings.dap_host_is_loopback:
        return Check(
            "warn",
            f"in a container ({container}) with the debugger on {where}",
            "the IDE outside the container cannot reach 127.0.0.1 inside it: publish the port "
            "and use REMOTEDBG_DAP_HOST=0.0.0.0 with a token, or kubectl port-forward",
        )
    return Check(
        "ok",
        f"in a container ({container}) with the debugger on {where}",
        f"publish port {settings.dap_port or '(the one the status page shows)'} to reach it "
        "from the IDE",
    )


def check_flask_debug(environ: t.Mapping[str, str]) -> Check:
    """FLASK_DEBUG is off (read the way Flask reads it)."""
    raw = environ.get("FLASK_DEBUG", "")
    if raw and raw.lower() not in ("0", "false", "no"):
        return Check(
            "warn",
            f"FLASK_DEBUG={raw}: Flask's debug mode is on",
            "under `flask run` Werkzeug's debugger is a second code-execution door and its "
            "reloader makes two processes; unset FLASK_DEBUG, or serve with `remotedbg run`",
        )
    return Check("ok", "FLASK_DEBUG is off")


def check_reloader(environ: t.Mapping[str, str]) -> Check:
    """This is not a child process of Werkzeug's reloader."""
    if "WERKZEUG_RUN_MAIN" in environ:
        return Check(
            "warn",
            "running inside Werkzeug's reloader child (WERKZEUG_RUN_MAIN is set)",
            "each reload restarts the process and drops the debugger; run without the "
            "reloader (`flask run --no-reload`, or `remotedbg run`)",
        )
    return Check("ok", "not inside Werkzeug's reloader")


def _asks(module: object, query: str, *args: str) -> bool:
    """What `module`'s own `query` answers; False when it has none, or it breaks."""
    function = getattr(module, query, None)
    if not callable(function):
        return False
    try:
        return bool(function(*args))
    except Exception:  # a query that breaks tells nothing
        return False


def green_patching(modules: t.Mapping[str, object]) -> str | None:
    """Which of gevent and eventlet has monkey-patched the process of `modules`, or None.

    The questions the debugger asks before it arms (`remotedbg.debuggee.gate.monkey_patched`).
    """
    if _asks(modules.get("gevent.monkey"), "is_anything_patched"):
        return "gevent"
    patcher = modules.get("eventlet.patcher")
    if any(_asks(patcher, "is_monkey_patched", name) for name in ("thread", "socket")):
        return "eventlet"
    return None


def gunicorn_worker_class(environ: t.Mapping[str, str]) -> str | None:
    """The worker class that ``GUNICORN_CMD_ARGS`` in `environ` chooses, or None."""
    try:
        words = shlex.split(environ.get("GUNICORN_CMD_ARGS", ""))
    except ValueError:  # unbalanced quotes: gunicorn cannot read it either
        return None
    chosen = None
    for index, word in enumerate(words):
        if word in ("-k", "--worker-class"):
            chosen = words[index + 1] if index + 1 < len(words) else None
        elif word.startswith("--worker-class="):
            chosen = word.partition("=")[2]
        elif word.startswith("-k") and not word.startswith("--"):
            chosen = word[2:]
    return chosen


#: Why a gevent or eventlet process never arms, and what to use instead.
_GREEN_WHY = "a breakpoint would freeze the whole worker, and GEVENT_SUPPORT does not change that"
_GREEN_FIX = "debug with a thread-based worker instead: gunicorn -k gthread, or remotedbg run"


def check_green_threads(
    modules: t.Mapping[str, object],
    environ: t.Mapping[str, str],
    installed: t.Callable[[str], bool],
) -> Check:
    """No gevent or eventlet monkey-patching, under which the debugger refuses to arm.

    Seen here: patching done by APP (imported before this check), a gunicorn worker class
    in ``GUNICORN_CMD_ARGS``, and ``GEVENT_SUPPORT``, a sign of gevent workers.
    """
    library = green_patching(modules)
    if library is not None:
        return Check(
            "fail",
            f"{library} has monkey-patched this process, so the debugger will not arm in it",
            f"{_GREEN_WHY}; {_GREEN_FIX}, and leave the app's own monkey-patching out "
            "while debugging",
        )
    worker = gunicorn_worker_class(environ)
    if worker is not None and any(name in worker.lower() for name in ("gevent", "eventlet")):
        return Check(
            "fail",
            f"GUNICORN_CMD_ARGS chooses gunicorn's {worker} worker, where the debugger will "
            "not arm",
            f"{_GREEN_WHY}; {_GREEN_FIX}",
        )
    support = environ.get("GEVENT_SUPPORT", "")
    if support.lower() in _PYDEVD_TRUE:
        return Check(
            "warn",
            f"GEVENT_SUPPORT={support} is set, as for debugging under gevent",
            "if the app runs under gevent or eventlet (gunicorn -k gevent), the debugger will "
            f"not arm there: {_GREEN_WHY}; {_GREEN_FIX}",
        )
    present = [name for name in ("gevent", "eventlet") if name in modules or installed(name)]
    if present:
        return Check(
            "ok",
            f"{' and '.join(present)} {'is' if len(present) == 1 else 'are'} installed, "
            "but nothing is monkey-patched here",
            f"if your server patches with it (gunicorn -k gevent), the debugger will not arm "
            f"there; {_GREEN_FIX}",
        )
    return Check("ok", "no gevent or eventlet monkey-patching")


def check_app(spec: str, load: t.Callable[[str], str]) -> Check:
    """APP imports and names a WSGI app; `load` returns its module name or raises AppLoadError."""
    try:
        module = load(spec)
    except AppLoadError as exc:
        title, _, fix = str(exc).partition("; ")
        return Check("fail", title, fix)
    except SystemExit as exc:
        return Check(
            "fail",
            f"APP {spec!r}: importing it called sys.exit({exc.code!r})",
            "import the app without side effects; run it under `if __name__ == '__main__':`",
        )
    except Exception as exc:  # whatever the app does, the doctor answers in one line
        return Check("fail", f"APP {spec!r}: loading raised {type(exc).__name__}: {exc}")
    return Check("ok", f"APP {spec!r} loads", f"module {module}")


# -- all of it ----------------------------------------------------------------------------


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
        checks.append(check_app(app, probe.load_app))
    checks += [
        check_debugpy(probe.import_module),
        check_python(probe.python, probe.environ),
        check_flask_debug(probe.environ),
        check_reloader(probe.environ),
        check_green_threads(probe.modules, probe.environ, probe.installed),
    ]
    return Report(tuple(checks), skipped)


_STYLES: dict[str, dict[str, t.Any]] = {
    "ok": {"fg": "green"},
    "warn": {"fg": "yellow", "bold": True},
    "fail": {"fg": "red", "bold": True},
}


def render(check: Check, *, color: bool = False) -> str:
    """One line: the status padded to four columns, what was found, then ``—`` and the fix."""
    label = f"{check.status:<4}"
    if color:
        label = click.style(label, **_STYLES[check.status])
    line = f"{label} {check.title}"
    return f"{line} — {check.detail}" if check.detail else line


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
    check that it imports. Prints one line per check; exits 1 if any failed (warnings do
    not fail). Settings come from the environment only: run it in the app's environment.
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

"""The doctor's checks of where and how the app runs: container, Flask, reloader, gevent, APP."""

from __future__ import annotations

import shlex
import typing as t
from pathlib import Path

from ..errors import AppLoadError
from .debugger_checks import PYDEVD_TRUE
from .report import Check, host_port

if t.TYPE_CHECKING:
    from ..cli.app_loader import LoadedApp
    from ..settings import Settings

__all__ = [
    "CGROUP_FILE",
    "CONTAINER_MARKERS",
    "PROXY_MARKERS",
    "check_app",
    "check_container",
    "check_flask_debug",
    "check_green_threads",
    "check_reloader",
    "detect_container",
    "find_first",
    "green_patching",
    "gunicorn_worker_class",
]

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


def find_first(paths: t.Iterable[Path]) -> Path | None:
    """The first of `paths` that exists."""
    for path in paths:
        try:
            if path.exists():
                return path
        except OSError:
            continue
    return None


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
    where = host_port(settings.dap_host, settings.dap_port)
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
    if support.lower() in PYDEVD_TRUE:
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


def check_app(
    spec: str,
    load: t.Callable[[str], str | LoadedApp],
    installed: t.Callable[[str], bool] | None = None,
) -> Check:
    """APP imports and names a WSGI or ASGI app: which, made with what, and already hooked?

    `load` returns the loaded app (or only its module name) or raises AppLoadError, whose
    line is the one `remotedbg run` would print; `installed` tells whether uvicorn is
    there to serve an ASGI app.
    """
    try:
        loaded = load(spec)
    except AppLoadError as exc:
        return Check("fail", exc.title, exc.fix or "")
    except SystemExit as exc:
        return Check(
            "fail",
            f"APP {spec!r}: importing it called sys.exit({exc.code!r})",
            "import the app without side effects; run it under `if __name__ == '__main__':`",
        )
    except Exception as exc:  # whatever the app does, the doctor answers in one line
        return Check("fail", f"APP {spec!r}: loading raised {type(exc).__name__}: {exc}")
    if isinstance(loaded, str):
        return Check("ok", f"APP {spec!r} loads", f"module {loaded}")
    return _loaded_app(spec, loaded, installed)


def _loaded_app(spec: str, loaded: LoadedApp, installed: t.Callable[[str], bool] | None) -> Check:
    from ..cli.app_kind import AppKind, installed_hook

    title = f"APP {spec!r} loads: {loaded.shape.label}"
    asgi = loaded.kind is AppKind.ASGI
    server = "uvicorn" if asgi else "Werkzeug"
    notes = [f"module {loaded.module}"]
    if asgi and installed is not None and not installed("uvicorn"):
        notes.append(
            "`remotedbg run` serves it with uvicorn, which is not installed: "
            "pip install 'remotedbg[asgi]'"
        )
        return Check("warn", title, "; ".join(notes))
    notes.append(f"`remotedbg run` serves it with {server}")
    hook = installed_hook(loaded.app)
    if hook is not None:
        notes.append(
            f"it installs remotedbg's hook itself ({hook}): under `remotedbg run` that inner "
            "hook steps aside, and run's own handles each request"
        )
    return Check("ok", title, "; ".join(notes))

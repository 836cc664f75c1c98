"""The doctor's checks of the debugger: debugpy, Python, and its port and who can reach it.

A busy debugger port is usually the app itself, armed: :func:`check_port` then asks the
app's status page (:func:`ask_status_pages`) whether remotedbg's own door holds it.
"""

from __future__ import annotations

import dataclasses
import errno
import inspect
import socket
import sys
import typing as t

from ..client.status import status_url
from ..errors import RemotedbgError
from ..sansio.status_page import StatusPage
from .report import Check, host_port

if t.TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "PYDEVD_FALSE",
    "PYDEVD_TRUE",
    "StatusAnswer",
    "ask_status_pages",
    "bind_port",
    "check_debugpy",
    "check_listener",
    "check_port",
    "check_python",
]

#: What debugpy (pydevd) reads as true and false in its environment variables.
PYDEVD_TRUE = ("yes", "true", "1")
PYDEVD_FALSE = ("no", "false", "0")


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
    if value and value not in PYDEVD_TRUE + PYDEVD_FALSE:
        return Check(
            "fail",
            f"PYDEVD_USE_SYS_MONITORING={raw!r} is not a value debugpy knows, so arming fails",
            "set it to 1 or 0, or unset it",
        )
    if value in PYDEVD_FALSE:
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


#: A status page fetcher: the page, or its JSON object (read by the page's schema).
Fetch = t.Callable[[str], StatusPage | t.Mapping[str, object]]


@dataclasses.dataclass(frozen=True, slots=True)
class StatusAnswer:
    """What one app's status page said: the page, or the `problem` in getting it."""

    url: str
    status: StatusPage | None
    problem: str

    def __init__(
        self,
        *,
        url: str,
        status: StatusPage | t.Mapping[str, object] | None = None,
        problem: str = "",
    ) -> None:
        # A JSON object is read as the page it is, so that every answer compares alike;
        # a malformed one raises MalformedStatusPage.
        if status is not None and not isinstance(status, StatusPage):
            status = StatusPage.from_mapping(status)
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "problem", problem)

    def holds(self, port: int) -> bool:
        """Whether this app's armed door is the listener on `port`."""
        return self.status is not None and self.status.armed and self.status.dap_port == port

    def said(self) -> str:
        """What the answer was, in a few words, for a line that it did not settle."""
        if self.status is None:
            return self.problem
        found = ", ".join(
            f"{key} {value!r}"
            for key in ("armed", "dap_port", "error")
            if (value := getattr(self.status, key)) is not None
        )
        return f"{self.url} says {found}"


def ask_status_pages(urls: t.Sequence[str], port: int, fetch: Fetch) -> tuple[StatusAnswer, ...]:
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
    where = host_port(host, port)
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
            until = status.expires_at
            return Check(
                "ok",
                f"debugger port {where} is in use by remotedbg's own door, "
                + (f"armed until {until}" if until else "armed"),
                f"{answer.url} says so (pid {status.pid})",
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
    where = host_port(settings.dap_host, port)
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

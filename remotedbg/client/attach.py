"""`remotedbg attach URL`: the laptop side, so the IDE config stays `127.0.0.1:5678`, no secrets.

It arms the remote debugger (a GET of ``URL/__remotedbg__`` from this allowlisted machine),
then serves a local DAP port: 5678, or when that is taken (the server's own debugger, when
the server runs on this machine too) the first free one of :data:`FALLBACK_PORTS`, and it
says which, with the command that writes the IDE configuration for it. An explicit
``--local-port`` is used as given or not at all. Each IDE connection is relayed to the
remote bridge, and its ``attach`` request gains the token (from ``--token`` or
``REMOTEDBG_TOKEN``, never from a project file) and, when the IDE sent none,
``pathMappings`` from the server's ``app_root`` to the local project. Nothing else is
touched: after ``attach``, frames pass through as they are.

What is guarded, because the token opens a code-execution door:

- **Where the token goes.** The bridge is reached on the URL's host, or with ``--ssh`` on
  the server's loopback through the tunnel; the status page only confirms it. A page that
  names any other host (a man in the middle on plain HTTP, a compromised proxy) is refused
  before anything connects: the status page does not choose where the token is sent.
- **Who may use the relay.** It adds the token for whoever connects to the local port, so
  on Linux each connection's owner is looked up (:mod:`remotedbg.door.peer_owner`) and only
  this user's are relayed; when the owner cannot be found the connection is refused. macOS
  and Windows have no cheap equivalent, so there the relay is for single-user machines:
  any local process that connects gets a session, and the start-up text says so.
- **Stopping.** Ctrl-C and SIGTERM end it at any moment with one line, the ssh tunnel
  closed and exit code 0: stopping is what was asked for, not a failure.
- **The window's end.** At ``expires_at`` no new IDE connection is accepted, but sessions
  already relaying run on (for at most :data:`EXPIRY_GRACE` seconds) until the server
  ends them, so the IDE gets the server's own "the window ended" and ``terminated``.
- **A refusal it can explain.** The server's "wrong token" advice is written for an IDE
  that sends the token itself; through the relay, the IDE is told where the relay's token
  came from instead (:func:`explain_refusal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import typing as t
import urllib.parse
from datetime import datetime, timezone

from ..door.peer_owner import loopback_peer_uid, owner_known_here
from ..door.session import close_writer, nodelay
from ..errors import ProtocolError, RemotedbgError
from ..sansio.dap_codec import Decoder, Request, Response, encode, frame, parse_message

if t.TYPE_CHECKING:
    from types import FrameType

__all__ = [
    "DEFAULT_LOCAL_PORT",
    "FALLBACK_PORTS",
    "AttachError",
    "Listener",
    "Remote",
    "attach_main",
    "explain_refusal",
    "open_listener",
    "relay_config_command",
    "remote_from_status",
    "rewrite_attach",
]

#: The local port the relay listens on unless told otherwise: what IDE configurations use.
DEFAULT_LOCAL_PORT = 5678
#: Where the relay listens when the default is taken, tried in order: the same ports every
#: time, so a configuration written for one run fits the next. 5679 is left out: it is
#: PyCharm's Debug Server port, and debugpy's behind ``remotedbg bridge`` in the docs.
FALLBACK_PORTS = range(5680, 5700)

#: Bodies up to this size are parsed on the way back, to notice the attach response.
_PEEK_LIMIT = 64 * 1024
_READ_SIZE = 256 * 1024
#: After the local clock ends the window, how long sessions may run until the server ends
#: them (the server's clock, and a whole-second ``expires_at``, may be a little behind).
EXPIRY_GRACE = 15.0
#: How long a refused connection has to send its first request, to be answered with why.
_REFUSAL_WAIT = 2.0
_WILDCARDS = ("0.0.0.0", "::", "")
#: Names of this machine's own loopback: the same host, whichever the URL and page use.
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class AttachError(RemotedbgError):
    """A failure `remotedbg attach` reports in one line, with exit code 2."""


@dataclasses.dataclass(frozen=True)
class Remote:
    """What the status page said, and where the bridge is reached from here."""

    host: str
    port: int
    app_root: str
    expires_at: float
    token_required: bool


def _is_loopback(host: str) -> bool:
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_key(host: str) -> str:
    """A host as compared: names without case or a final dot, addresses in one spelling."""
    name = host.strip().strip("[]").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def _same_host(a: str, b: str) -> bool:
    key_a, key_b = _host_key(a), _host_key(b)
    return key_a == key_b or (key_a in _LOOPBACK_NAMES and key_b in _LOOPBACK_NAMES)


def _parse_expiry(text: object) -> float:
    if not isinstance(text, str):
        raise AttachError("the status page gave no expires_at; upgrade remotedbg on the server")
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _bridge_host(page_host: str, url_host: str, port: int, *, ssh: bool) -> str:
    """Where the bridge is reached: never a host the status page alone chose.

    Without --ssh, from here; with it, from the server's end of the tunnel.
    """
    if page_host in _WILDCARDS:
        # Listening everywhere: through a tunnel, the server's own loopback is the way in;
        # without one, the host the app was reached at.
        return "127.0.0.1" if ssh else url_host
    if _is_loopback(page_host):
        if ssh:
            return page_host  # the server's loopback, at the far end of the tunnel
        if not _is_loopback(url_host):
            raise AttachError(
                f"the debugger listens on the server's loopback ({page_host}:{port}), which "
                "this machine cannot reach; add --ssh user@server to tunnel to it"
            )
    if _same_host(page_host, url_host):
        return page_host if _is_loopback(url_host) else url_host
    raise AttachError(
        f"the status page puts the debugger on {page_host}, not on the URL's host {url_host}; "
        f"the token was not sent. Attach with a URL on {page_host} if that is the same "
        f"server, or set the server's REMOTEDBG_DAP_HOST to {url_host} (or 127.0.0.1 and use "
        "--ssh); if neither fits, something between you and the server rewrote the page"
    )


def remote_from_status(url: str, status: t.Mapping[str, t.Any], *, ssh: bool) -> Remote:
    """Where to reach the bridge: the URL's host (or the tunnel), as the status page confirms.

    Raises AttachError when the page names another host: the token goes nowhere else.
    """
    if not status.get("armed"):
        reason = status.get("error") or "the armed window could not be opened"
        raise AttachError(f"the server did not arm the debugger: {reason}")
    port = int(status.get("dap_port", 0))
    url_host = urllib.parse.urlsplit(url).hostname or ""
    host = _bridge_host(str(status.get("dap_host", "")), url_host, port, ssh=ssh)
    return Remote(
        host=host,
        port=port,
        app_root=str(status["app_root"]),
        expires_at=_parse_expiry(status.get("expires_at")),
        token_required=bool(status.get("token_required")),
    )


def _here(host: str) -> bool:
    """Whether `host` is this machine: loopback, or an address of one of its interfaces."""
    if _is_loopback(host):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(address), 0))  # only an address of this machine can be bound
        except OSError:
            return False
    return True


class Listener(t.NamedTuple):
    """The relay's listening socket on 127.0.0.1, its port, and why not the default one."""

    sock: socket.socket
    port: int
    #: Why the relay is not on :data:`DEFAULT_LOCAL_PORT`, or None.
    moved: str | None


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if os.name == "posix" and sys.platform != "cygwin":
            # As asyncio does: a relay restarted at once may bind past its old connections.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(100)
    except OSError:
        sock.close()
        raise
    return sock


def open_listener(port: int | None, door: tuple[str, int] | None = None) -> Listener:
    """Listen on 127.0.0.1 at `port`, or with None at the default port or else a free one.

    `door` is the server's debugger when it is on this machine: the relay never takes its
    port (on macOS binding 127.0.0.1 beside a wildcard listener can succeed, and the relay
    would then shadow the door it relays to). An explicit `port` that cannot be had raises
    AttachError naming ``--local-port``; with None, the ports tried are the default, then
    :data:`FALLBACK_PORTS`, then any the system gives.
    """
    leave_out = "or leave it out and remotedbg attach picks a free one"
    if port is not None:
        if door is not None and port == door[1]:
            raise AttachError(
                f"--local-port {port} is the server's own debugger, on this machine "
                f"({door[0]}:{port}); choose another --local-port, {leave_out}"
            )
        try:
            sock = _bind(port)
        except OSError as exc:
            raise AttachError(
                f"--local-port {port}: cannot listen on 127.0.0.1:{port} "
                f"({exc.strerror or exc}); choose another --local-port, {leave_out}"
            ) from None
        return Listener(sock, int(sock.getsockname()[1]), None)
    if door is not None and door[1] == DEFAULT_LOCAL_PORT:
        why = (
            f"port {DEFAULT_LOCAL_PORT} is the server's own debugger, on this machine "
            f"({door[0]}:{DEFAULT_LOCAL_PORT})"
        )
    else:
        why = f"port {DEFAULT_LOCAL_PORT} is taken on this machine"
    for candidate in (DEFAULT_LOCAL_PORT, *FALLBACK_PORTS, 0):
        if door is not None and candidate == door[1]:
            continue
        try:
            sock = _bind(candidate)
        except OSError:
            continue
        chosen = int(sock.getsockname()[1])
        return Listener(sock, chosen, None if chosen == DEFAULT_LOCAL_PORT else why)
    raise AttachError("cannot listen on any port of 127.0.0.1; pass --local-port")


def relay_config_command(port: int) -> str:
    """The command that writes the VS Code configuration for a relay on `port`."""
    option = "" if port == DEFAULT_LOCAL_PORT else f" --port {port}"
    return f"remotedbg config vscode --relay{option} --write"


def _local_root(given: str | None, app_root: str, server_here: bool) -> tuple[str, str | None]:
    """The local side of the path mapping, and a note when it is not what was given.

    Without --local-root it is the current folder, except when the app runs on this
    machine in a folder inside it (the demo's ``./remotedbg-demo``): the current folder
    mapped onto that one would send every breakpoint a level too deep, so the app's folder
    maps to itself.
    """
    if given is not None:
        return os.path.abspath(given), None
    here = os.path.abspath(".")
    if server_here and os.path.isdir(app_root):
        real_here, real_root = os.path.realpath(here), os.path.realpath(app_root)
        if real_root != real_here and os.path.commonpath([real_here, real_root]) == real_here:
            return app_root, (
                "the app runs on this machine, in a folder inside this one, so that folder "
                "maps to itself; --local-root DIR chooses another"
            )
    return here, None


#: The server's advice for a token refusal, written for an IDE that sends the token itself.
_TOKEN_ADVICE = re.compile(
    r"; add it to the attach configuration \(.*?\) or use `remotedbg attach`"
)


def explain_refusal(text: str, *, token_added: bool) -> str:
    """A refusal of the attach request, reworded for someone already using the relay.

    The server tells the IDE to add the token to its configuration "or use `remotedbg
    attach`"; through the relay, what helps is where the relay's own token came from.
    Any other text is returned unchanged.
    """
    if token_added:
        fix = (
            "; remotedbg attach added the token from REMOTEDBG_TOKEN (or --token): check "
            "that it is the server's, then run remotedbg attach again"
        )
    else:
        fix = (
            "; remotedbg attach had no token to add: export REMOTEDBG_TOKEN=... (ask whoever "
            "set up the server), then run remotedbg attach again"
        )
    return _TOKEN_ADVICE.sub(lambda _: fix, text, count=1)


def rewrite_attach(
    arguments: t.Mapping[str, t.Any] | None, *, token: str | None, local_root: str, app_root: str
) -> dict[str, t.Any]:
    """The IDE's attach arguments with the token added, and path mappings when it sent none."""
    rewritten = dict(arguments or {})
    if token is not None:
        rewritten["remotedbgToken"] = token
    if not rewritten.get("pathMappings"):
        rewritten["pathMappings"] = [{"localRoot": local_root, "remoteRoot": app_root}]
    return rewritten


class _Outcome:
    """Shared between the relays and the status line: what the user should be told."""

    def __init__(self) -> None:
        self.connected = 0
        self.fatal: str | None = None
        self.stopped = False
        self.done = asyncio.Event()

    def fail(self, message: str) -> None:
        self.fatal = message
        self.done.set()

    def stop(self) -> None:
        self.stopped = True
        self.done.set()


class Relay:
    """Serves the local DAP port and relays each IDE connection to the remote bridge."""

    def __init__(
        self,
        target: tuple[str, int],
        remote: Remote,
        *,
        token: str | None,
        local_root: str,
        notice: t.Callable[[str], None] = lambda line: None,
        peer_uid: t.Callable[[tuple[str, int], tuple[str, int]], int | None] | None = None,
    ) -> None:
        self.target = target
        self.remote = remote
        self.token = token
        self.local_root = local_root
        self.notice = notice
        #: Who owns a connection's far end (None: unknown); None here: nothing to check.
        self.peer_uid = peer_uid
        self.outcome = _Outcome()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def relaying(self) -> int:
        return len(self._tasks)

    async def handle(self, ide_reader: asyncio.StreamReader, ide: asyncio.StreamWriter) -> None:
        # asyncio logs a traceback for a connection handler that ends by any exception,
        # cancellation included, so every end here is a plain return.
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(ide)
        try:
            mine, owner = self._owner(ide)
            if mine:
                await self._relay(ide_reader, ide)
            else:
                await self._refuse(ide_reader, ide, owner)
        except (asyncio.CancelledError, asyncio.TimeoutError, OSError, ProtocolError):
            pass
        finally:
            self._writers.discard(ide)
            ide.transport.abort()
            if task is not None:
                self._tasks.discard(task)

    def _owner(self, ide: asyncio.StreamWriter) -> tuple[bool, int | None]:
        """Whether this user owns the connection's far end, and its uid (None: unknown).

        Looked up once per connection, before anything goes upstream.
        """
        if self.peer_uid is None:
            return True, None
        peer, local = ide.get_extra_info("peername"), ide.get_extra_info("sockname")
        owner = self.peer_uid(peer[:2], local[:2]) if peer and local else None
        return owner is not None and owner == os.getuid(), owner

    async def _refuse(
        self, reader: asyncio.StreamReader, ide: asyncio.StreamWriter, owner: int | None
    ) -> None:
        """Say so on our output, and answer the first request if it comes soon.

        Nothing goes upstream. A peer gone without a word (a port probe) is refused quietly.
        """
        mine = os.getuid()
        who = f"uid {owner}" if owner is not None else "a process whose owner could not be found"
        decoder = Decoder(max_message_size=_PEEK_LIMIT)
        body: bytes | None = None
        with contextlib.suppress(asyncio.TimeoutError, ProtocolError):
            body = await asyncio.wait_for(_first_body(reader, decoder), _REFUSAL_WAIT)
        if owner is None and body is None and not decoder.pending:
            return
        self.notice(
            f"remotedbg attach: refused a connection from {who}: this relay adds the token "
            f"only for uid {mine}, who started it"
        )
        message = parse_message(body) if body is not None else None
        if isinstance(message, Request):
            why = f"remotedbg attach relays only for uid {mine}, who started it; not for {who}"
            ide.write(encode(Response(1, message.seq, False, message.command, why)))
            await asyncio.wait_for(close_writer(ide), _REFUSAL_WAIT)

    async def _relay(self, ide_reader: asyncio.StreamReader, ide: asyncio.StreamWriter) -> None:
        _nodelay(ide)
        try:
            up_reader, upstream = await asyncio.wait_for(
                asyncio.open_connection(*self.target), timeout=10
            )
        except (OSError, asyncio.TimeoutError) as exc:
            self.outcome.fail(
                f"cannot reach the debugger at {self.target[0]}:{self.target[1]} ({exc}); "
                "is the window still open?"
            )
            return
        _nodelay(upstream)
        self._writers.add(upstream)
        self.outcome.connected += 1
        try:
            await _first_done(
                self._pump(ide_reader, upstream, self._rewrite),
                self._pump(up_reader, ide, self._watch),
            )
            # What either side said last (the server's "the window ended" and `terminated`,
            # the IDE's `disconnect`) is delivered before the connection closes.
            await asyncio.gather(close_writer(ide), close_writer(upstream))
        finally:
            self.outcome.connected -= 1
            self._writers.discard(upstream)
            upstream.transport.abort()

    async def wind_down(self, grace: float) -> None:
        """Let sessions already relaying end on their own for `grace` seconds, then end them.

        A stop (Ctrl-C, SIGTERM) or a fatal error cuts the wait short.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._tasks and not self.outcome.done.is_set():
            left = deadline - loop.time()
            if left <= 0:
                break
            stop = asyncio.ensure_future(self.outcome.done.wait())
            await asyncio.wait(
                {*self._tasks, stop}, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            stop.cancel()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=2.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        relay: t.Callable[[bytes], bytes],
    ) -> None:
        """Frames from `reader` to `writer`, each body passed through `relay` on the way."""
        decoder = Decoder()
        while True:
            data = await reader.read(_READ_SIZE)
            decoder.receive_data(data)
            while isinstance(body := decoder.next_body(), bytes):
                writer.write(relay(body))
            await writer.drain()
            if not data:
                return

    def _rewrite(self, body: bytes) -> bytes:
        if b'"attach"' not in body:
            return frame(body)
        message = parse_message(body)
        if not (isinstance(message, Request) and message.command == "attach"):
            return frame(body)
        arguments = rewrite_attach(
            message.arguments,
            token=self.token,
            local_root=self.local_root,
            app_root=self.remote.app_root,
        )
        return encode(dataclasses.replace(message, arguments=arguments))

    def _watch(self, body: bytes) -> bytes:
        if len(body) <= _PEEK_LIMIT and b'"attach"' in body:
            return self._check_attach_response(body)
        return frame(body)

    def _check_attach_response(self, body: bytes) -> bytes:
        """The attach response as the IDE gets it: a refusal reworded for the relay."""
        message = parse_message(body)
        if isinstance(message, Response) and message.command == "attach" and not message.success:
            text = message.message or "the attach request was refused"
            explained = explain_refusal(text, token_added=self.token is not None)
            if "remotedbgToken" in text or "token" in text.lower():
                self.outcome.fail(f"the server refused the token: {explained}")
            if explained != text:
                return encode(dataclasses.replace(message, message=explained))
        return frame(body)


async def _first_body(reader: asyncio.StreamReader, decoder: Decoder) -> bytes | None:
    while True:
        body = decoder.next_body()
        if body is None or isinstance(body, bytes):
            return body
        decoder.receive_data(await reader.read(_PEEK_LIMIT))


async def _first_done(*coroutines: t.Coroutine[t.Any, t.Any, None]) -> None:
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            with contextlib.suppress(ProtocolError, OSError):
                task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _nodelay(writer: asyncio.StreamWriter) -> None:
    nodelay(writer.get_extra_info("socket"))


class Tunnel:
    """``ssh -N -L``: the remote bridge on the server's loopback, reached from a local port."""

    def __init__(self, destination: str, remote_host: str, remote_port: int) -> None:
        ssh = shutil.which("ssh")
        if ssh is None:
            raise AttachError("--ssh needs the ssh client on PATH; install OpenSSH")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.local_port = int(probe.getsockname()[1])
        forward_host = "127.0.0.1" if remote_host in ("0.0.0.0", "::") else remote_host
        if ":" in forward_host:
            forward_host = f"[{forward_host}]"
        self.argv = [
            ssh, "-N",
            "-o", "ExitOnForwardFailure=yes",
            "-o", "ServerAliveInterval=15",
            "-L", f"127.0.0.1:{self.local_port}:{forward_host}:{remote_port}",
            destination,
        ]  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603 - argv built above, no shell
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait_ready(self, timeout: float = 20.0) -> tuple[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = (self.process.stderr.read() if self.process.stderr else b"").decode(
                    errors="replace"
                )
                last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
                raise AttachError(f"ssh exited with code {self.process.returncode}: {last}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.local_port), timeout=0.5),
            ):
                return ("127.0.0.1", self.local_port)
            time.sleep(0.1)
        raise AttachError(f"the ssh tunnel did not open within {timeout:g}s")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stderr is not None:
            self.process.stderr.close()


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopSignals:
    """Ctrl-C and SIGTERM, made to end `attach` cleanly wherever they land.

    Outside the event loop the first one raises KeyboardInterrupt (and the ones after it
    are ignored, so the clean-up runs to its end); inside it, they stop the loop through
    ``add_signal_handler``. Between the two they are held (blocked, on POSIX) rather than
    lost, so none lands inside asyncio's own machinery. Only in the main thread, and not
    for a signal ignored from the start (``cmd &`` in a script ignores SIGINT).
    """

    def __init__(self) -> None:
        main = threading.current_thread() is threading.main_thread()
        self.signals = [
            sig for sig in _STOP_SIGNALS if main and signal.getsignal(sig) is not signal.SIG_IGN
        ]
        self._previous: dict[int, t.Any] = {}
        self._mask: set[int] | None = None

    def install(self) -> None:
        for sig in self.signals:
            self._previous.setdefault(sig, signal.getsignal(sig))
            signal.signal(sig, _interrupt)

    def ignore(self) -> None:
        for sig in self.signals:
            signal.signal(sig, signal.SIG_IGN)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def hold(self) -> None:
        if self.signals and hasattr(signal, "pthread_sigmask") and self._mask is None:
            self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, self.signals)

    def release(self) -> None:
        if self._mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
            self._mask = None

    @contextlib.contextmanager
    def deferred(self) -> t.Iterator[None]:
        """A step not to be cut in half: a signal during it takes effect at its end.

        Deferred, not blocked: a child started meanwhile (ssh) would inherit blocked
        signals and ignore `terminate`.
        """
        came: list[int] = []
        for sig in self.signals:
            signal.signal(sig, lambda signum, frame: came.append(signum))
        try:
            yield
        finally:
            self.install()
        if came:
            _interrupt(came[0], None)

    def into_loop(self, stop: t.Callable[[], None]) -> None:
        """Called first thing in the loop, with the signals held since before it started."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows: no such API
            for sig in self.signals:
                loop.add_signal_handler(sig, stop)
        self.release()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def _status_line(remote: Remote, outcome: _Outcome) -> str:
    left = max(0, int(remote.expires_at - time.time()))
    until = datetime.fromtimestamp(remote.expires_at, tz=timezone.utc).strftime("%H:%M:%S UTC")
    ide = "IDE connected" if outcome.connected else "waiting for the IDE"
    return f"armed until {until} ({left // 60}m{left % 60:02d}s left) | {ide}"


async def _serve(
    relay: Relay,
    listener: socket.socket,
    echo: t.Callable[[str], None],
    live: bool,
    signals: _StopSignals,
) -> str | None:
    """Run until the window ends, a stop or a fatal error; return the fatal error, if any."""
    signals.into_loop(relay.outcome.stop)
    try:
        return await _relay_window(relay, listener, echo, live)
    finally:
        signals.hold()  # until asyncio.run has put its own handlers back and ours return


async def _relay_window(
    relay: Relay, listener: socket.socket, echo: t.Callable[[str], None], live: bool
) -> str | None:
    outcome, remote = relay.outcome, relay.remote
    server = await asyncio.start_server(relay.handle, sock=listener)
    last = ""
    try:
        while not outcome.done.is_set() and (left := remote.expires_at - time.time()) > 0:
            line = _status_line(remote, outcome)
            if live:
                echo("\r" + line + "   ")
            elif line.split("|")[1] != last.split("|")[-1]:
                echo(line + "\n")
            last = line
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(outcome.done.wait(), timeout=min(1.0, left))
    finally:
        server.close()  # no new IDE connection from here on
    if live:
        echo("\n")
    if outcome.fatal is not None:
        await asyncio.sleep(0.3)  # let the refusal reach the IDE, which shows it
    elif not outcome.done.is_set() and relay.relaying:
        echo(
            "remotedbg attach: the armed window ended here; waiting for the server to end "
            f"the session (at most {EXPIRY_GRACE:g}s)\n"
        )
    await relay.wind_down(EXPIRY_GRACE)
    return outcome.fatal


def attach_main(
    url: str,
    *,
    local_port: int | None,
    local_root: str | None,
    token: str | None,
    ssh: str | None,
    echo: t.Callable[[str], None] | None = None,
) -> None:
    """Arm, relay, and report; raises AttachError for everything the user must fix.

    `local_port` None is the default port, or a free one when it is taken; `local_root`
    None is the current folder (or the app's, when the app runs on this machine inside it).

    Ctrl-C and SIGTERM (kill, systemd, a closing terminal) end it at any moment with one
    line, the ssh tunnel closed, and a normal return (exit code 0).
    """

    def write(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    say = echo or write
    signals = _StopSignals()
    cleanup = contextlib.ExitStack()
    try:
        try:
            signals.install()
            ended = _attach(url, local_port, local_root, token, ssh, say, signals, cleanup)
        finally:
            signals.ignore()  # nothing interrupts the clean-up
            cleanup.close()
    except KeyboardInterrupt:
        signals.ignore()
        cleanup.close()
        ended = "stopped"
    finally:
        signals.release()
        signals.restore()
    say(f"remotedbg attach: {ended}\n")


def _attach(
    url: str,
    local_port: int | None,
    local_root: str | None,
    token: str | None,
    ssh: str | None,
    echo: t.Callable[[str], None],
    signals: _StopSignals,
    cleanup: contextlib.ExitStack,
) -> str:
    """attach_main's work; returns how it ended. `cleanup` closes what it opened."""
    from .ide_config import RELAY_NAME, fetch_status

    status = fetch_status(url, fallback="then run remotedbg attach again", label="URL")
    remote = remote_from_status(url, status, ssh=ssh is not None)
    if remote.token_required and token is None:
        raise AttachError(
            "the server requires a token; export REMOTEDBG_TOKEN=... (ask whoever set up the "
            "server) or pass --token"
        )
    server_here = ssh is None and _here(remote.host)
    if ssh is None:
        target = (remote.host, remote.port)
    else:
        with signals.deferred():
            tunnel = Tunnel(ssh, remote.host, remote.port)
            cleanup.callback(tunnel.close)
        target = tunnel.wait_ready()
    with signals.deferred():
        listener = open_listener(local_port, target if server_here else None)
        cleanup.callback(listener.sock.close)
    root, root_note = _local_root(local_root, remote.app_root, server_here)
    live = sys.stderr.isatty()

    def notice(line: str) -> None:
        echo(("\n" if live else "") + line + "\n")

    relay = Relay(
        target,
        remote,
        token=token,
        local_root=root,
        notice=notice,
        peer_uid=loopback_peer_uid if owner_known_here() else None,
    )
    shared = (
        ""
        if owner_known_here()
        else (
            "  This relay is for a single-user machine: on this system it cannot tell which "
            "user a connection comes from, so any local process that connects gets a session.\n"
        )
    )
    port = listener.port
    moved = (
        f"remotedbg attach: {listener.moved}, so the relay listens on 127.0.0.1:{port}.\n"
        if listener.moved
        else ""
    )
    pycharm = "remotedbg config pycharm" + ("" if port == DEFAULT_LOCAL_PORT else f" --port {port}")
    echo(
        f"{moved}"
        f"remotedbg attach: armed pid {status.get('pid')} on {url}; the debugger is relayed "
        f"from 127.0.0.1:{port}\n"
        f"  In your IDE, attach to 127.0.0.1:{port} with no pathMappings.\n"
        f"  VS Code: this writes the configuration '{RELAY_NAME}' for it:\n"
        f"      {relay_config_command(port)}\n"
        f"  PyCharm: an 'Attach to DAP' configuration with Remote address 127.0.0.1:{port}\n"
        f"      (`{pycharm}` prints the steps).\n"
        f"  Breakpoints map {root} -> {remote.app_root}.\n"
        + (f"  ({root_note})\n" if root_note else "")
        + f"{shared}"
        "  Ctrl-C to stop.\n"
    )
    signals.hold()  # _serve takes them over once the loop runs
    try:
        fatal = asyncio.run(_serve(relay, listener.sock, echo, live, signals))
    finally:
        signals.install()  # asyncio.run's end put the default handlers back
        signals.release()
    if fatal is not None:
        raise AttachError(fatal)
    if relay.outcome.stopped:
        return "stopped"
    return "the armed window ended; run remotedbg attach again to re-arm"

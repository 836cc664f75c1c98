"""The ``remotedbg`` command.

Options are read as plain strings and parsed by the same code as the environment, so a bad
value gets the same one-line message (naming the option) whether it came from
``--ttl soon`` or ``REMOTEDBG_TTL=soon``, and the exit code is 2 without a traceback.
"""

from __future__ import annotations

import os
import secrets
import typing as t
from datetime import datetime, timezone

import click

from ..settings import (
    SPECS,
    SPECS_BY_FIELD,
    Settings,
    SettingSpec,
    parse_host,
    parse_port,
    parse_token,
)
from .errors import CLIError, one_line_errors

if t.TYPE_CHECKING:
    from .app_loader import LoadedApp

__all__ = ["CLIError", "cli", "main"]

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


def settings_options(*exclude: str, helps: t.Mapping[str, str] | None = None) -> t.Callable[[F], F]:
    """Add an option for every setting that has one (but `exclude`), in the table's order.

    `helps` replaces a setting's help text where a command gives it another meaning.
    """

    def decorate(func: F) -> F:
        for spec in reversed(SPECS):
            if spec.option is not None and spec.field not in exclude:
                if helps and spec.field in helps:
                    spec = spec._replace(help=helps[spec.field])
                func = _setting_option(spec)(func)
        return func

    return decorate


def _setting_option(spec: SettingSpec) -> t.Callable[[F], F]:
    if spec.option is None:
        raise ValueError(f"{spec.field} has no CLI option")
    repeatable = spec.option in ("--allow", "--trusted-proxy")
    default = "" if spec.default == "none" else f" [default: {spec.default}]"
    return click.option(
        spec.option,
        spec.field,
        multiple=repeatable,
        default=() if repeatable else None,
        metavar=spec.metavar,
        help=f"{spec.help}{default} [env var: {spec.env}]",
    )


_BRIDGE_LABELS = {"dap_host": "--listen", "dap_port": "--listen"}


def _label(field: str) -> str:
    spec = SPECS_BY_FIELD.get(field)
    return (spec.option or spec.env) if spec is not None else field


def load_settings(options: t.Mapping[str, object], **forced: object) -> Settings:
    with one_line_errors():
        return Settings.load(overrides={**options, **forced}, label=_label)


def _setting_values(kwargs: dict[str, t.Any]) -> dict[str, object]:
    return {key: kwargs.pop(key) for key in list(kwargs) if key in SPECS_BY_FIELD}


def _serve_options(func: F) -> F:
    func = click.option(
        "--port", "http_port", default="5000", metavar="PORT", help="HTTP port. [default: 5000]"
    )(func)
    return click.option(
        "--host",
        "http_host",
        default="127.0.0.1",
        metavar="HOST",
        help="HTTP address to serve on. [default: 127.0.0.1]",
    )(func)


def _serve(
    spec: str,
    http_host: str,
    http_port: str,
    settings: Settings,
    options: t.Mapping[str, object],
    intro: str | None = None,
) -> None:
    """Check everything, bind the HTTP port, load the app; only then say it is serving."""
    from .runner import bind_http, serve

    with one_line_errors():
        host = parse_host("--host", http_host)
        port = parse_port("--port", http_port)
    _refuse_never_arming(settings, options, port)
    with one_line_errors():
        listener = bind_http(host, port, host_label="--host", port_label="--port")
    with listener:
        loaded = _load_app(spec)
        with one_line_errors():
            serve(loaded, settings, listener, host, intro=intro)


def _load_app(spec: str) -> LoadedApp:
    from .app_loader import load_app

    try:
        with one_line_errors():
            return load_app(spec)
    except SystemExit as exc:  # sys.exit() at import would end the command without a word
        code = 0 if exc.code is None else exc.code
        how = f"with code {code}" if isinstance(code, int) else f"saying {str(code)!r}"
        raise CLIError(
            f"APP {spec!r}: the app exited {how} while being imported; keep sys.exit() out of "
            "import time, under `if __name__ == '__main__':`"
        ) from None


def _as_typed(field: str, options: t.Mapping[str, object]) -> str:
    """A setting as the user gave it (option, variable, or default), for an error message."""
    spec = SPECS_BY_FIELD[field]
    if options.get(field) not in (None, ()):
        return f"{spec.option or spec.env}={options[field]!r}"
    if os.environ.get(spec.env, "").strip():
        return f"{spec.env}={os.environ[spec.env]!r}"
    return f"{spec.option or spec.env}={spec.default!r} (the default)"


def _refuse_past_deadline(settings: Settings, options: t.Mapping[str, object]) -> None:
    if settings.until is not None and settings.until <= datetime.now(timezone.utc):
        raise CLIError(
            f"{_as_typed('until', options)}: has passed, so the debugger would never arm; "
            "set a later time, or leave it unset"
        )


def _refuse_never_arming(
    settings: Settings, options: t.Mapping[str, object], http_port: int
) -> None:
    """A server that starts fine but could never arm would look armed at 2 a.m.: refuse it."""
    _refuse_past_deadline(settings, options)
    if settings.dap_port == http_port != 0:
        raise CLIError(
            f"{_as_typed('dap_port', options)}: is also the HTTP port (--port {http_port}), "
            "so the debugger could never listen; choose another port for one of them"
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="remotedbg")
def cli() -> None:
    """Debug a remote web app from your IDE, through a door that closes itself."""


@cli.command()
@click.argument("app", metavar="APP")
@_serve_options
@settings_options()
def run(app: str, http_host: str, http_port: str, **kwargs: t.Any) -> None:
    """Serve APP with debugging armed for allowlisted clients.

    APP is module:name, module (finding app, application or create_app()), or
    path/to/file.py[:name], as with `flask --app`. A WSGI app is served with Werkzeug, an
    ASGI app (FastAPI, Starlette...) with uvicorn: pip install 'remotedbg[asgi]'.
    """
    options = _setting_values(kwargs)
    settings = load_settings(options, enable=True)
    _serve(app, http_host, http_port, settings, options)


@cli.command()
@click.option(
    "--dir",
    "folder",
    default="remotedbg-demo",
    metavar="DIR",
    help="The folder the demo app is copied to and served from, for your IDE to open. "
    "[default: ./remotedbg-demo]",
)
@_serve_options
@settings_options()
def demo(folder: str, http_host: str, http_port: str, **kwargs: t.Any) -> None:
    """Serve a small demo app with debugging armed for this machine only.

    The app's source is copied to DIR and served from there, where your IDE can debug it
    (an IDE skips site-packages, where an installed remotedbg lives). A copy that differs,
    because you edited it, is served as it is and never overwritten.
    """
    import importlib.resources

    options = _setting_values(kwargs)
    settings = load_settings(options, enable=True)
    source = importlib.resources.files("remotedbg.cli").joinpath("demo_app.py").read_text("utf-8")
    path = os.path.join(os.path.abspath(folder), "demo_app.py")
    fix = "choose a folder of yours with --dir"
    try:
        with open(path, encoding="utf-8", newline="") as existing:
            text: str | None = existing.read()
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise CLIError(f"--dir={folder!r}: cannot read {path} ({why}); {fix}") from None
    if text is None:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "x", encoding="utf-8", newline="") as copy:
                copy.write(source)
        except OSError as exc:
            raise CLIError(
                f"--dir={folder!r}: cannot write {path} ({exc.strerror or exc}); {fix}"
            ) from None
        text, done = source, "copied the demo app to"
    elif text == source:
        done = "serving the demo app at"
    else:
        done = "serving your edited copy, left as it is (delete it for a fresh one), at"
    path = os.path.realpath(path)  # as the app's import root and the IDE's breakpoints say
    marks = [n for n, line in enumerate(text.splitlines(), 1) if "# set a breakpoint here" in line]
    where = f"{path}:{marks[0]}" if marks else path
    intro = (
        f"remotedbg demo: {done} {path}\n"
        f"  Open {os.path.dirname(path)} in your IDE and set a breakpoint in greet(), at\n"
        f"      {where}\n"
        "  then open the page below. /boom stops on an unhandled ZeroDivisionError."
    )
    _serve(f"{path}:app", http_host, http_port, settings, options, intro=intro)


@cli.command()
@click.option(
    "--listen",
    default="127.0.0.1:5678",
    metavar="HOST:PORT",
    help="Where the IDE attaches. Off loopback, a token is required. [default: 127.0.0.1:5678]",
)
@click.option(
    "--upstream",
    required=True,
    metavar="HOST:PORT",
    help="Where debugpy listens, e.g. python -m debugpy --listen 127.0.0.1:5679.",
)
@settings_options(
    "dap_host",
    "dap_port",
    "trusted_proxies",
    "wait",
    helps={
        "allow": "Addresses that may attach (the IDE's, or 127.0.0.1 for an SSH tunnel): IPs "
        "and CIDRs, comma or space separated.",
        "ttl": "How long the bridge admits IDEs before it exits: 90s, 30m, 2h (at most 24h).",
    },
)
def bridge(listen: str, upstream: str, **kwargs: t.Any) -> None:
    """Guard an already-running debugpy: peer check, token, one client, expiry.

    The window opens now and the command exits when it ends (--ttl, --until).
    """
    from ..door.standalone import run_standalone
    from ..settings import parse_endpoint
    from .runner import configure_logging

    options = _setting_values(kwargs)
    with one_line_errors():
        dap_host, dap_port = parse_endpoint("--listen", listen)
        upstream_address = parse_endpoint("--upstream", upstream)
        settings = Settings.load(
            overrides={**options, "dap_host": dap_host, "dap_port": dap_port},
            label=lambda field: _BRIDGE_LABELS.get(field) or _label(field),
        )
    _refuse_past_deadline(settings, options)
    _check_upstream(upstream, upstream_address)
    configure_logging()
    try:
        reason = run_standalone(settings, upstream_address, announce=_announce)
    except OSError as exc:
        raise CLIError(
            f"--listen={listen!r}: cannot listen ({exc.strerror or exc}); "
            "choose another address or port for --listen"
        ) from None
    click.echo(f"remotedbg bridge: {reason}", err=True)


def _check_upstream(typed: str, address: tuple[str, int]) -> None:
    """Refuse to open a door onto nothing, without touching what listens at --upstream.

    A test connection would not do: debugpy's adapter takes any connection for an IDE's,
    and the next real attach then hangs. So each of the address's local forms is bound
    for a moment instead (without SO_REUSEADDR, as `doctor` does): where that succeeds,
    nothing listens. An address of another machine cannot be bound, so it is not judged.
    """
    import socket

    host, port = address
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CLIError(
            f"--upstream={typed!r}: cannot be resolved ({exc.strerror}); give the address "
            "debugpy listens on, like 127.0.0.1:5679"
        ) from None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            try:
                probe.bind(sockaddr)
            except OSError:
                return  # taken (something listens) or another machine's: cannot tell
    raise CLIError(
        f"--upstream={typed!r}: nothing listens there; start debugpy first "
        f"(python -m debugpy --listen {typed} ...) or give the address it listens on"
    )


def _announce(text: str) -> None:
    click.echo(text, err=True)


@cli.command()
@click.argument("url")
@click.option(
    "--local-port",
    default="5678",
    metavar="PORT",
    help="Local DAP port for the IDE. [default: 5678]",
)
@click.option(
    "--local-root",
    default=".",
    metavar="DIR",
    help="Your copy of the project, for path mappings. [default: the current directory]",
)
@click.option(
    "--token",
    envvar="REMOTEDBG_TOKEN",
    show_envvar=True,
    metavar="TOKEN",
    help="The server's token; better from the environment than on a command line.",
)
@click.option("--ssh", metavar="USER@HOST", help="Tunnel to the debugger with the ssh client.")
def attach(url: str, local_port: str, local_root: str, token: str | None, ssh: str | None) -> None:
    """Arm the app at URL and relay your IDE to its debugger, adding token and path mappings.

    Point the IDE at localhost:PORT; no secret goes into its configuration. The token goes
    only to URL's host (or through --ssh), and on Linux only your own user's connections
    are relayed. Ctrl-C or SIGTERM stops it (exit code 0); a problem is one line, exit 2.
    """
    from ..client.attach import attach_main

    context = click.get_current_context()

    def given(name: str) -> bool:
        return context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT

    with one_line_errors():
        # Left out, the port is 5678 or, when that is taken, one attach chooses and names.
        port = parse_port("--local-port", local_port) if given("local_port") else None
        checked_token = parse_token("--token", token) if token else None
    if not os.path.isdir(local_root):
        raise CLIError(f"--local-root={local_root!r}: not a folder; give your project's folder")
    with one_line_errors():
        attach_main(
            url,
            local_port=port,
            local_root=local_root if given("local_root") else None,
            token=checked_token,
            ssh=ssh,
        )


@cli.command()
def token() -> None:
    """Print a fresh random token for REMOTEDBG_TOKEN."""
    click.echo(secrets.token_urlsafe(32))


def _register() -> None:
    from ..client.ide_config import config_group
    from ..doctor import doctor_command

    cli.add_command(doctor_command)
    cli.add_command(config_group)


_register()


def main() -> None:
    cli(prog_name="remotedbg")

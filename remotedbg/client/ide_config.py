"""``remotedbg config``: attach configurations for VS Code and PyCharm.

The commands here are thin: :mod:`remotedbg.client.vscode_config` builds the VS Code
configuration (:mod:`remotedbg.client.launch_json` merges it into a file),
:mod:`remotedbg.client.pycharm_config` words the PyCharm steps,
:mod:`remotedbg.client.status` fetches the server's ``app_root`` when asked, and this
module reads the options and turns every error into the CLI's one line with exit code 2.
Its errors (drawn with the others in :mod:`remotedbg.errors`)::

    RemotedbgError
    └── IdeConfigError        an attach configuration cannot be made or written
        ├── LaunchJsonError   launch.json cannot be read, parsed, or has the wrong shape
        └── StatusPageError   GET <url>/__remotedbg__ failed or returned no app_root

Options with a bad value raise :class:`remotedbg.errors.ConfigError`, as settings do.
"""

from __future__ import annotations

import json
import shlex
import typing as t

import click

from ..cli.errors import one_line_errors
from ..errors import ConfigError, IdeConfigError, LaunchJsonError, StatusPageError
from ..settings import parse_host, parse_port
from .status import STATUS_TIMEOUT, fetch_status, status_url

__all__ = [
    "STATUS_TIMEOUT",
    "IdeConfigError",
    "LaunchJsonError",
    "StatusPageError",
    "config_group",
    "fetch_status",
    "status_url",
]

#: The configuration `remotedbg attach` tells people to use.
RELAY_NAME = "remotedbg: attach (relay)"
#: The port the IDE connects to unless told otherwise, and `remotedbg attach` relays from.
_DEFAULT_PORT = 5678


def _attach_port(option: str, raw: str) -> int:
    port = parse_port(option, raw)
    if port == 0:
        raise ConfigError(
            option,
            raw,
            "the IDE needs the real port",
            "use the dap_port that GET <app-url>/__remotedbg__ shows",
        )
    return port


class _Server(t.NamedTuple):
    """What the configuration needs to know of the server, from the options or its page."""

    app_root: str | None
    token_required: bool = False
    #: The debugger's port on the status page, when it gave a real one.
    dap_port: int | None = None


def _server(remote_root: str | None, url: str | None) -> _Server:
    """The server's app root from --remote-root or --url; with --url, its token and port."""
    if remote_root is not None and url is not None:
        raise ConfigError("--url", url, "given together with --remote-root", "use one of the two")
    if url is None:
        return _Server(remote_root)
    page = fetch_status(url)
    return _Server(page.app_root, page.token_required, page.dap_port or None)


def _vscode_command(
    *,
    name: str,
    host: str,
    port: str | None,
    server: str | None,
    url: bool,
    relay: bool,
    just_my_code: bool,
) -> str:
    """The ``remotedbg config vscode ... --write`` that writes what these options print."""
    from .vscode_config import DEFAULT_NAME

    argv = ["remotedbg", "config", "vscode"]
    if relay:
        argv.append("--relay")
    if name != (RELAY_NAME if relay else DEFAULT_NAME):
        argv += ["--name", name]
    if host != "127.0.0.1":
        argv += ["--host", host]
    if port is not None:
        argv += ["--port", port]
    if server is not None:
        argv += ["--url" if url else "--remote-root", server]
    if not just_my_code:
        argv.append("--no-just-my-code")
    return shlex.join([*argv, "--write"])


def _target_options(func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    """The options both IDEs share: where to attach and where the code lives on the server."""
    for decorator in reversed(
        [
            click.option(
                "--host",
                default="127.0.0.1",
                metavar="HOST",
                help="Address the IDE connects to: the bridge, or your end of an SSH tunnel. "
                "[default: 127.0.0.1]",
            ),
            click.option(
                "--port",
                default=None,
                metavar="PORT",
                help="Port the IDE connects to: the server's REMOTEDBG_DAP_PORT, your end of a "
                "tunnel, or the port `remotedbg attach` relays from. [default: 5678; VS Code "
                "with --url: the dap_port on the status page]",
            ),
            click.option(
                "--remote-root",
                metavar="PATH",
                help="The app's directory on the server (app_root on its status page).",
            ),
            click.option(
                "--url",
                metavar="URL",
                help="The app's URL: read app_root from GET URL/__remotedbg__ "
                "(from an allowlisted machine).",
            ),
        ]
    ):
        func = decorator(func)
    return func


_WRITTEN = {
    "created": "Created {path} with the configuration {name}.",
    "added": "Added the configuration {name} to {path}.",
    "replaced": "Replaced the configuration {name} in {path}.",
    "unchanged": "The configuration {name} in {path} is already up to date.",
}

config_group = click.Group(
    "config",
    help="Print or write an attach configuration for your IDE.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@config_group.command("vscode", short_help="Print or merge a VS Code attach configuration.")
@click.option(
    "--name",
    default="remotedbg: attach",
    metavar="NAME",
    help="The configuration's name; --write replaces the one with this name. "
    '[default: "remotedbg: attach"]',
)
@_target_options
@click.option(
    "--relay",
    is_flag=True,
    help="For `remotedbg attach`: no pathMappings and no token, which it adds itself. "
    'Named "remotedbg: attach (relay)" unless --name says otherwise.',
)
@click.option(
    "--just-my-code/--no-just-my-code",
    default=True,
    help="Stop only in your code, or also in libraries (Flask, your dependencies). "
    "[default: --just-my-code]",
)
@click.option(
    "--write",
    "write_to",
    is_flag=False,
    flag_value=".vscode/launch.json",
    default=None,
    metavar="[PATH]",
    help="Merge into launch.json (default .vscode/launch.json) instead of printing: "
    "replace the configuration with the same name, keep everything else.",
)
def vscode(
    name: str,
    host: str,
    port: str | None,
    remote_root: str | None,
    url: str | None,
    relay: bool,
    just_my_code: bool,
    write_to: str | None,
) -> None:
    """Print a VS Code attach configuration, or merge it into launch.json.

    The token is never written: the configuration reads it from the REMOTEDBG_TOKEN
    environment variable of the shell that starts VS Code.
    """
    from . import vscode_config

    with one_line_errors():
        attach_host = parse_host("--host", host)
        given_port = None if port is None else _attach_port("--port", port)
        if relay and (remote_root is not None or url is not None):
            raise IdeConfigError(
                "--relay: remotedbg attach maps the paths itself; drop --remote-root and --url"
            )
        server = _Server(None) if relay else _server(remote_root, url)
        if relay and name == vscode_config.DEFAULT_NAME:
            name = RELAY_NAME
        config = vscode_config.attach_configuration(
            name=name,
            host=attach_host,
            port=given_port or server.dap_port or _DEFAULT_PORT,
            remote_root=server.app_root,
            just_my_code=just_my_code,
            relay=relay,
        )
        if write_to is None:
            command = _vscode_command(
                name=name,
                host=host,
                port=None if given_port is None else str(given_port),
                server=url if url is not None else remote_root,
                url=url is not None,
                relay=relay,
                just_my_code=just_my_code,
            )
            click.echo(vscode_config.render_snippet(config, write_command=command), nl=False)
        else:
            action = vscode_config.write_launch_json(write_to, config)
            click.echo(_WRITTEN[action].format(name=json.dumps(name), path=write_to))
    if server.token_required:
        click.echo(
            "The server requires a token: export REMOTEDBG_TOKEN in the shell that starts VS Code.",
            err=True,
        )


@config_group.command("pycharm", short_help="Print the PyCharm attach settings, step by step.")
@click.option(
    "--name",
    default="remotedbg attach",
    metavar="NAME",
    help='The run configuration\'s name. [default: "remotedbg attach"]',
)
@_target_options
@click.option(
    "--ide-port",
    default="5679",
    metavar="PORT",
    help="Port of PyCharm's Python Debug Server, for the older route. [default: 5679]",
)
@click.option(
    "--write",
    "write_to",
    is_flag=False,
    flag_value=".run/remotedbg attach.run.xml",
    default=None,
    # Hidden: it only refuses. Kept so that `--write`, tried by analogy with `config vscode`,
    # gets the reason in one line rather than click's "No such option".
    hidden=True,
)
def pycharm(
    name: str,
    host: str,
    port: str | None,
    remote_root: str | None,
    url: str | None,
    ide_port: str,
    write_to: str | None,
) -> None:
    """Print the PyCharm settings that attach to the debugger, step by step."""
    from . import pycharm_config

    with one_line_errors():
        if write_to is not None:
            raise IdeConfigError(pycharm_config.WRITE_REFUSAL)
        attach_host = parse_host("--host", host)
        attach_port = _DEFAULT_PORT if port is None else _attach_port("--port", port)
        debug_server_port = _attach_port("--ide-port", ide_port)
        root = _server(remote_root, url).app_root
        click.echo(
            pycharm_config.render_steps(
                name=name,
                host=attach_host,
                port=attach_port,
                remote_root=root,
                ide_port=debug_server_port,
            ),
            nl=False,
        )

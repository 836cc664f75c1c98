"""The VS Code attach configuration: what it holds, the notes that go with it, and its text.

Merging it into a launch.json, byte for byte, is :mod:`.launch_json`'s job; the merge
names here bind this configuration's rendering to it.
"""

from __future__ import annotations

import json
import typing as t

from . import launch_json
from .launch_json import INDENT as _INDENT
from .launch_json import Merge

if t.TYPE_CHECKING:
    import os

    from .launch_json import Render

__all__ = [
    "DEFAULT_NAME",
    "NOTE",
    "TOKEN_REFERENCE",
    "Merge",
    "attach_configuration",
    "merge_configuration",
    "new_launch_json",
    "notes",
    "render_snippet",
    "write_launch_json",
]

DEFAULT_NAME = "remotedbg: attach"
#: What the configuration sends as ``remotedbgToken``: VS Code substitutes the variable from
#: its own environment, so the secret never lands in the file.
TOKEN_REFERENCE = "${env:REMOTEDBG_TOKEN}"  # noqa: S105 (a reference, not a secret)
#: Comment lines for every configuration: launch.json has no field for exception filters,
#: so the comment says where they are.
FILTERS_NOTE = (
    "Exception filters are not a launch.json field: they are in the BREAKPOINTS",
    'pane of the Run and Debug view. Keep "Uncaught Exceptions" ticked, and an',
    "unhandled error in a view stops at the raising line.",
)
#: Comment lines for a configuration that sends ``remotedbgToken``.
TOKEN_NOTE = (
    "remotedbgToken comes from your environment (REMOTEDBG_TOKEN): never paste",
    "the token in here.",
)
#: Comment lines for a configuration for ``remotedbg attach``, which sends neither.
RELAY_NOTE = ("For `remotedbg attach`: no pathMappings and no token here, the relay adds both.",)
#: The comment of a configuration that sends the token itself.
NOTE = FILTERS_NOTE + TOKEN_NOTE
_WORKSPACE = "${workspaceFolder}"


def attach_configuration(
    *,
    name: str = DEFAULT_NAME,
    host: str = "127.0.0.1",
    port: int = 5678,
    remote_root: str | None = None,
    just_my_code: bool = True,
    relay: bool = False,
) -> dict[str, t.Any]:
    """The attach configuration as data, in the key order it is written.

    `remote_root` is the app's directory on the server; None means the app runs on this
    machine, in the workspace folder. With `relay`, the configuration is for
    ``remotedbg attach``, which adds the path mappings and the token itself: it must not
    send mappings of its own, or they would win.
    """
    config: dict[str, t.Any] = {
        "name": name,
        "type": "debugpy",
        "request": "attach",
        "connect": {"host": host, "port": port},
    }
    if not relay:
        config["pathMappings"] = [
            {
                "localRoot": _WORKSPACE,
                "remoteRoot": _WORKSPACE if remote_root is None else remote_root,
            }
        ]
    config["justMyCode"] = just_my_code
    if not relay:
        config["remotedbgToken"] = TOKEN_REFERENCE
    return config


def notes(config: t.Mapping[str, t.Any]) -> tuple[str, ...]:
    """The comment lines that are true of `config`: where exception filters are, and where
    its token comes from (the environment, or ``remotedbg attach`` when it sends none)."""
    if "remotedbgToken" in config:
        return FILTERS_NOTE + TOKEN_NOTE
    if "pathMappings" not in config:
        return RELAY_NOTE + FILTERS_NOTE
    return FILTERS_NOTE


def _render(
    config: t.Mapping[str, t.Any], indent: str, unit: str, newline: str, *, note: bool = True
) -> str:
    """`config` as a JSONC object whose lines after the first start with `indent`, with
    :func:`notes` as comment lines at the top of the object unless `note` is false."""
    body = json.dumps(config, indent=unit, ensure_ascii=False).split("\n")
    comment = [f"{unit}// {line}" for line in notes(config)] if note else []
    return (newline + indent).join([body[0], *comment, *body[1:]])


def render_snippet(
    config: t.Mapping[str, t.Any], *, write_command: str = "remotedbg config vscode --write"
) -> str:
    """What ``remotedbg config vscode`` prints: comment lines (where the object goes, with
    `write_command`, the command that merges this very object, and :func:`notes`), then the
    object."""
    head = [
        '// Add this object to the "configurations" array of .vscode/launch.json, or run',
        f"// `{write_command}` to have it merged there.",
        *(f"// {line}" for line in notes(config)),
    ]
    return "\n".join([*head, _render(config, "", _INDENT, "\n", note=False)]) + "\n"


def _renderer(config: t.Mapping[str, t.Any]) -> Render:
    """`config` written as launch_json asks, with its notes."""

    def render(indent: str, unit: str, newline: str) -> str:
        return _render(config, indent, unit, newline)

    return render


def new_launch_json(config: t.Mapping[str, t.Any], *, newline: str = "\n") -> str:
    """A whole launch.json holding only `config`."""
    return launch_json.new_file(_renderer(config), newline=newline)


def merge_configuration(
    text: str | None, config: t.Mapping[str, t.Any], *, source: str = "launch.json"
) -> Merge:
    """Merge `config` into the launch.json `text` by name (see
    :func:`remotedbg.client.launch_json.merge_configuration`)."""
    return launch_json.merge_configuration(text, config["name"], _renderer(config), source=source)


def write_launch_json(path: str | os.PathLike[str], config: t.Mapping[str, t.Any]) -> str:
    """Merge `config` into the launch.json at `path`, created if missing, atomically (see
    :func:`remotedbg.client.launch_json.write_launch_json`); return what was done."""
    return launch_json.write_launch_json(path, config["name"], _renderer(config))

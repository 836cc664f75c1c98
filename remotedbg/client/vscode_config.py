"""The VS Code attach configuration, and merging it into a launch.json without losing a byte.

launch.json is JSONC: JSON with ``//`` and ``/* */`` comments and trailing commas. The file
is parsed with json-five's round-trip model (``json5.loader.ModelLoader``), which records
where every value starts and ends, and then edited as *text*: only the span of the
configuration with the same ``name`` is replaced, or a new one is spliced in before the
closing ``]``. Every other byte (other configurations, comments, indentation, line endings,
a byte-order mark) stays as it was, so a second run with the same options leaves the file
identical.

json-five reads JSON5, a superset of JSONC; constructs that VS Code would reject (single
quotes, unquoted keys, hexadecimal numbers, ``Infinity``...) are refused here too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import typing as t
from pathlib import Path

from .ide_config import IdeConfigError, LaunchJsonError

if t.TYPE_CHECKING:
    from json5 import model

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
_INDENT = "    "
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


def new_launch_json(config: t.Mapping[str, t.Any], *, newline: str = "\n") -> str:
    """A whole launch.json holding only `config`."""
    unit = _INDENT
    obj = _render(config, unit * 2, unit, newline)
    lines = [
        "{",
        f'{unit}"version": "0.2.0",',
        f'{unit}"configurations": [',
        f"{unit * 2}{obj}",
        f"{unit}]",
        "}",
    ]
    return newline.join(lines) + newline


class _Text:
    """Offsets in the source text from the line and column numbers json-five reports."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        for line in text.split("\n"):
            self.starts.append(self.starts[-1] + len(line) + 1)

    def span(self, node: model.Node) -> tuple[int, int]:
        """Where `node` starts and ends, as offsets in the text."""
        first, col, last, end_col = (
            node.lineno,
            node.col_offset,
            node.end_lineno,
            node.end_col_offset,
        )
        if first is None or col is None or last is None or end_col is None:
            raise _internal("a value without a position")
        return self.starts[first - 1] + col, self.starts[last - 1] + end_col

    def indent_at(self, offset: int) -> str:
        """The whitespace that starts the line holding `offset`."""
        line_start = self.text.rfind("\n", 0, offset) + 1
        end = line_start
        while end < len(self.text) and self.text[end] in " \t":
            end += 1
        return self.text[line_start:end]

    def starts_line(self, offset: int) -> bool:
        line_start = self.text.rfind("\n", 0, offset) + 1
        return not self.text[line_start:offset].strip()

    def before_close(self, close: int) -> int:
        """Where to splice before the closing bracket at `close`: after the last comma,
        value or comment, so a ``// comment`` there keeps its line."""
        pos = close
        while pos > 0 and self.text[pos - 1] in " \t\r\n":
            pos -= 1
        return pos


def _kind(node: model.Node) -> str:
    from json5 import model

    names: dict[type[model.Node], str] = {
        model.JSONObject: "an object",
        model.JSONArray: "an array",
        model.BooleanLiteral: "a boolean",
        model.NullLiteral: "null",
    }
    for cls, name in names.items():
        if isinstance(node, cls):
            return name
    if isinstance(node, model.String):
        return "a string"
    return "a number"


def _internal(what: str) -> LaunchJsonError:
    """json-five broke a promise this module relies on: refuse rather than guess."""
    return LaunchJsonError(
        f"json-five reported {what} while reading launch.json; the file was not changed"
    )


def _line(node: model.Node) -> str:
    return f"line {node.lineno}"


def _excerpt(raw: str, limit: int = 40) -> str:
    """`raw` source text fit for a one-line message."""
    text = raw.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parse(text: str, source: str) -> model.JSONObject:
    """Parse `text` as JSONC and return its top-level object, or raise LaunchJsonError."""
    from json5 import model
    from json5.loader import ModelLoader, loads
    from json5.utils import JSON5DecodeError

    try:
        document = loads(text, loader=ModelLoader())
    except JSON5DecodeError as exc:
        raise LaunchJsonError(
            f"{source}: not valid JSONC{_describe(exc, text)}; fix it in VS Code, which "
            "underlines the error, then run this again"
        ) from None
    if not isinstance(document, model.JSONText):
        raise _internal("no document")
    _check_jsonc(document, source)
    top = document.value
    if not isinstance(top, model.JSONObject):
        raise LaunchJsonError(
            f"{source}: the top level is {_kind(top)}, but launch.json must be an object "
            'like {"version": "0.2.0", "configurations": []}'
        )
    return top


_TOKEN_NAMES = {
    "LBRACE": "{",
    "RBRACE": "}",
    "LBRACKET": "[",
    "RBRACKET": "]",
    "COLON": ":",
    "COMMA": ",",
}


def _describe(exc: ValueError, text: str) -> str:
    """json-five's error as `` at line L, column C (what)``: its messages can span lines,
    name grammar tokens, and give the position in three different ways."""
    lines = [line.strip() for line in str(getattr(exc, "msg", exc)).splitlines() if line.strip()]
    if len(lines) > 2 and lines[0].startswith("There were multiple errors"):
        lines = lines[2:]  # the primary error follows "The primary error was:"
    what = lines[0] if lines else "syntax error"
    index: int | None = getattr(exc, "index", 0) or None
    found = re.search(r"\(char (\d+)\)|at index (\d+)", what)
    if index is None and found:
        index = int(found.group(1) or found.group(2))
    what = re.sub(r"\s*in or near token \w+ at.*$", "", what)
    what = re.sub(r"\s*(?:at: |\()line \d+ column \d+ \(char \d+\)", "", what)
    what = re.sub(r"\s*at index \d+", "", what)
    what = re.sub(r"\b[A-Z]+\b", lambda m: _TOKEN_NAMES.get(m[0], m[0]), what).rstrip(". ")
    if index is None:
        return f" ({what})"
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    return f" at line {line}, column {column} ({what})"


def _check_jsonc(document: model.JSONText, source: str) -> None:
    """Refuse JSON5 that VS Code's JSONC parser would not read. Iterative: deep nesting is
    no reason to crash."""
    from json5 import model

    todo: list[model.Node] = [document.value]
    while todo:
        node = todo.pop()
        problem = None
        if isinstance(node, model.JSONObject):
            todo.extend(node.keys)
            todo.extend(node.values)
        elif isinstance(node, model.JSONArray):
            todo.extend(node.values)
        elif isinstance(node, model.Identifier):
            problem = f"the key {_excerpt(node.name)} has no double quotes"
        elif isinstance(node, model.SingleQuotedString):
            problem = f"{_excerpt(node.raw_value)} uses single quotes"
        elif isinstance(node, (model.DoubleQuotedString, model.Integer, model.Float)):
            try:
                json.loads(node.raw_value)
            except ValueError:
                problem = f"{_excerpt(node.raw_value)} is JSON5, not JSON"
        elif isinstance(node, model.UnaryOp):
            if node.op != "-":
                problem = "a number has a leading +"
            todo.append(node.value)
        elif isinstance(node, (model.Infinity, model.NaN)):
            problem = f"{node.const} is not a JSON number"
        if problem is not None:
            raise LaunchJsonError(
                f"{source}: not valid JSONC at {_line(node)}: {problem}; "
                "VS Code would not read it either"
            )


def _string(node: model.Node) -> str | None:
    from json5 import model

    return node.characters if isinstance(node, model.DoubleQuotedString) else None


def _require_json_five() -> None:
    """json-five installs the module ``json5``, as does the unrelated ``json5`` package
    (pyjson5, pulled in by JupyterLab among others); only one can be installed at a time."""
    try:
        import json5.loader  # noqa: F401
    except ImportError:
        raise IdeConfigError(
            "editing launch.json needs the json-five package, but the installed json5 module "
            "is another package (pyjson5?); run: pip install --force-reinstall json-five"
        ) from None


class Merge(t.NamedTuple):
    """The result of :func:`merge_configuration`."""

    text: str
    #: ``created``, ``added``, ``replaced`` or ``unchanged``
    action: str


def merge_configuration(
    text: str | None, config: t.Mapping[str, t.Any], *, source: str = "launch.json"
) -> Merge:
    """Merge `config` into the launch.json `text` by name and return the new text and what
    was done: ``created``, ``added``, ``replaced`` or ``unchanged`` (already identical).

    None or blank `text` gives a new file. Text that is not JSONC, or whose top level or
    ``configurations`` has the wrong type, raises :class:`LaunchJsonError`; `source` names
    the file in that message.
    """
    newline = "\r\n" if text is not None and "\r\n" in text else "\n"
    if text is None or not text.strip():
        return Merge(new_launch_json(config, newline=newline), "created")
    _require_json_five()
    from json5 import model

    top = _parse(text, source)
    doc = _Text(text)
    unit = _indent_unit(doc, top)

    found = [
        (key, value)
        for key, value in zip(top.keys, top.values, strict=True)
        if _string(key) == "configurations"
    ]
    if len(found) > 1:
        raise LaunchJsonError(
            f'{source}: "configurations" appears {len(found)} times; keep one, then run this again'
        )
    if not found:
        obj = _render(config, unit * 2, unit, newline)
        member = f'"configurations": [{newline}{unit * 2}{obj}{newline}{unit}]'
        return Merge(_append(doc, top, member, unit, "", newline), "added")
    key, array = found[0]
    if not isinstance(array, model.JSONArray):
        raise LaunchJsonError(
            f'{source}: "configurations" is {_kind(array)} at {_line(array)}, '
            "but must be an array of objects"
        )
    for number, item in enumerate(array.values, 1):
        if not isinstance(item, model.JSONObject):
            raise LaunchJsonError(
                f'{source}: item {number} of "configurations" is {_kind(item)} '
                f"at {_line(item)}, but each configuration must be an object"
            )

    name = config["name"]
    for item in array.values:
        if not isinstance(item, model.JSONObject):  # checked above; this tells mypy
            continue
        names = [
            _string(v) for k, v in zip(item.keys, item.values, strict=True) if _string(k) == "name"
        ]
        if names and names[-1] == name:
            start, end = doc.span(item)
            replacement = _render(config, doc.indent_at(start), unit, newline)
            if text[start:end] == replacement:
                return Merge(text, "unchanged")
            return Merge(text[:start] + replacement + text[end:], "replaced")

    key_start, _ = doc.span(key)
    key_indent = doc.indent_at(key_start)
    if array.values and doc.starts_line(doc.span(array.values[0])[0]):
        item_indent = doc.indent_at(doc.span(array.values[0])[0])
    else:
        item_indent = key_indent + unit
    obj = _render(config, item_indent, unit, newline)
    return Merge(_append(doc, array, obj, item_indent, key_indent, newline), "added")


def _append(
    doc: _Text,
    container: model.JSONObject | model.JSONArray,
    member: str,
    indent: str,
    close_indent: str,
    newline: str,
) -> str:
    """Splice `member` in as the last member of `container`, on a line of its own.

    A comma goes right after the current last member (never after a comment that follows
    it, where it would be commented out), and a trailing comma is kept as the file's style.
    """
    text = doc.text
    _, end = doc.span(container)
    close = end - 1
    if text[close] not in "]}":
        raise _internal("a container that does not end in ] or }")
    at = doc.before_close(close)
    tail = "," if container.trailing_comma is not None else ""
    insert = f"{newline}{indent}{member}{tail}"
    if "\n" not in text[at:close]:
        insert += f"{newline}{close_indent}"
    members = container.values
    if members and container.trailing_comma is None:
        _, last_end = doc.span(members[-1])
        return text[:last_end] + "," + text[last_end:at] + insert + text[at:]
    return text[:at] + insert + text[at:]


def _indent_unit(doc: _Text, top: model.JSONObject) -> str:
    """One level of indentation as the file has it: the indentation of its first top-level
    key, if that starts a line; four spaces otherwise."""
    for key in top.keys:
        start, _ = doc.span(key)
        if doc.starts_line(start):
            found = doc.indent_at(start)
            if found:
                return found
    return _INDENT


def write_launch_json(path: str | os.PathLike[str], config: t.Mapping[str, t.Any]) -> str:
    """Merge `config` into the launch.json at `path` (see :func:`merge_configuration`),
    creating the file and its directory when missing, and return what was done.

    The file is replaced atomically (a temporary file in the same directory, then
    :func:`os.replace`) and keeps its permission bits; through a symlink, the link's target
    is written. When nothing changes the file is not touched.
    """
    shown = os.fspath(path)
    target = Path(os.path.realpath(path))
    try:
        raw: bytes | None = target.read_bytes()
    except FileNotFoundError:
        raw = None
    except IsADirectoryError:
        raise LaunchJsonError(f"{shown}: is a directory; give the path of a file") from None
    except OSError as exc:
        raise LaunchJsonError(f"{shown}: cannot read it ({exc.strerror})") from None
    try:
        text = None if raw is None else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LaunchJsonError(
            f"{shown}: not UTF-8 text (byte {exc.start}); save it as UTF-8, then run this again"
        ) from None
    merged = merge_configuration(text, config, source=shown)
    if merged.action != "unchanged":
        _replace_atomically(target, merged.text, shown)
    return merged.action


def _replace_atomically(target: Path, text: str, shown: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LaunchJsonError(f"{shown}: cannot create its directory ({exc.strerror})") from None
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise LaunchJsonError(f"{shown}: cannot write it ({exc.strerror})") from None
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        # 0o666 lets the umask decide a new file's mode, as for any file an editor creates.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise LaunchJsonError(f"{shown}: cannot write it ({exc.strerror})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise

"""Merging one configuration into a launch.json without losing a byte.

launch.json is JSONC: JSON with ``//`` and ``/* */`` comments and trailing commas. The
file is read with the position of every value (:mod:`.jsonc`) and then edited as *text*:
only the span of the configuration with the same ``name`` is replaced, or a new one is
spliced in before the closing ``]``. Every other byte (other configurations, comments,
indentation, line endings, a byte-order mark) stays as it was, so a second run with the
same options leaves the file identical.

What the configuration says is not this module's business: the caller passes a
:data:`Render` that writes it at the indentation found (:mod:`.vscode_config` does).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import typing as t
from pathlib import Path

from ..errors import LaunchJsonError
from .jsonc import (
    SourceText,
    internal_error,
    kind_of,
    line_of,
    parse_object,
    require_json_five,
    string_value,
)

if t.TYPE_CHECKING:
    from json5 import model

__all__ = ["INDENT", "Merge", "Render", "merge_configuration", "new_file", "write_launch_json"]

#: One level of indentation in a file this module writes from scratch.
INDENT = "    "
#: Writes the configuration object as ``render(indent, unit, newline)``: `indent` starts
#: each line after the first, `unit` is one level, `newline` the file's line ending. The
#: merge finds the file's own style and passes it in.
Render = t.Callable[[str, str, str], str]


class Merge(t.NamedTuple):
    """The result of :func:`merge_configuration`."""

    text: str
    #: ``created``, ``added``, ``replaced`` or ``unchanged``
    action: str


def new_file(render: Render, *, newline: str = "\n") -> str:
    """A whole launch.json holding only the configuration `render` writes."""
    unit = INDENT
    lines = [
        "{",
        f'{unit}"version": "0.2.0",',
        f'{unit}"configurations": [',
        f"{unit * 2}{render(unit * 2, unit, newline)}",
        f"{unit}]",
        "}",
    ]
    return newline.join(lines) + newline


def merge_configuration(
    text: str | None, name: str, render: Render, *, source: str = "launch.json"
) -> Merge:
    """Merge the configuration called `name`, as `render` writes it, into the launch.json
    `text`; return the new text and what was done: ``created``, ``added``, ``replaced`` or
    ``unchanged`` (already identical).

    None or blank `text` gives a new file. Text that is not JSONC, or whose top level or
    ``configurations`` has the wrong type, raises :class:`LaunchJsonError`; `source` names
    the file in that message.
    """
    newline = "\r\n" if text is not None and "\r\n" in text else "\n"
    if text is None or not text.strip():
        return Merge(new_file(render, newline=newline), "created")
    require_json_five()
    from json5 import model

    top = parse_object(text, source)
    doc = SourceText(text)
    unit = _indent_unit(doc, top)

    found = [
        (key, value)
        for key, value in zip(top.keys, top.values, strict=True)
        if string_value(key) == "configurations"
    ]
    if len(found) > 1:
        raise LaunchJsonError(
            f'{source}: "configurations" appears {len(found)} times; keep one, then run this again'
        )
    if not found:
        obj = render(unit * 2, unit, newline)
        member = f'"configurations": [{newline}{unit * 2}{obj}{newline}{unit}]'
        return Merge(_append(doc, top, member, unit, "", newline), "added")
    key, array = found[0]
    if not isinstance(array, model.JSONArray):
        raise LaunchJsonError(
            f'{source}: "configurations" is {kind_of(array)} at {line_of(array)}, '
            "but must be an array of objects"
        )
    for number, item in enumerate(array.values, 1):
        if not isinstance(item, model.JSONObject):
            raise LaunchJsonError(
                f'{source}: item {number} of "configurations" is {kind_of(item)} '
                f"at {line_of(item)}, but each configuration must be an object"
            )

    for item in array.values:
        if not isinstance(item, model.JSONObject):  # checked above; this tells mypy
            continue
        names = [
            string_value(v)
            for k, v in zip(item.keys, item.values, strict=True)
            if string_value(k) == "name"
        ]
        if names and names[-1] == name:
            start, end = doc.span(item)
            replacement = render(doc.indent_at(start), unit, newline)
            if text[start:end] == replacement:
                return Merge(text, "unchanged")
            return Merge(text[:start] + replacement + text[end:], "replaced")

    key_start, _ = doc.span(key)
    key_indent = doc.indent_at(key_start)
    if array.values and doc.starts_line(doc.span(array.values[0])[0]):
        item_indent = doc.indent_at(doc.span(array.values[0])[0])
    else:
        item_indent = key_indent + unit
    obj = render(item_indent, unit, newline)
    return Merge(_append(doc, array, obj, item_indent, key_indent, newline), "added")


def _append(
    doc: SourceText,
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
        raise internal_error("a container that does not end in ] or }")
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


def _indent_unit(doc: SourceText, top: model.JSONObject) -> str:
    """One level of indentation as the file has it: the indentation of its first top-level
    key, if that starts a line; four spaces otherwise."""
    for key in top.keys:
        start, _ = doc.span(key)
        if doc.starts_line(start):
            found = doc.indent_at(start)
            if found:
                return found
    return INDENT


def write_launch_json(path: str | os.PathLike[str], name: str, render: Render) -> str:
    """Merge the configuration `name` into the launch.json at `path` (see
    :func:`merge_configuration`), creating the file and its directory when missing, and
    return what was done.

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
    merged = merge_configuration(text, name, render, source=shown)
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

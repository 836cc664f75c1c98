"""launch.json read as VS Code reads it: JSONC, with where every value sits in the text.

json-five's round-trip model (``json5.loader.ModelLoader``) keeps each value's position,
which is what lets :mod:`.launch_json` edit the file as text. json-five reads JSON5, a
superset of JSONC; constructs that VS Code would reject (single quotes, unquoted keys,
hexadecimal numbers, ``Infinity``...) are refused here, in one line naming where. json5
is imported only when a file is read, so the CLI starts without it.
"""

from __future__ import annotations

import json
import re
import typing as t

from ..errors import IdeConfigError, LaunchJsonError

if t.TYPE_CHECKING:
    from json5 import model

__all__ = [
    "SourceText",
    "internal_error",
    "kind_of",
    "line_of",
    "parse_object",
    "require_json_five",
    "string_value",
]


class SourceText:
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
            raise internal_error("a value without a position")
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


def kind_of(node: model.Node) -> str:
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


def internal_error(what: str) -> LaunchJsonError:
    """json-five broke a promise this module relies on: refuse rather than guess."""
    return LaunchJsonError(
        f"json-five reported {what} while reading launch.json; the file was not changed"
    )


def line_of(node: model.Node) -> str:
    return f"line {node.lineno}"


def _excerpt(raw: str, limit: int = 40) -> str:
    """`raw` source text fit for a one-line message."""
    text = raw.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_object(text: str, source: str) -> model.JSONObject:
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
        raise internal_error("no document")
    _check_jsonc(document, source)
    top = document.value
    if not isinstance(top, model.JSONObject):
        raise LaunchJsonError(
            f"{source}: the top level is {kind_of(top)}, but launch.json must be an object "
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
                f"{source}: not valid JSONC at {line_of(node)}: {problem}; "
                "VS Code would not read it either"
            )


def string_value(node: model.Node) -> str | None:
    from json5 import model

    return node.characters if isinstance(node, model.DoubleQuotedString) else None


def require_json_five() -> None:
    """json-five installs the module ``json5``, as does the unrelated ``json5`` package
    (pyjson5, pulled in by JupyterLab among others); only one can be installed at a time."""
    try:
        import json5.loader  # noqa: F401
    except ImportError:
        raise IdeConfigError(
            "editing launch.json needs the json-five package, but the installed json5 module "
            "is another package (pyjson5?); run: pip install --force-reinstall json-five"
        ) from None

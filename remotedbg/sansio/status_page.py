"""The status page, ``GET <app>/__remotedbg__``: one schema for the server that writes it and
the laptop and doctor that read it.

The server builds a :class:`StatusPage` and sends :meth:`StatusPage.to_json`; readers call
:meth:`StatusPage.from_json` and get typed fields or one :class:`MalformedStatusPage`.
Reading is strict about types, because ``attach`` decides where to send the token from
this page, and lenient about absence: a key an older server does not send takes its
default (``armed`` and ``token_required`` false, the rest None), and a key a newer server
adds is ignored. Whether a reader needs a key (``app_root`` for path mappings,
``expires_at`` for an armed page) is the reader's to say.

``expires_at`` travels as ISO 8601 UTC in whole seconds (``2030-01-01T12:30:00Z``);
:func:`format_expiry` and :func:`parse_expiry` are the two directions.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t
from datetime import datetime, timezone

from ..errors import MalformedStatusPage

__all__ = [
    "STATUS_PATH",
    "MalformedStatusPage",
    "StatusPage",
    "format_expiry",
    "parse_expiry",
    "parse_iso8601",
]

#: Where the hook answers the status page, under wherever the app is mounted.
STATUS_PATH = "/__remotedbg__"

_TRAILING_Z = re.compile(r"[zZ]$")


def parse_iso8601(text: str) -> datetime:
    """`text` as a datetime, naive if it names no zone; raises ValueError.

    A trailing ``Z`` is read as UTC: ``datetime.fromisoformat`` takes it only from 3.11.
    """
    return datetime.fromisoformat(_TRAILING_Z.sub("+00:00", text))


def format_expiry(seconds: float) -> str:
    """A POSIX time as the page writes ``expires_at``: UTC, whole seconds, ending in Z."""
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_expiry(text: str) -> float:
    """An ``expires_at`` as POSIX time; raises ValueError unless ISO 8601 with a zone.

    A zone is required: read as local time, a UTC deadline would be off by hours.
    """
    moment = parse_iso8601(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.timestamp()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StatusPage:
    """What the status page says, field for field as its JSON keys (and in their order)."""

    #: Whether the debugger is armed in this process now.
    armed: bool
    #: The process that answered: with several workers, the one this request reached.
    pid: int | None
    #: Where the bridge listens, as the server sees it (a wildcard, loopback, or an address).
    dap_host: str | None
    #: The bridge's port; 0 before a picked port is known.
    dap_port: int | None
    #: When the armed window closes (:func:`format_expiry`), or None when not armed.
    expires_at: str | None
    #: The app's directory on the server: the remote side of the path mappings.
    app_root: str | None
    #: Whether the attach request must carry ``remotedbgToken``.
    token_required: bool
    #: ``debugpy`` or ``pycharm``.
    backend: str | None
    #: Why the last arming failed, or None.
    error: str | None

    def to_json(self) -> bytes:
        """The page's body: the same bytes as ``json.dumps`` of its fields as a dict."""
        return json.dumps(self.to_dict()).encode()

    def to_dict(self) -> dict[str, object]:
        """The fields as the JSON object, in the order the page has always had its keys."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @property
    def expires_at_seconds(self) -> float | None:
        """``expires_at`` as POSIX time (checked to parse when the page was read)."""
        return None if self.expires_at is None else parse_expiry(self.expires_at)

    @classmethod
    def from_json(cls, body: bytes | str) -> StatusPage:
        """Read a page's body; raises MalformedStatusPage if it is not JSON or not the schema."""
        try:
            data = json.loads(body)
        except ValueError:  # not UTF-8 (UnicodeDecodeError) or not JSON
            raise MalformedStatusPage(None, "the body is not JSON") from None
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: object) -> StatusPage:
        """A page from its decoded JSON object, checked key by key as :meth:`from_json` does."""
        if not isinstance(data, t.Mapping):
            raise MalformedStatusPage(None, f"the body is {_json_kind(data)}, not a JSON object")
        page = cls(
            armed=_flag(data, "armed"),
            pid=_integer(data, "pid", minimum=0),
            dap_host=_text(data, "dap_host"),
            dap_port=_integer(data, "dap_port", minimum=0, maximum=65535),
            expires_at=_text(data, "expires_at"),
            app_root=_text(data, "app_root"),
            token_required=_flag(data, "token_required"),
            backend=_text(data, "backend"),
            error=_text(data, "error"),
        )
        if page.expires_at is not None:
            try:
                parse_expiry(page.expires_at)
            except ValueError:
                raise MalformedStatusPage(
                    "expires_at",
                    f"expires_at {page.expires_at!r} is not an ISO 8601 time with a zone",
                ) from None
        return page


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _wrong(key: str, value: object, wanted: str) -> MalformedStatusPage:
    return MalformedStatusPage(key, f"{key} is {_json_kind(value)} ({value!r:.40}), not {wanted}")


def _flag(data: t.Mapping[str, object], key: str) -> bool:
    value = data.get(key, False)
    if type(value) is not bool:
        raise _wrong(key, value, "true or false")
    return value


def _text(data: t.Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise _wrong(key, value, "a string or null")
    return value


def _integer(
    data: t.Mapping[str, object], key: str, *, minimum: int, maximum: int | None = None
) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    # bool is an int to Python, not to JSON: true is no port.
    if type(value) is not int:
        raise _wrong(key, value, "an integer or null")
    if value < minimum or (maximum is not None and value > maximum):
        top = "" if maximum is None else f" to {maximum}"
        raise MalformedStatusPage(key, f"{key} {value} is out of range ({minimum}{top})")
    return value

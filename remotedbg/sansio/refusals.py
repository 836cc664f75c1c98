"""Why the door refused an IDE, read off the DAP error response rather than out of its words.

The contract (what the door emits, what the relay and tests read): a refusal is a DAP
response with ``success: false``, the text in ``message``, and in its body the error
object VS Code shows, with one key of ours, ``remotedbgRefusal``, holding a
:class:`~remotedbg.errors.RefusalKind` value::

    {"type": "response", "request_seq": 2, "success": false, "command": "attach",
     "message": "remotedbg: the \\"remotedbgToken\\" is wrong; ...",
     "body": {"error": {"id": 1, "format": "remotedbg: the \\"remotedbgToken\\" is wrong; ...",
                        "showUser": true, "remotedbgRefusal": "token"}}}

:func:`refusal_body` builds that body. ``id`` is an integer (DAP requires one; the door
uses 1), ``format`` is the same text as ``message`` (VS Code substitutes ``{name}`` in it,
so the door never puts braces from user input there), and ``remotedbgRefusal`` is one of
``token``, ``busy``, ``peer``, ``expired``, ``rate_limited``, ``other_user``, ``unavailable``,
``unsupported``. A wrong token refused after a slow-down is still ``token``:
``rate_limited`` is for a refusal with no token verdict behind it.

Servers before this contract send no ``remotedbgRefusal``; for them :func:`refusal_kind`
falls back to the words they have always used. A value this client does not know (a newer
server's kind) falls back to the words too, then to ``unknown``.
"""

from __future__ import annotations

import typing as t

from ..errors import RefusalKind

if t.TYPE_CHECKING:
    from .dap_codec import Response

__all__ = ["REFUSAL_KEY", "kind_from_words", "refusal_body", "refusal_kind"]

#: The key in ``body.error`` that holds the kind.
REFUSAL_KEY = "remotedbgRefusal"

#: What older servers' refusals say, in the order they are tried (first match wins).
_WORDS: tuple[tuple[str, RefusalKind], ...] = (
    ("remotedbgtoken", RefusalKind.TOKEN),
    ("token", RefusalKind.TOKEN),
    ("another ide is already attached", RefusalKind.BUSY),
    ("not on the allowlist", RefusalKind.PEER),
    ("no armed window", RefusalKind.EXPIRED),
    ("window ended", RefusalKind.EXPIRED),
    ("too many connections", RefusalKind.RATE_LIMITED),
    ("another user", RefusalKind.OTHER_USER),
    ("another local user", RefusalKind.OTHER_USER),
    ("only supports attach", RefusalKind.UNSUPPORTED),
    ("send initialize before attach", RefusalKind.UNSUPPORTED),
)


def refusal_body(kind: RefusalKind, text: str, *, error_id: int = 1) -> dict[str, t.Any]:
    """The body of a refusal response, as the contract above says the door sends it."""
    return {"error": {"id": error_id, "format": text, "showUser": True, REFUSAL_KEY: kind.value}}


def refusal_kind(response: Response) -> RefusalKind | None:
    """Why `response` refused, or None if it did not (``success`` is true)."""
    if response.success:
        return None
    body = response.body
    error = body.get("error") if isinstance(body, t.Mapping) else None
    if isinstance(error, t.Mapping):
        declared = error.get(REFUSAL_KEY)
        if isinstance(declared, str):
            try:
                return RefusalKind(declared)
            except ValueError:
                pass  # a newer server's kind: the words may still say
        text = error.get("format")
        if isinstance(text, str) and response.message is None:
            return kind_from_words(text)
    return kind_from_words(response.message or "")


def kind_from_words(text: str) -> RefusalKind:
    """The kind an older server's refusal text says, or UNKNOWN."""
    lowered = text.lower()
    for words, kind in _WORDS:
        if words in lowered:
            return kind
    return RefusalKind.UNKNOWN

"""Who may debug: one request's facts in, one decision out, for every framework alike.

The WSGI, ASGI and Django hooks each translate their request into `RequestFacts` (the TCP
peer, the forwarding headers, the path) and nothing more; this module decides. Keeping the
decision here, free of any framework, is what makes the rules the same everywhere: a hook
cannot forget the trusted-proxy walk or read a header its own way.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from .client_address import FORWARDING_HEADER_NAMES, resolve_client_from

if t.TYPE_CHECKING:
    from .addresses import AddressSet, IPAddress

__all__ = ["Admission", "RequestFacts", "admit"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestFacts:
    """What the core needs to know of a request, whatever served it."""

    #: The TCP peer's address as the server gave it (``REMOTE_ADDR``, ``scope["client"][0]``).
    peer: str | None
    #: Forwarding headers present, lower-case names to values (repeats joined by commas).
    forwarding: t.Mapping[str, str] = field(default_factory=dict)
    #: The path inside the app (after any mount prefix), for the status page.
    path: str = ""
    #: The server removed forwarding headers before the hook saw them (waitress): the
    #: request may be a visitor's behind a proxy nobody told the server about.
    forwarding_removed: bool = False


@dataclass(frozen=True, slots=True)
class Admission:
    """The request's debugging client, or why forwarding headers were not believed."""

    client: IPAddress | None
    #: Set when the peer could have armed but its forwarding headers were refused: the
    #: hook puts it on record (a visitor's headers could never have armed, so they are not).
    refused: str | None = None


VISITOR = Admission(None)


def admit(facts: RequestFacts, allow: AddressSet, trusted: AddressSet) -> Admission:
    """Decide whether the request's client may arm and debug."""
    client = None
    if not facts.forwarding_removed:
        client = resolve_client_from(facts.peer, facts.forwarding, trusted)
    if client is not None:
        return Admission(client if client in allow else None)
    peer = facts.peer or ""
    is_trusted = peer in trusted
    if not (is_trusted or peer in allow):
        return VISITOR
    if facts.forwarding_removed:
        reason = "the server (waitress) removed a forwarding header before the hook saw it"
    elif not is_trusted:
        reason = "forwarding header from a peer that is not a trusted proxy"
    elif any(name in facts.forwarding for name in FORWARDING_HEADER_NAMES):
        reason = "forwarding header that cannot be parsed strictly or names no client"
    else:
        reason = "a trusted proxy sent no forwarding header"
    return Admission(None, reason)

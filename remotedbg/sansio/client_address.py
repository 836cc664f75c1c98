"""Decide which client a request really came from, trusting forwarding headers only from proxies.

It is a security issue to believe a forwarding header the client wrote itself (Werkzeug's
ProxyFix says the same). The rules, in order:

* The TCP peer (``REMOTE_ADDR``) is the only fact. If it is not a trusted proxy, a request
  that carries any forwarding header is refused outright, even when the peer is
  allowlisted: behind a reverse proxy on the same box every request arrives from 127.0.0.1,
  and the header is then the only trace of who really sent it.
* If the peer is a trusted proxy, the hop list (``Forwarded`` or ``X-Forwarded-For``) is
  walked from the right, skipping trusted proxies; the first untrusted hop is the client.
* A trusted proxy that sends neither header is not taken for the client: with nginx on the
  same box, that would make every visitor look like 127.0.0.1.
* When both headers are present they must name the same hops, since a proxy that appends to
  one passes a forged copy of the other through untouched. Anything not fully understood on
  the way (``unknown``, an obfuscated node, a stray quote) refuses the request rather than
  guessing.

The headers are parsed here, strictly, and not by an HTTP library: a lenient parser is
itself the hole. Werkzeug 3.0.0 to 3.1.6 read ``for=127.0.0.1;by="`` followed by the
``, for=203.0.113.9`` an appending proxy adds as one element, so the visitor's forged hop
came out last. A proxy appends its hop to whatever the client sent, so the client's part
must either parse completely or the whole header is worth nothing.

`resolve_client_from` takes the TCP peer and the header values, not a framework object;
`resolve_client` is its WSGI adapter.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t

from .addresses import AddressSet, IPAddress, parse_address

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "FORWARDING_HEADERS",
    "FORWARDING_HEADER_NAMES",
    "forwarded_hops",
    "resolve_client",
    "resolve_client_from",
    "wsgi_forwarding",
    "x_forwarded_for_hops",
]

#: Lower-case names of headers that claim a different client than the TCP peer.
FORWARDING_HEADER_NAMES = (
    "forwarded",
    "x-forwarded-for",
    "x-real-ip",
    "true-client-ip",
    "cf-connecting-ip",
)
#: The same headers as WSGI environ keys.
FORWARDING_HEADERS = tuple(
    f"HTTP_{name.upper().replace('-', '_')}" for name in FORWARDING_HEADER_NAMES
)
_WSGI_KEYS = tuple(zip(FORWARDING_HEADER_NAMES, FORWARDING_HEADERS, strict=True))

# RFC 7230 section 3.2.6 (token, quoted-string, quoted-pair) without obs-text, and RFC 7239
# section 4 without the empty list elements and empty pairs its ABNF tolerates. No pattern
# can backtrack: a token never holds a quote, and qdtext never a backslash or a quote.
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PAIR = re.compile(rf'({_TCHARS})=(?:({_TCHARS})|"((?:[\t !#-\[\]-~]|\\[\t -~])*)")')
_QUOTED_PAIR = re.compile(r"\\(.)")
#: After an element: optional whitespace, then a comma (captured) or the end of the value.
_LIST_SEPARATOR = re.compile(r"[ \t]*(?:(,)[ \t]*|\Z)")
_OWS = " \t"

# RFC 7239 section 6: ``1.2.3.4``, ``[v6]``, either with ``:port``. X-Forwarded-For has no
# standard; proxies write the same forms or a bare IPv6 address, which is allowed there.
_V4 = r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"
_V6 = r"[0-9A-Fa-f:.]+"
_PORT = r"(?::[0-9]{1,5})?"
_NODE = re.compile(rf"({_V4}){_PORT}|\[({_V6})\]{_PORT}|({_V6})")


def _node(text: str, *, bare_v6: bool) -> IPAddress | None:
    """The IP of one hop, or None for anything else (``unknown``, ``_hidden``, junk)."""
    match = _NODE.fullmatch(text)
    if match is None:
        return None
    v4, v6, bare = match.groups()
    try:
        if v4 is not None:
            return ipaddress.IPv4Address(v4)
        if bare is not None and not bare_v6:
            return None
        address = ipaddress.IPv6Address(v6 or bare)
    except ValueError:
        return None
    return address.ipv4_mapped or address


def forwarded_hops(value: str) -> list[IPAddress] | None:
    """The ``for=`` node of each element of an RFC 7239 ``Forwarded`` header, left to right.

    None when any part is not understood: bad syntax, a parameter given twice in an element,
    an element without ``for=``, or a node that is not an IP address.
    """
    hops: list[IPAddress] = []
    position = len(value) - len(value.lstrip(_OWS))
    while True:
        params: dict[str, str] = {}
        while True:
            pair = _PAIR.match(value, position)
            if pair is None:
                return None
            name, token, quoted = pair.groups()
            if name.lower() in params:
                return None
            params[name.lower()] = token if quoted is None else _QUOTED_PAIR.sub(r"\1", quoted)
            position = pair.end()
            if not value.startswith(";", position):
                break
            position += 1
        hop = _node(params.get("for", ""), bare_v6=False)
        separator = _LIST_SEPARATOR.match(value, position)
        if hop is None or separator is None:
            return None
        hops.append(hop)
        if separator.group(1) is None:
            return hops
        position = separator.end()


def x_forwarded_for_hops(value: str) -> list[IPAddress] | None:
    """The addresses in an ``X-Forwarded-For`` header, or None if any item is not one."""
    hops: list[IPAddress] = []
    for item in value.split(","):
        hop = _node(item.strip(_OWS), bare_v6=True)
        if hop is None:
            return None
        hops.append(hop)
    return hops


def _hops(headers: t.Mapping[str, str]) -> list[IPAddress] | None:
    """The hops the proxies name, or None if they name none, or disagree, or are unreadable."""
    found: list[list[IPAddress] | None] = []
    if (forwarded := headers.get("forwarded")) is not None:
        found.append(forwarded_hops(forwarded))
    if (xff := headers.get("x-forwarded-for")) is not None:
        found.append(x_forwarded_for_hops(xff))
    if not found or any(hops is None or hops != found[0] for hops in found):
        return None
    return found[0]


def resolve_client_from(
    peer: str | None, headers: t.Mapping[str, str], trusted_proxies: AddressSet
) -> IPAddress | None:
    """The real client's address, or None when it cannot be known safely (never arm then).

    `peer` is the TCP peer's address. `headers` maps lower-case header names (as ASGI gives
    them) to values, with repeated lines joined by commas (as WSGI servers do); only the
    names in `FORWARDING_HEADER_NAMES` are read.
    """
    address = parse_address(peer or "")
    if address is None:
        return None
    if address not in trusted_proxies:
        if any(name in headers for name in FORWARDING_HEADER_NAMES):
            return None
        return address
    hops = _hops(headers)
    if not hops:
        # A proxied request that does not say whom it is for: the proxy itself is not the
        # client, and with it on 127.0.0.1 every visitor would look local.
        return None
    client = address
    for hop in reversed(hops):
        if client not in trusted_proxies:
            break
        client = hop
    return client


def wsgi_forwarding(environ: t.Mapping[str, t.Any]) -> dict[str, str]:
    """A WSGI environ's forwarding headers, keyed as `resolve_client_from` reads them."""
    return {name: environ[key] for name, key in _WSGI_KEYS if key in environ}


def resolve_client(environ: WSGIEnvironment, trusted_proxies: AddressSet) -> IPAddress | None:
    """`resolve_client_from` for a WSGI request: the peer is ``REMOTE_ADDR``."""
    return resolve_client_from(
        environ.get("REMOTE_ADDR"), wsgi_forwarding(environ), trusted_proxies
    )

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
  one passes a forged copy of the other through untouched. Anything unparseable on the way
  (``unknown``, an obfuscated node) refuses the request rather than guessing.
"""

from __future__ import annotations

import typing as t

from werkzeug.http import parse_list_header

from .addresses import AddressSet, IPAddress, parse_address

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["FORWARDING_HEADERS", "resolve_client"]

#: WSGI keys of headers that claim a different client than the TCP peer.
FORWARDING_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_REAL_IP",
    "HTTP_TRUE_CLIENT_IP",
    "HTTP_CF_CONNECTING_IP",
)


def _node_address(node: str) -> IPAddress | None:
    """The IP of a hop written as ``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80`` or ``::1``."""
    node = node.strip().strip('"')
    if node.startswith("["):
        end = node.find("]")
        return parse_address(node[1:end]) if end > 0 else None
    if node.count(":") == 1:
        node = node.partition(":")[0]
    return parse_address(node)


def _forwarded_hops(value: str) -> list[IPAddress | None]:
    """The ``for=`` node of each element of an RFC 7239 ``Forwarded`` header."""
    hops: list[IPAddress | None] = []
    for element in parse_list_header(value):
        found: IPAddress | None = None
        for pair in element.split(";"):
            name, _, node = pair.partition("=")
            if name.strip().lower() == "for":
                found = _node_address(node)
        hops.append(found)
    return hops


def _x_forwarded_for_hops(value: str) -> list[IPAddress | None]:
    return [_node_address(node) for node in value.split(",")]


def _hops(environ: WSGIEnvironment) -> list[IPAddress | None] | None:
    forwarded = environ.get("HTTP_FORWARDED")
    xff = environ.get("HTTP_X_FORWARDED_FOR")
    if forwarded is None and xff is None:
        return []
    f_hops = _forwarded_hops(forwarded) if forwarded is not None else None
    x_hops = _x_forwarded_for_hops(xff) if xff is not None else None
    if f_hops is not None and x_hops is not None and f_hops != x_hops:
        return None
    return f_hops if f_hops is not None else x_hops


def resolve_client(environ: WSGIEnvironment, trusted_proxies: AddressSet) -> IPAddress | None:
    """The real client's address, or None when it cannot be known safely (never arm then)."""
    peer = parse_address(environ.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    if peer not in trusted_proxies:
        if any(key in environ for key in FORWARDING_HEADERS):
            return None
        return peer
    hops = _hops(environ)
    if not hops:
        # A proxied request that does not say whom it is for: the proxy itself is not the
        # client, and with it on 127.0.0.1 every visitor would look local.
        return None
    client: IPAddress | None = peer
    for hop in reversed(hops):
        if client is None or client not in trusted_proxies:
            break
        client = hop
    return client

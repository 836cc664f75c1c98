"""What a WSGI server does to a request before the hook sees it, that the hook must see through.

waitress deletes ``Forwarded`` and ``X-Forwarded-*`` from requests of peers it does not trust
(its ``clear_untrusted_proxy_headers``, on by default). Behind a reverse proxy on the same box
that waitress was not told about, every visitor then arrives from 127.0.0.1 with no trace of
who sent it, and would arm the debugger. The headers survive in waitress's parsed request,
which is where we look; if that cannot be reached, we assume the worst.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["removed_forwarding_header"]

#: Header names as waitress keys them (upper case, ``_`` for ``-``).
_FORWARDING = frozenset(
    {
        "FORWARDED",
        "X_FORWARDED_FOR",
        "X_FORWARDED_HOST",
        "X_FORWARDED_PROTO",
        "X_FORWARDED_PORT",
        "X_FORWARDED_BY",
        "X_REAL_IP",
        "TRUE_CLIENT_IP",
        "CF_CONNECTING_IP",
    }
)


def removed_forwarding_header(environ: WSGIEnvironment) -> bool:
    """True if the server took a forwarding header out of this request, or may have."""
    if not str(environ.get("SERVER_SOFTWARE", "")).startswith("waitress"):
        return False
    channel = getattr(environ.get("waitress.client_disconnected"), "__self__", None)
    requests = getattr(channel, "requests", None)
    headers = getattr(requests[0], "headers", None) if requests else None
    if not isinstance(headers, dict):
        return True
    return not _FORWARDING.isdisjoint(headers)

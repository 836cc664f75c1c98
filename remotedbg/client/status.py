"""What `remotedbg attach` takes from the status page: a :class:`Remote`, its host pinned.

The bridge is reached on the URL's host, or with ``--ssh`` on the server's loopback
through the tunnel; the status page only confirms it. A page that names any other host is
refused (:class:`~remotedbg.errors.AttachError`) before anything connects: the status page
does not choose where the token is sent.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import typing as t
import urllib.parse
from datetime import datetime

from ..errors import AttachError

__all__ = ["Remote", "on_this_machine", "remote_from_status"]

_WILDCARDS = ("0.0.0.0", "::", "")
#: Names of this machine's own loopback: the same host, whichever the URL and page use.
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclasses.dataclass(frozen=True)
class Remote:
    """What the status page said, and where the bridge is reached from here."""

    host: str
    port: int
    app_root: str
    expires_at: float
    token_required: bool


def _is_loopback(host: str) -> bool:
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_key(host: str) -> str:
    """A host as compared: names without case or a final dot, addresses in one spelling."""
    name = host.strip().strip("[]").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def _same_host(a: str, b: str) -> bool:
    key_a, key_b = _host_key(a), _host_key(b)
    return key_a == key_b or (key_a in _LOOPBACK_NAMES and key_b in _LOOPBACK_NAMES)


def _parse_expiry(text: object) -> float:
    if not isinstance(text, str):
        raise AttachError("the status page gave no expires_at; upgrade remotedbg on the server")
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _bridge_host(page_host: str, url_host: str, port: int, *, ssh: bool) -> str:
    """Where the bridge is reached: never a host the status page alone chose.

    Without --ssh, from here; with it, from the server's end of the tunnel.
    """
    if page_host in _WILDCARDS:
        # Listening everywhere: through a tunnel, the server's own loopback is the way in;
        # without one, the host the app was reached at.
        return "127.0.0.1" if ssh else url_host
    if _is_loopback(page_host):
        if ssh:
            return page_host  # the server's loopback, at the far end of the tunnel
        if not _is_loopback(url_host):
            raise AttachError(
                f"the debugger listens on the server's loopback ({page_host}:{port}), which "
                "this machine cannot reach; add --ssh user@server to tunnel to it"
            )
    if _same_host(page_host, url_host):
        return page_host if _is_loopback(url_host) else url_host
    raise AttachError(
        f"the status page puts the debugger on {page_host}, not on the URL's host {url_host}; "
        f"the token was not sent. Attach with a URL on {page_host} if that is the same "
        f"server, or set the server's REMOTEDBG_DAP_HOST to {url_host} (or 127.0.0.1 and use "
        "--ssh); if neither fits, something between you and the server rewrote the page"
    )


def remote_from_status(url: str, status: t.Mapping[str, t.Any], *, ssh: bool) -> Remote:
    """Where to reach the bridge: the URL's host (or the tunnel), as the status page confirms.

    Raises AttachError when the page names another host: the token goes nowhere else.
    """
    if not status.get("armed"):
        reason = status.get("error") or "the armed window could not be opened"
        raise AttachError(f"the server did not arm the debugger: {reason}")
    port = int(status.get("dap_port", 0))
    url_host = urllib.parse.urlsplit(url).hostname or ""
    host = _bridge_host(str(status.get("dap_host", "")), url_host, port, ssh=ssh)
    return Remote(
        host=host,
        port=port,
        app_root=str(status["app_root"]),
        expires_at=_parse_expiry(status.get("expires_at")),
        token_required=bool(status.get("token_required")),
    )


def on_this_machine(host: str) -> bool:
    """Whether `host` is this machine: loopback, or an address of one of its interfaces."""
    if _is_loopback(host):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(address), 0))  # only an address of this machine can be bound
        except OSError:
            return False
    return True

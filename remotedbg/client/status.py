"""Reading the status page: fetched once (:func:`fetch_status`), and for `remotedbg attach`
turned into a :class:`Remote` whose host is pinned.

The bridge is reached on the URL's host, or with ``--ssh`` on the server's loopback
through the tunnel; the status page only confirms it. A page that names any other host is
refused (:class:`~remotedbg.errors.AttachError`) before anything connects: the status page
does not choose where the token is sent. What the page holds, and how strictly it is read,
is :mod:`remotedbg.sansio.status_page`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import typing as t
import urllib.error
import urllib.parse
import urllib.request

from ..errors import AttachError, ConfigError, MalformedStatusPage, StatusPageError
from ..sansio.status_page import STATUS_PATH, StatusPage, parse_expiry

__all__ = [
    "STATUS_TIMEOUT",
    "Remote",
    "fetch_status",
    "on_this_machine",
    "remote_from_status",
    "status_url",
]

#: Seconds to wait for the status page before giving up.
STATUS_TIMEOUT = 5.0
#: The status page is a few hundred bytes; anything far larger is not it.
_MAX_STATUS_BYTES = 64 * 1024
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


def _expiry(page: StatusPage) -> float:
    if page.expires_at is None:
        raise AttachError("the status page gave no expires_at; upgrade remotedbg on the server")
    return parse_expiry(page.expires_at)


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


def remote_from_status(
    url: str, status: StatusPage | t.Mapping[str, t.Any], *, ssh: bool
) -> Remote:
    """Where to reach the bridge: the URL's host (or the tunnel), as the status page confirms.

    `status` is the page, or its JSON object (read as StatusPage.from_mapping does). Raises
    AttachError when the page names another host: the token goes nowhere else.
    """
    page = status if isinstance(status, StatusPage) else StatusPage.from_mapping(status)
    if not page.armed:
        reason = page.error or "the armed window could not be opened"
        raise AttachError(f"the server did not arm the debugger: {reason}")
    port = page.dap_port or 0
    url_host = urllib.parse.urlsplit(url).hostname or ""
    host = _bridge_host(page.dap_host or "", url_host, port, ssh=ssh)
    if not page.app_root:
        raise AttachError("the status page gave no app_root; upgrade remotedbg on the server")
    return Remote(
        host=host,
        port=port,
        app_root=page.app_root,
        expires_at=_expiry(page),
        token_required=page.token_required,
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


def status_url(url: str, *, label: str = "--url") -> str:
    """The status page URL for an app URL: ``https://host/app`` → ``https://host/app/__remotedbg__``.

    The status page is answered at that path under wherever the app is mounted, so the path
    of `url` is kept. A `url` that already ends with it is returned unchanged. `label` is
    how the error for a bad `url` names it: the option, or ``URL`` for an argument.
    """
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            label, url, "not an http or https URL", "write it like https://staging.example.com"
        )
    path = parts.path.rstrip("/")
    if not path.endswith(STATUS_PATH):
        path += STATUS_PATH
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def fetch_status(
    url: str,
    *,
    timeout: float = STATUS_TIMEOUT,
    fallback: str = "or pass --remote-root PATH instead",
    label: str = "--url",
) -> StatusPage:
    """GET the status page of the app at `url` and return it, read by its schema.

    The page must follow the schema and hold a non-empty ``app_root``; anything else (no
    answer, an HTTP error, not remotedbg's page) raises :class:`StatusPageError` with one
    line that says what happened and what to do, ending with `fallback`, the caller's way
    around it. A `url` that is not http or https raises ConfigError naming `label`.
    """
    target = status_url(url, label=label)
    body = _get(target, timeout, fallback)
    try:
        page = StatusPage.from_json(body)
    except MalformedStatusPage as exc:
        if exc.key is None:
            raise StatusPageError(
                f"GET {target} did not return a JSON object, so it is not remotedbg's status "
                f"page; check the URL, {fallback}"
            ) from None
        if exc.key != "app_root":
            raise StatusPageError(
                f"GET {target} returned a malformed status page ({exc.problem}); check the "
                f"URL, or upgrade remotedbg on the server, {fallback}"
            ) from None
        page = None
    if page is None or not page.app_root or not page.app_root.strip():
        raise StatusPageError(
            f"GET {target} returned no app_root; upgrade remotedbg on the server, {fallback}"
        )
    return page


def _get(target: str, timeout: float, fallback: str) -> bytes:
    """The body at `target`, at most a little over the cap; one-line errors."""
    # status_url() admits only http and https, so no file: or custom scheme gets here.
    request = urllib.request.Request(target, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read(_MAX_STATUS_BYTES + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        hint = (
            "it is answered only to clients on the app's REMOTEDBG_ALLOW list, with the hook on"
            if exc.code in (403, 404)
            else "check the app's logs"
        )
        raise StatusPageError(
            f"GET {target} answered {exc.code} {exc.reason}: {hint}; {fallback}"
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise StatusPageError(
                f"GET {target}: no answer within {timeout:g}s; check the URL, {fallback}"
            ) from None
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
        raise StatusPageError(
            f"GET {target}: could not connect ({text}); check the URL, {fallback}"
        ) from None
    except TimeoutError:
        raise StatusPageError(
            f"GET {target}: no answer within {timeout:g}s; check the URL, {fallback}"
        ) from None
    except OSError as exc:
        raise StatusPageError(
            f"GET {target}: {exc.strerror or exc}; check the URL, {fallback}"
        ) from None
    if len(body) > _MAX_STATUS_BYTES:
        raise StatusPageError(
            f"GET {target} returned more than {_MAX_STATUS_BYTES} bytes, which is not "
            f"remotedbg's status page; check the URL, {fallback}"
        )
    return body

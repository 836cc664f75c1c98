"""End to end: a trusted proxy that appends to Forwarded, and a visitor who forges a quote.

The test plays the proxy on 127.0.0.3 (``REMOTEDBG_TRUSTED_PROXIES=127.0.0.3``, default
allowlist 127.0.0.1 and ::1). A visitor's forged ``for=127.0.0.1;by="`` followed by the
proxy's ``, for=203.0.113.9`` once read as a single element naming 127.0.0.1 (Werkzeug
3.0.0 to 3.1.6) and armed the debugger for anyone on the internet.
"""

from __future__ import annotations

import pytest

from servers import APPS, DevServers, Response, Server, free_port, http_get, port_open

pytestmark = pytest.mark.e2e

PROXY = "127.0.0.3"
STATUS = "/__remotedbg__"


@pytest.fixture
def server(dev_server: DevServers) -> tuple[Server, int]:
    """`remotedbg run` on the Flask sample app, trusting 127.0.0.3 as its reverse proxy."""
    dap_port = free_port()
    app = str(APPS / "flask_app.py")
    srv = dev_server(app, "--dap-port", str(dap_port), env={"REMOTEDBG_TRUSTED_PROXIES": PROXY})
    return srv, dap_port


def via_proxy(srv: Server, path: str, *lines: tuple[str, str]) -> Response:
    """A request from the proxy's address carrying exactly these header lines, repeats kept."""
    return http_get(srv.http_port, path, source=PROXY, headers=lines)


FORGED = ['for=127.0.0.1;by="', 'for=127.0.0.1;by="\\', 'for="127.0.0.1', 'For=127.0.0.1;BY="x']
APPENDED = ["for=203.0.113.9", 'for="[2001:db8::9]:4711";proto=http']


@pytest.mark.parametrize("appended", APPENDED)
def test_forged_quote_does_not_swallow_the_appended_hop(
    server: tuple[Server, int], appended: str
) -> None:
    """Forged hops in one header or in a line of their own never reach the status page or arm."""
    srv, dap_port = server
    requests = [[("Forwarded", f"{forged}, {appended}")] for forged in FORGED]
    requests += [[("Forwarded", forged), ("Forwarded", appended)] for forged in FORGED]
    requests.append([("Forwarded", f"{FORGED[0]}, {appended}"), ("X-Forwarded-For", "127.0.0.1")])
    for lines in requests:
        response = via_proxy(srv, STATUS, *lines)
        assert response.status == 404, (lines, response)
        assert b"dap_port" not in response.body
        assert via_proxy(srv, "/health", *lines).body == b"ok"
    assert not port_open(dap_port)
    assert "event=armed" not in srv.log
    assert "ARMED" not in srv.log


def test_clean_forwarded_from_the_proxy_arms(server: tuple[Server, int]) -> None:
    """Control: the proxy forwarding for=127.0.0.1 cleanly serves the status page and arms."""
    srv, dap_port = server
    response = via_proxy(srv, STATUS, ("Forwarded", "for=127.0.0.1"))
    assert response.status == 200
    status = response.json()
    assert status["armed"] is True
    assert status["dap_port"] == dap_port
    assert port_open(dap_port)
    srv.wait_for_log(r"event=armed client=127\.0\.0\.1")

"""Another user on the same box cannot use a loopback door that has no token.

Every local process can connect to a port on 127.0.0.1. Without a token nothing but the
peer's owner tells the developer apart from anyone else on the box, so the door admits only
the app's own user (and root); with a token, the token decides, whoever the user is.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import socket
import sys

import pytest

from servers import APPS, DevServers, Server, attach_answer, free_port, run_client

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="owners come from /proc"),
    pytest.mark.skipif(os.getuid() != 0, reason="needs root, to run a client as another user"),
]

TOKEN = "Zq8v-Lr4mT2kXw9Nb6Hc3Yd7Pe5Gf1Sj0Ua"


@pytest.fixture
def nobody() -> int:
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no user called nobody")


def armed(dev_server: DevServers, *args: str) -> tuple[Server, int]:
    dap_port = free_port()
    app = f"{APPS / 'wsgi_app.py'}:bare_app"
    server = dev_server(app, "--dap-port", str(dap_port), *args)
    assert server.get("/__remotedbg__").json()["armed"] is True
    return server, dap_port


@pytest.fixture
def tokenless(dev_server: DevServers) -> tuple[Server, int]:
    return armed(dev_server)


def test_another_user_is_refused_without_a_token(
    tokenless: tuple[Server, int], nobody: int
) -> None:
    """A client run as another user gets no answer at all, and the refusal is on record."""
    server, dap_port = tokenless
    assert run_client(dap_port, user="nobody").strip() == ""
    server.wait_for_log(f"reason=.uid {nobody} is not this app's user")
    assert "event=attached" not in server.log


def test_the_apps_own_user_is_admitted_without_a_token(tokenless: tuple[Server, int]) -> None:
    """The positive control: the same client, as the app's user, attaches."""
    server, dap_port = tokenless
    answer = attach_answer(run_client(dap_port))
    assert answer is not None
    assert answer["success"] is True
    server.wait_for_log("event=attached")


def test_with_a_token_the_token_decides(dev_server: DevServers, nobody: int) -> None:
    """With a token, another user holding it attaches, and without it is refused."""
    _, dap_port = armed(dev_server, "--token", TOKEN)
    refused = run_client(dap_port, user="nobody", arguments={"remotedbgToken": "x" * 40})
    assert (attach_answer(refused) or {}).get("success") is False, refused
    admitted = run_client(dap_port, user="nobody", arguments={"remotedbgToken": TOKEN})
    assert (attach_answer(admitted) or {}).get("success") is True, admitted


def box_address() -> str:
    """One of this box's own addresses that is not a loopback one (skip if it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
            address = str(probe.getsockname()[0])
        except OSError:
            address = ""
    if not address or ipaddress.ip_address(address).is_loopback:
        pytest.skip("this box has no address of its own beyond loopback")
    return address


def test_another_user_is_refused_from_any_of_the_boxs_addresses(
    dev_server: DevServers, nobody: int
) -> None:
    """The door is on 127.0.0.1, but a local process may connect to it from any of the box's
    own addresses, which an allowlist may hold: it is still another user's process."""
    source = box_address()
    server, dap_port = armed(dev_server, "--allow", "127.0.0.1", "--allow", source)
    assert run_client(dap_port, user="nobody", source=source).strip() == ""
    server.wait_for_log(f"event=refused peer={source} reason=.uid {nobody} is not this app's user")
    assert "event=attached" not in server.log
    assert attach_answer(run_client(dap_port, source=source)) is not None, "the app's user may"

"""The status page's one schema: what the server writes is what the readers read, strictly."""

from __future__ import annotations

import json
import typing as t
from datetime import datetime, timezone

import pytest

from remotedbg.debuggee.gate import Gate
from remotedbg.errors import MalformedStatusPage, StatusPageError
from remotedbg.sansio.status_page import (
    STATUS_PATH,
    StatusPage,
    format_expiry,
    parse_expiry,
    parse_iso8601,
)
from remotedbg.settings import Settings

#: A page as ``Gate.status()`` wrote it before the schema: the keys, in their order.
ARMED: dict[str, t.Any] = {
    "armed": True,
    "pid": 4242,
    "dap_host": "127.0.0.1",
    "dap_port": 5678,
    "expires_at": "2030-01-01T12:30:00Z",
    "app_root": "/srv/shop",
    "token_required": True,
    "backend": "debugpy",
    "error": None,
}


def test_status_path() -> None:
    """The path the hook answers and the readers ask is one constant."""
    assert STATUS_PATH == "/__remotedbg__"


def test_round_trip() -> None:
    """A page written and read back is the same page, armed or not."""
    armed = StatusPage(**ARMED)
    idle = StatusPage(**{**ARMED, "armed": False, "expires_at": None, "error": "port busy"})
    for page in (armed, idle):
        assert StatusPage.from_json(page.to_json()) == page
        assert StatusPage.from_json(page.to_json().decode()) == page


def test_bytes_are_those_of_the_old_dict() -> None:
    """to_json() gives byte for byte what json.dumps of the old status dict gave."""
    assert StatusPage(**ARMED).to_json() == json.dumps(ARMED).encode()
    assert [*StatusPage(**ARMED).to_dict()] == [*ARMED]


def test_the_gates_page_reads_back() -> None:
    """What a real gate serves (a dict today, a StatusPage soon) is read as the same page."""
    gate = Gate(Settings.load({}, {"enable": True, "dap_port": 0}), app_root="/srv/app")
    status: object = gate.status()
    body = status.to_json() if isinstance(status, StatusPage) else json.dumps(status).encode()
    page = StatusPage.from_json(body)
    assert page.to_json() == body
    assert (page.armed, page.app_root, page.token_required) == (False, "/srv/app", False)


def test_missing_keys_take_their_defaults() -> None:
    """An older server's page without some keys reads; a newer one's extra key is ignored."""
    page = StatusPage.from_json(b'{"app_root": "/srv", "later": [1]}')
    assert page == StatusPage(
        armed=False,
        pid=None,
        dap_host=None,
        dap_port=None,
        expires_at=None,
        app_root="/srv",
        token_required=False,
        backend=None,
        error=None,
    )


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        (b"<html>an app</html>", None, "not JSON"),
        (b"\xff\xfe", None, "not JSON"),
        (b"[1, 2]", None, "an array, not a JSON object"),
        (b"null", None, "null, not a JSON object"),
        (json.dumps({**ARMED, "armed": "yes"}).encode(), "armed", "armed is a string"),
        (json.dumps({**ARMED, "armed": 1}).encode(), "armed", "not true or false"),
        (json.dumps({**ARMED, "token_required": None}).encode(), "token_required", "null"),
        (json.dumps({**ARMED, "pid": "42"}).encode(), "pid", "not an integer"),
        (json.dumps({**ARMED, "pid": -1}).encode(), "pid", "out of range"),
        (json.dumps({**ARMED, "dap_port": True}).encode(), "dap_port", "a boolean"),
        (json.dumps({**ARMED, "dap_port": 5678.0}).encode(), "dap_port", "a number"),
        (json.dumps({**ARMED, "dap_port": 70000}).encode(), "dap_port", "out of range"),
        (json.dumps({**ARMED, "dap_host": ["h"]}).encode(), "dap_host", "an array"),
        (json.dumps({**ARMED, "app_root": 5}).encode(), "app_root", "not a string"),
        (json.dumps({**ARMED, "backend": {}}).encode(), "backend", "an object"),
        (json.dumps({**ARMED, "error": False}).encode(), "error", "a boolean"),
        (json.dumps({**ARMED, "expires_at": 1893501000}).encode(), "expires_at", "a number"),
        (json.dumps({**ARMED, "expires_at": "soon"}).encode(), "expires_at", "ISO 8601"),
        (json.dumps({**ARMED, "expires_at": "2030-01-01T12:30"}).encode(), "expires_at", "zone"),
    ],
)
def test_malformed_pages_give_the_one_error(body: bytes, key: str | None, words: str) -> None:
    """Every way a page can break the schema raises MalformedStatusPage, naming the key."""
    with pytest.raises(MalformedStatusPage) as raised:
        StatusPage.from_json(body)
    assert isinstance(raised.value, StatusPageError)
    assert raised.value.key == key
    assert words in raised.value.problem
    assert str(raised.value).startswith("malformed status page: ")
    assert "\n" not in str(raised.value)


def test_expiry_both_ways() -> None:
    """expires_at is written in whole UTC seconds with a Z, and read back to the second."""
    moment = datetime(2030, 1, 1, 12, 30, tzinfo=timezone.utc).timestamp()
    assert format_expiry(moment) == "2030-01-01T12:30:00Z"
    assert format_expiry(moment + 0.9) == "2030-01-01T12:30:00Z"
    assert parse_expiry("2030-01-01T12:30:00Z") == moment
    assert parse_expiry("2030-01-01T13:30:00+01:00") == moment
    assert StatusPage(**ARMED).expires_at_seconds == moment
    with pytest.raises(ValueError, match="no time zone"):
        parse_expiry("2030-01-01T12:30:00")


def test_parse_iso8601_reads_z_on_every_python() -> None:
    """A trailing Z (either case) is UTC; a naive time stays naive for the caller to refuse."""
    assert parse_iso8601("2026-11-21T18:00z").tzinfo == timezone.utc
    assert parse_iso8601("2026-11-21T18:00").tzinfo is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<html>", "did not return a JSON object, so it is not remotedbg's status page"),
        (json.dumps({**ARMED, "app_root": 5}).encode(), "returned no app_root"),
        (json.dumps({**ARMED, "app_root": "  "}).encode(), "returned no app_root"),
        (
            json.dumps({**ARMED, "dap_port": "5678"}).encode(),
            "returned a malformed status page (dap_port is a string",
        ),
    ],
)
def test_fetch_status_says_what_was_wrong_in_one_line(
    monkeypatch: pytest.MonkeyPatch, body: bytes, words: str
) -> None:
    """fetch_status turns a page that breaks the schema into one line naming the URL."""
    from remotedbg.client import status

    monkeypatch.setattr(status, "_get", lambda target, timeout, fallback: body)
    with pytest.raises(StatusPageError) as raised:
        status.fetch_status("http://h:8000", fallback="or do this")
    message = str(raised.value)
    assert message.startswith("GET http://h:8000/__remotedbg__ ")
    assert words in message
    assert message.endswith("or do this")
    assert "\n" not in message


def test_fetch_status_returns_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from remotedbg.client import status

    monkeypatch.setattr(status, "_get", lambda target, timeout, fallback: json.dumps(ARMED))
    assert status.fetch_status("http://h") == StatusPage(**ARMED)

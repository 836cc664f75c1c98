"""Errors carry what went wrong as data, so callers branch on a kind, not on the words."""

from __future__ import annotations

import os
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest

from remotedbg.cli.app_loader import load_app
from remotedbg.client.relay import Relay
from remotedbg.client.status import Remote
from remotedbg.doctor.app_checks import check_app
from remotedbg.doctor.report import Check
from remotedbg.errors import AppLoadError, AppLoadKind, RefusalKind
from remotedbg.sansio.dap_codec import Response, encode, parse_message
from remotedbg.sansio.refusals import REFUSAL_KEY, kind_from_words, refusal_body, refusal_kind

# -- AppLoadError -----------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package with one module for each way APP can fail, on a clean sys.path."""
    pkg = tmp_path / "kinds"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "wsgi.py").write_text(
        textwrap.dedent(
            """
            def app(environ, start_response):
                return [b"ok"]

            def failing():
                raise KeyError("config")

            not_callable = 42
            """
        )
    )
    (pkg / "empty.py").write_text("x = 1\n")
    (pkg / "broken.py").write_text("raise RuntimeError('db down; retry')\n")
    (pkg / "syntax.py").write_text("def (:\n")
    (pkg / "missing_dep.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    for name in [m for m in sys.modules if m == "kinds" or m.startswith("kinds.")]:
        monkeypatch.delitem(sys.modules, name)
    return tmp_path


@pytest.mark.parametrize(
    ("spec", "kind", "details"),
    [
        ("", AppLoadKind.MALFORMED, ()),
        ("kinds wsgi", AppLoadKind.MALFORMED, ()),
        ("kinds.wsgi:make(", AppLoadKind.MALFORMED, ()),
        ("kinds.wsgi:failing(os.getcwd())", AppLoadKind.MALFORMED, ("(os.getcwd())",)),
        ("kinds/none.py", AppLoadKind.NOT_FOUND, ("kinds/none.py",)),
        ("kinds.nosuch", AppLoadKind.NOT_FOUND, ("kinds.nosuch",)),
        (
            "kinds.missing_dep",
            AppLoadKind.IMPORT_FAILED,
            ("kinds.missing_dep", "ModuleNotFoundError: No module named 'no_such_dependency_xyz'"),
        ),
        (
            "kinds.broken",
            AppLoadKind.IMPORT_FAILED,
            ("kinds.broken", "RuntimeError: db down; retry"),
        ),
        ("kinds.syntax", AppLoadKind.SYNTAX_ERROR, None),
        ("kinds.empty", AppLoadKind.NO_APP, ("kinds.empty",)),
        ("kinds.wsgi:nope", AppLoadKind.NO_ATTRIBUTE, ("kinds.wsgi", "nope")),
        ("kinds.wsgi:failing()", AppLoadKind.FACTORY_FAILED, ("KeyError: 'config'",)),
        ("kinds.wsgi:not_callable", AppLoadKind.NOT_AN_APP, ("int",)),
    ],
)
def test_app_load_kinds(
    project: Path, spec: str, kind: AppLoadKind, details: tuple[str, ...] | None
) -> None:
    """Each way APP fails has its kind and details; the message is title, then `; fix`."""
    with pytest.raises(AppLoadError) as info:
        load_app(spec)
    error = info.value
    assert error.kind is kind
    assert error.app == spec
    if details is not None:
        assert error.details == tuple(d.replace("/", os.sep) for d in details)
    assert error.title == f"APP {spec!r}: {error.problem}"
    assert str(error) == error.title + (f"; {error.fix}" if error.fix else "")


def test_doctor_splits_by_the_fields_not_the_words(project: Path) -> None:
    """An import error whose own text holds "; " still shows its whole problem, then the fix."""

    def load(spec: str) -> str:
        return load_app(spec).module

    assert check_app("kinds.broken", load) == Check(
        "fail",
        "APP 'kinds.broken': importing 'kinds.broken' raised RuntimeError: db down; retry",
        "fix what it needs at import time",
    )


def test_a_message_alone_reads_as_problem_and_fix() -> None:
    """AppLoadError("problem; fix"), as older callers raise it, keeps its text and parts."""
    error = AppLoadError("APP 'x': no module named 'x'; run from the project folder")
    assert str(error) == "APP 'x': no module named 'x'; run from the project folder"
    assert (error.kind, error.app, error.title, error.fix) == (
        AppLoadKind.OTHER,
        None,
        "APP 'x': no module named 'x'",
        "run from the project folder",
    )
    assert AppLoadError("no fix here").fix is None


# -- refusals ---------------------------------------------------------------------------------

TOKEN_TEXT = (
    'remotedbg: the "remotedbgToken" is wrong; add it to the attach configuration '
    '("remotedbgToken": "${env:REMOTEDBG_TOKEN}") or use `remotedbg attach`'
)


def refusal(message: str | None, body: object = None, *, success: bool = False) -> Response:
    return Response(
        seq=1, request_seq=2, success=success, command="attach", message=message, body=body
    )


@pytest.mark.parametrize("kind", [k for k in RefusalKind if k is not RefusalKind.UNKNOWN])
def test_structured_refusals_are_read_whatever_the_words(kind: RefusalKind) -> None:
    """The kind in body.error wins over the words, which may say anything."""
    response = refusal("remotedbg: no", refusal_body(kind, "remotedbg: no"))
    assert refusal_kind(response) is kind


def test_the_contract_shape() -> None:
    """refusal_body is the shape the door emits: VS Code's error object plus our key."""
    assert refusal_body(RefusalKind.BUSY, "text") == {
        "error": {"id": 1, "format": "text", "showUser": True, "remotedbgRefusal": "busy"}
    }
    assert REFUSAL_KEY == "remotedbgRefusal"
    # Through the codec and back, as the relay sees it.
    wire = encode(refusal("text", refusal_body(RefusalKind.PEER, "text")))
    message = parse_message(wire.split(b"\r\n\r\n", 1)[1])
    assert isinstance(message, Response)
    assert refusal_kind(message) is RefusalKind.PEER


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (TOKEN_TEXT, RefusalKind.TOKEN),
        ('remotedbg: the attach request has no "remotedbgToken"; add it', RefusalKind.TOKEN),
        ("remotedbg: another IDE is already attached; detach it first", RefusalKind.BUSY),
        ("remotedbg: peer is not on the allowlist", RefusalKind.PEER),
        ("remotedbg: no armed window", RefusalKind.EXPIRED),
        ('remotedbg only supports attach, not "launch"', RefusalKind.UNSUPPORTED),
        ("remotedbg: send initialize before attach", RefusalKind.UNSUPPORTED),
        ("something else entirely", RefusalKind.UNKNOWN),
    ],
)
def test_older_servers_fall_back_to_the_words(text: str, kind: RefusalKind) -> None:
    """Without remotedbgRefusal (or with a kind from the future), the words decide."""
    old_body = {"error": {"id": 1, "format": text, "showUser": True}}
    assert refusal_kind(refusal(text, old_body)) is kind
    future = {"error": {"id": 1, "format": text, REFUSAL_KEY: "from_the_future"}}
    assert refusal_kind(refusal(text, future)) is kind
    assert refusal_kind(refusal(None, old_body)) is kind
    assert kind_from_words(text) is kind


def test_a_success_is_no_refusal() -> None:
    assert refusal_kind(refusal(None, {}, success=True)) is None
    assert refusal_kind(refusal(None, "not an object")) is RefusalKind.UNKNOWN


def relay(token: str | None) -> Relay:
    remote = Remote(host="127.0.0.1", port=1, app_root="/srv", expires_at=0.0, token_required=True)
    return Relay(("127.0.0.1", 1), remote, token=token, local_root="/here")


def attach_response(message: str, body: t.Any) -> bytes:
    wire = encode(refusal(message, body))
    return wire.split(b"\r\n\r\n", 1)[1]


def test_the_relay_ends_on_a_token_refusal_by_its_kind() -> None:
    """A refusal marked token ends attach, even in words without "token"; others do not."""
    ends = relay("t" * 30)
    ends._check_attach_response(attach_response("nope", refusal_body(RefusalKind.TOKEN, "nope")))
    assert ends.outcome.fatal == "the server refused the token: nope"
    goes_on = relay("t" * 30)
    busy_text = "remotedbg: another IDE is already attached; detach it first"
    goes_on._check_attach_response(
        attach_response(busy_text, refusal_body(RefusalKind.BUSY, busy_text))
    )
    assert goes_on.outcome.fatal is None


def test_the_relay_still_reads_an_older_servers_token_refusal() -> None:
    """Without the kind, the words say token, and the advice is reworded for the relay."""
    old = relay(None)
    answered = old._check_attach_response(
        attach_response(TOKEN_TEXT, {"error": {"id": 1, "format": TOKEN_TEXT}})
    )
    assert old.outcome.fatal is not None
    assert "remotedbg attach had no token to add" in old.outcome.fatal
    assert b"had no token to add" in answered

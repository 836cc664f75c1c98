"""What an IDE does around a DAP session: attach with breakpoints, and read a stopped frame."""

from __future__ import annotations

import threading
import typing as t
from pathlib import Path

from dap_client import DAPClient, initialize_arguments
from servers import Response, http_get


def attach(
    client: DAPClient,
    *,
    breakpoints: dict[Path, list[int]] | None = None,
    exception_filters: t.Sequence[str] = ("uncaught",),
    arguments: dict[str, t.Any] | None = None,
) -> dict[str, t.Any]:
    """VS Code's attach sequence; returns the attach response."""
    assert client.request("initialize", initialize_arguments())["success"]
    attach_seq = client.send("attach", {"justMyCode": True, **(arguments or {})})
    client.wait_event("initialized")
    for path, lines in (breakpoints or {}).items():
        response = client.request(
            "setBreakpoints",
            {"source": {"path": str(path)}, "breakpoints": [{"line": n} for n in lines]},
        )
        assert all(bp["verified"] for bp in response["body"]["breakpoints"]), response
    client.request("setExceptionBreakpoints", {"filters": list(exception_filters)})
    client.request("configurationDone")
    return client.wait_response(attach_seq)


def top_frame(client: DAPClient, thread_id: int) -> tuple[dict[str, t.Any], dict[str, str]]:
    """The innermost frame of a stopped thread, and its locals as name -> repr."""
    stack = client.request("stackTrace", {"threadId": thread_id})["body"]["stackFrames"]
    frame = stack[0]
    scopes = client.request("scopes", {"frameId": frame["id"]})["body"]["scopes"]
    reference = scopes[0]["variablesReference"]
    variables = client.request("variables", {"variablesReference": reference})["body"]
    return frame, {v["name"]: v["value"] for v in variables["variables"]}


class Paused(t.NamedTuple):
    """A request stopped in the debugger: its HTTP call, the stop, and its top frame."""

    request: Background
    stopped: dict[str, t.Any]
    frame: dict[str, t.Any]
    local_vars: dict[str, str]

    @property
    def thread_id(self) -> int:
        return int(self.stopped["threadId"])


def pause_request(
    client: DAPClient, port: int, path: str = "/", timeout: float | None = None
) -> Paused:
    """Send a request that will stop (breakpoint or exception) and read where it stopped."""
    request = Background(port, path)
    stopped = client.wait_event("stopped", timeout=timeout)["body"]
    frame, local_vars = top_frame(client, stopped["threadId"])
    return Paused(request, stopped, frame, local_vars)


class Background:
    """An HTTP request in a thread, for requests that will stop at a breakpoint."""

    def __init__(self, port: int, path: str = "/", **kwargs: t.Any) -> None:
        self.response: Response | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(port, path, kwargs), daemon=True)
        self.thread.start()

    def _run(self, port: int, path: str, kwargs: dict[str, t.Any]) -> None:
        try:
            self.response = http_get(port, path, **kwargs)
        except BaseException as exc:  # reported by result()
            self.error = exc

    def result(self, timeout: float = 30.0) -> Response:
        self.thread.join(timeout)
        if self.error is not None:
            raise self.error
        assert self.response is not None, "request did not finish"
        return self.response

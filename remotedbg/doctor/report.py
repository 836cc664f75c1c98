"""What a doctor check found (:class:`Check`), all of them (:class:`Report`), and one line each."""

from __future__ import annotations

import dataclasses
import typing as t

import click

__all__ = ["Check", "Report", "Status", "host_port", "render"]

Status = t.Literal["ok", "warn", "fail"]


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one check: `title` says what was found, `detail` the fix or a note."""

    status: Status
    title: str
    detail: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    """Every check's outcome, in order, and the checks skipped for want of valid settings."""

    checks: tuple[Check, ...]
    skipped: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return any(check.status == "fail" for check in self.checks)

    def summary(self) -> str:
        counts = dict.fromkeys(("ok", "warn", "fail"), 0)
        for check in self.checks:
            counts[check.status] += 1
        warnings = f"{counts['warn']} warning{'' if counts['warn'] == 1 else 's'}"
        if counts["fail"]:
            line = f"{counts['fail']} failed, {warnings}, {counts['ok']} ok: fix the failures above"
        else:
            line = f"no failures: {warnings}, {counts['ok']} ok"
        if self.skipped:
            line += f"; skipped until the settings load: {', '.join(self.skipped)}"
        return line


_STYLES: dict[str, dict[str, t.Any]] = {
    "ok": {"fg": "green"},
    "warn": {"fg": "yellow", "bold": True},
    "fail": {"fg": "red", "bold": True},
}


def render(check: Check, *, color: bool = False) -> str:
    """One line: the status padded to four columns, what was found, then ``—`` and the fix."""
    label = f"{check.status:<4}"
    if color:
        label = click.style(label, **_STYLES[check.status])
    line = f"{label} {check.title}"
    return f"{line} — {check.detail}" if check.detail else line


def host_port(host: str, port: int | str) -> str:
    """`host`:`port` as a line names it, an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

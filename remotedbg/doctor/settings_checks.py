"""The doctor's checks of the REMOTEDBG_* settings: all bad values at once, and who may arm."""

from __future__ import annotations

import typing as t
from datetime import datetime, timezone

from ..errors import ConfigError
from ..settings import ENV_PREFIX, Settings
from .report import Check

if t.TYPE_CHECKING:
    from pathlib import Path

    from ..sansio.addresses import AddressSet, IPNetwork

__all__ = [
    "check_allowlist",
    "check_enable",
    "check_proxies",
    "check_settings",
    "check_until",
    "load_all",
]

#: Public ranges wider than these (shorter prefixes) draw a warning.
WIDEST_PUBLIC_PREFIX = {4: 24, 6: 48}
#: Valid values standing in for a bad token or IDE address, so that, with the bad value set
#: aside, the next error is not "no token" about a token the user did set.
_STAND_INS = {
    "REMOTEDBG_TOKEN": "doctor-stand-in-Qm4Zt8Rk2Xv7Lp3Wn9Bc",
    "REMOTEDBG_IDE": "127.0.0.1:1",
}


def load_all(environ: t.Mapping[str, str]) -> tuple[Settings | None, list[ConfigError]]:
    """The settings in `environ`, or every problem with them, not just the first.

    Settings.load stops at the first bad value, so each bad variable is set aside (or
    replaced by a valid stand-in) and the rest are loaded again, until they load.
    """
    env = {key: value for key, value in environ.items() if key.startswith(ENV_PREFIX)}
    errors: list[ConfigError] = []
    for _ in range(2 * len(env) + 1):
        try:
            settings = Settings.load(env)
        except ConfigError as exc:
            errors.append(exc)
            if exc.setting not in env:
                break
            stand_in = _STAND_INS.get(exc.setting)
            if stand_in is None or env[exc.setting] == stand_in:
                del env[exc.setting]
            else:
                env[exc.setting] = stand_in
            continue
        return (None if errors else settings), errors
    return None, errors


def check_settings(environ: t.Mapping[str, str]) -> tuple[Settings | None, list[Check]]:
    """The settings from ``REMOTEDBG_*`` in `environ` and one line, or one fail line per error."""
    settings, errors = load_all(environ)
    if settings is None:
        return None, [
            Check("fail", f"{exc.setting}={exc.value!r}: {exc.problem}", exc.fix) for exc in errors
        ]
    names = sorted(key for key in environ if key.startswith(ENV_PREFIX))
    detail = f"{', '.join(names)} set, the rest default" if names else "all defaults"
    return settings, [Check("ok", "settings from REMOTEDBG_* are valid", detail)]


def check_enable(settings: Settings) -> Check:
    """Whether the hook in the app is switched on by the environment."""
    if settings.enable:
        return Check(
            "ok",
            "REMOTEDBG_ENABLE is on",
            "the hook in your app arms the debugger for allowlisted clients",
        )
    return Check(
        "ok", "REMOTEDBG_ENABLE is off", "the hook in your app is off; `remotedbg run` turns it on"
    )


# -- who may arm ------------------------------------------------------------------------


def _wide_public(networks: t.Iterable[IPNetwork]) -> list[IPNetwork]:
    return [
        net
        for net in networks
        if net.is_global and net.prefixlen < WIDEST_PUBLIC_PREFIX[net.version]
    ]


def check_allowlist(allow: AddressSet) -> Check:
    """The allowlist holds no public range wider than /24 (IPv4) or /48 (IPv6)."""
    wide = _wide_public(allow)
    if wide:
        return Check(
            "warn",
            f"REMOTEDBG_ALLOW has wide public ranges: {', '.join(map(str, wide))}",
            "anyone there can arm the debugger; list the developers' addresses, "
            "or ranges of /24 (IPv4) or /48 (IPv6) at most",
        )
    return Check("ok", f"allowlist: {allow}")


def check_proxies(allow: AddressSet, trusted: AddressSet, local_proxy: Path | None) -> Check:
    """Forwarding headers are believed from narrow ranges only, and a local proxy is noticed.

    `local_proxy` is a sign that a reverse proxy runs on this machine (its config file).
    Requests cannot be seen from here, so a loopback allowlist entry with no trusted proxy
    gets a conditional warning only when such a sign exists.
    """
    if trusted.covers_everything():
        return Check(
            "fail",
            f"REMOTEDBG_TRUSTED_PROXIES={trusted} trusts every address",
            "anyone who reaches the app can claim an allowlisted address and arm; "
            "list only your reverse proxies' addresses",
        )
    wide = _wide_public(trusted)
    if wide:
        return Check(
            "warn",
            f"REMOTEDBG_TRUSTED_PROXIES has wide public ranges: {', '.join(map(str, wide))}",
            "anyone there can claim any client address, an allowlisted one too; "
            "list only your reverse proxies' addresses",
        )
    if trusted:
        return Check("ok", f"forwarding headers are believed only from {trusted}")
    loopback = "127.0.0.1" in allow or "::1" in allow
    if loopback and local_proxy is not None:
        return Check(
            "warn",
            f"loopback is allowlisted, no proxy is trusted, and {local_proxy} exists",
            "if a reverse proxy on this box forwards to the app, every request comes from "
            "127.0.0.1: requests with forwarding headers never arm unless the proxy is in "
            "REMOTEDBG_TRUSTED_PROXIES (set it to 127.0.0.1,::1 and allowlist your own address)",
        )
    return Check("ok", "no trusted proxies: requests with forwarding headers never arm")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value][:2]
    return " ".join(shown) or "0s"


def check_until(until: datetime | None, now: datetime) -> Check:
    """REMOTEDBG_UNTIL, if set, is still ahead."""
    if until is None:
        return Check("ok", "no REMOTEDBG_UNTIL deadline", "each armed window still closes itself")
    stamp = until.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    if until <= now:
        return Check(
            "fail",
            f"REMOTEDBG_UNTIL={stamp} has passed: nothing will arm",
            "move it forward or unset it",
        )
    left = _duration((until - now).total_seconds())
    return Check("ok", f"arming allowed until {stamp} (in {left})")

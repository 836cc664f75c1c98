"""The table of every ``REMOTEDBG_*`` setting: its name, option, parser, default and help.

One row per setting is the single place a setting is declared: :class:`remotedbg.settings.Settings`
reads by it, the CLI makes its options from it, and ``docs/gen_configuration.py`` writes
the configuration reference from it.
"""

from __future__ import annotations

import typing as t

from .settings_parsers import (
    MAX_TTL,
    MAX_WAIT,
    MIN_TOKEN_BITS,
    MIN_TOKEN_LENGTH,
    parse_allow,
    parse_backend,
    parse_bool,
    parse_duration,
    parse_endpoint,
    parse_host,
    parse_port,
    parse_proxies,
    parse_token,
    parse_until,
)

__all__ = ["SPECS", "SPECS_BY_ENV", "SPECS_BY_FIELD", "SettingSpec"]


class SettingSpec(t.NamedTuple):
    """How one setting is named, parsed and documented."""

    field: str
    env: str
    option: str | None
    parse: t.Callable[[str, object], t.Any]
    default: str
    help: str
    #: What the option's value is, for ``--help``: ``--ttl DURATION``.
    metavar: str = "VALUE"


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "enable",
        "REMOTEDBG_ENABLE",
        None,
        parse_bool,
        "off",
        "Master switch for the hook in your app: 1/true/yes/on or 0/false/no/off. "
        "`remotedbg run` implies it.",
    ),
    SettingSpec(
        "allow",
        "REMOTEDBG_ALLOW",
        "--allow",
        parse_allow,
        "127.0.0.1,::1",
        "Client addresses that may arm the debugger: IPs and CIDRs, IPv4 and IPv6, comma or "
        "space separated. A catch-all such as 0.0.0.0/0 is refused, and so is any list "
        "matching more public addresses than a /8 (IPv4) or a /32 (IPv6).",
        metavar="ADDRESS",
    ),
    SettingSpec(
        "trusted_proxies",
        "REMOTEDBG_TRUSTED_PROXIES",
        "--trusted-proxy",
        parse_proxies,
        "none",
        "CIDRs of reverse proxies whose X-Forwarded-For / Forwarded header is believed, "
        "walked from the right. From any other peer, a forwarding header blocks arming. "
        "Lists matching more public addresses than a /8 (IPv4) or a /32 (IPv6) are refused.",
        metavar="ADDRESS",
    ),
    SettingSpec(
        "dap_host",
        "REMOTEDBG_DAP_HOST",
        "--dap-host",
        parse_host,
        "127.0.0.1",
        "Address the IDE attaches to. Anything but loopback requires a token.",
        metavar="HOST",
    ),
    SettingSpec(
        "dap_port",
        "REMOTEDBG_DAP_PORT",
        "--dap-port",
        parse_port,
        "5678",
        "Port the IDE attaches to (0 picks a free one; the status page tells which).",
        metavar="PORT",
    ),
    SettingSpec(
        "token",
        "REMOTEDBG_TOKEN",
        "--token",
        parse_token,
        "none",
        f"Shared secret the IDE must send as `remotedbgToken` in its attach request; at least "
        f"{MIN_TOKEN_LENGTH} printable characters and {MIN_TOKEN_BITS} random bits (runs, "
        f"repeats and few distinct characters are refused). `remotedbg token` makes one.",
        metavar="TOKEN",
    ),
    SettingSpec(
        "ttl",
        "REMOTEDBG_TTL",
        "--ttl",
        lambda name, raw: parse_duration(name, raw, zero_ok=False, maximum=MAX_TTL),
        "30m",
        "How long an armed window lasts: 90s, 30m, 2h (at most 24h).",
        metavar="DURATION",
    ),
    SettingSpec(
        "wait",
        "REMOTEDBG_WAIT",
        "--wait",
        lambda name, raw: parse_duration(name, raw, zero_ok=True, maximum=MAX_WAIT),
        "0s",
        "Hold the arming request until an IDE attaches, at most this long: 30s, 2m (at most "
        "10m; 0s answers at once).",
        metavar="DURATION",
    ),
    SettingSpec(
        "until",
        "REMOTEDBG_UNTIL",
        "--until",
        parse_until,
        "none",
        "Absolute deadline (ISO 8601 with a time zone); after it nothing arms again.",
        metavar="DATETIME",
    ),
    SettingSpec(
        "backend",
        "REMOTEDBG_BACKEND",
        None,
        parse_backend,
        "debugpy",
        "debugpy (the IDE attaches to the bridge) or pycharm (arming connects out to "
        "PyCharm's debug server at REMOTEDBG_IDE; needs remotedbg[pycharm]).",
    ),
    SettingSpec(
        "ide",
        "REMOTEDBG_IDE",
        None,
        parse_endpoint,
        "none",
        "host:port of PyCharm's debug server, for REMOTEDBG_BACKEND=pycharm.",
    ),
)
SPECS_BY_FIELD = {spec.field: spec for spec in SPECS}
SPECS_BY_ENV = {spec.env: spec for spec in SPECS}

"""One typed settings object, read from ``REMOTEDBG_*`` and validated once at start-up.

Every value a user can type passes through a parser here, so a bad one fails before the app
serves a single request, in one line that names the setting as the user wrote it (the env
var, the CLI option or the config key), the bad value, and how to fix it. The table of
specs below is also what the docs' configuration reference is generated from.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import os
import re
import string
import typing as t
from datetime import datetime, timedelta, timezone

from .errors import ConfigError
from .sansio.addresses import AddressSet, parse_network

__all__ = ["SPECS", "SettingSpec", "Settings"]

ENV_PREFIX = "REMOTEDBG_"
#: 22 characters of `remotedbg token`'s alphabet (64 symbols) hold 132 random bits.
MIN_TOKEN_LENGTH = 22
#: What a token must hold, judged by `token_bits`.
MIN_TOKEN_BITS = 128
MAX_TTL = 24 * 3600.0
MAX_WAIT = 600.0

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_bool(name: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(
        name, raw, "not a yes/no value", "use 1, true, yes or on, or 0, false, no or off"
    )


def _entries(raw: object) -> list[str]:
    items = [raw] if isinstance(raw, str) else list(t.cast("t.Iterable[object]", raw))
    return [part for item in items for part in re.split(r"[\s,]+", str(item)) if part]


def parse_networks(name: str, raw: object) -> AddressSet:
    if isinstance(raw, AddressSet):
        return raw
    networks = []
    for entry in _entries(raw):
        try:
            networks.append(parse_network(entry))
        except ValueError as exc:
            raise ConfigError(
                name,
                entry,
                f"not an IP address or CIDR ({exc})",
                "write addresses like 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32",
            ) from None
    return AddressSet(networks)


def parse_allow(name: str, raw: object) -> AddressSet:
    allow = parse_networks(name, raw)
    if not allow:
        raise ConfigError(
            name,
            raw,
            "the allowlist is empty, so nobody could arm the debugger",
            "list the developers' addresses, or unset it to allow only this machine",
        )
    if allow.covers_everything():
        raise ConfigError(
            name,
            str(allow),
            "matches every address, so anyone who reaches the app could arm a port that runs code",
            "list only the developers' addresses, like 203.0.113.7 or 10.1.2.0/24",
        )
    too_public = allow.too_public()
    if too_public:
        raise ConfigError(
            name,
            str(allow),
            f"matches {too_public}, so most of the internet could arm a port that runs code",
            "list only the developers' addresses, like 203.0.113.7 or 10.1.2.0/24 (private "
            "ranges such as 10.0.0.0/8 are fine)",
        )
    return allow


def parse_proxies(name: str, raw: object) -> AddressSet:
    proxies = parse_networks(name, raw)
    if proxies.covers_everything():
        raise ConfigError(
            name,
            str(proxies),
            "trusts every address as a proxy, so any client could claim to be allowlisted",
            "list only your reverse proxies, like 10.0.0.5 or 127.0.0.1",
        )
    too_public = proxies.too_public()
    if too_public:
        raise ConfigError(
            name,
            str(proxies),
            f"trusts as proxies {too_public}, so nearly any client could claim to be allowlisted",
            "list only your reverse proxies, like 10.0.0.5 or 127.0.0.1",
        )
    return proxies


def parse_host(name: str, raw: object) -> str:
    text = str(raw).strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not _HOSTNAME.fullmatch(text):
            raise ConfigError(
                name, raw, "not an IP address or host name", "use an address like 127.0.0.1"
            ) from None
    return text


def parse_port(name: str, raw: object) -> int:
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ConfigError(
            name, raw, "not a TCP port", "use a number from 1 to 65535 (0 picks a free one)"
        )
    return int(text)


def parse_duration(name: str, raw: object, *, zero_ok: bool, maximum: float) -> float:
    """Seconds from ``90s``, ``30m``, ``2h`` or ``1h30m``; Python numbers are seconds.

    Text needs a unit: ``30`` could mean seconds or minutes, and a 30-minute window read as
    30 seconds (or the reverse) is a surprise, so it is refused with both readings as the
    fix. Only ``0`` means the same in every unit and needs none.
    """
    seconds: float | None = None
    fix = "use a number with a unit, like 90s, 30m or 2h"
    if isinstance(raw, timedelta):
        seconds = raw.total_seconds()
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        seconds = float(raw)
    else:
        text = str(raw).strip().lower()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            if float(text) != 0:
                raise ConfigError(
                    name,
                    raw,
                    "a duration needs a unit",
                    f"write {text}s for seconds or {text}m for minutes",
                )
            seconds = 0.0
        elif text and re.fullmatch(f"(?:{_DURATION_PART.pattern})+", text):
            seconds = sum(float(n) * _SECONDS[u] for n, u in _DURATION_PART.findall(text))
    if seconds is None:
        raise ConfigError(name, raw, "not a duration", fix)
    if seconds < 0 or (seconds == 0 and not zero_ok):
        raise ConfigError(name, raw, "must be more than zero", fix)
    if seconds > maximum:
        raise ConfigError(
            name, raw, f"longer than the {maximum / 3600:g}h limit", f"{fix}, at most {maximum:g}s"
        )
    return seconds


def format_duration(seconds: float) -> str:
    """The short form people write (``30m``, ``1h30m``, ``90s``): the inverse of the parser."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


#: Alphabets token generators draw from, smallest first, with their sizes: a token is
#: credited with the first that holds all of its characters, else printable ASCII (94).
_TOKEN_ALPHABETS = (
    (frozenset(string.digits), 10),
    (frozenset(string.ascii_lowercase), 26),
    (frozenset(string.ascii_uppercase), 26),
    (frozenset(string.hexdigits), 16),  # either case
    (frozenset(string.ascii_letters + string.digits + "+/=_-"), 64),  # base64, base64url
)
#: Bits a random token may lose to a chance run or repeat (two hex digits' worth) before
#: it counts as short of MIN_TOKEN_BITS: a random 128-bit hex token must always pass.
_CHANCE_BITS = 8.0


def _alphabet_behind(distinct: int, length: int) -> float:
    """The alphabet size for which `length` random draws show `distinct` characters on average.

    Infinite when every character differs. Short random strings repeat characters more
    than this average suggests, so callers allow a margin.
    """
    if distinct >= length:
        return math.inf
    low, high = float(distinct), 1e9
    for _ in range(64):  # bisection: the expected count grows with the alphabet
        middle = (low + high) / 2
        if middle * -math.expm1(length * math.log1p(-1 / middle)) < distinct:
            low = middle
        else:
            high = middle
    return low


def token_bits(token: str) -> float:
    """A cautious estimate of the random bits in `token`, to refuse visibly weak ones.

    Each character is worth the bits of the smallest usual alphabet holding them all
    (digits, one case, hex, base64, else printable ASCII), or less when few distinct
    characters suggest a smaller one; characters that continue a run (``aaaa``, ``1234``,
    ``zyxw``) or repeat an earlier stretch are worth nothing. A stretch counts once it is
    longer than chance makes it in a random token (about 20 bits' worth of characters).
    It cannot prove a token strong: a typed phrase can still score well.
    """
    chars = set(token)
    usual = next((size for alphabet, size in _TOKEN_ALPHABETS if chars <= alphabet), 94)
    size = min(usual, 4 * _alphabet_behind(len(chars), len(token)))
    if size <= 1:
        return 0.0
    per_char = math.log2(size)
    span = max(3, math.ceil(20 / per_char) + 1)  # a pattern this long is no accident
    codes = [ord(char) for char in token]
    seen: set[str] = set()
    bits = 0.0
    for end in range(len(token)):
        start = end - span + 1
        if start < 0:
            bits += per_char
            continue
        steps = {codes[i] - codes[i - 1] for i in range(start + 1, end + 1)}
        in_run = len(steps) == 1 and abs(next(iter(steps))) <= 1
        stretch = token[start : end + 1]
        repeated = stretch in seen
        seen.add(stretch)
        if not (in_run or repeated):
            bits += per_char
    return bits


def parse_token(name: str, raw: object) -> str:
    """A shared secret of at least 128 random bits; the error never shows the value."""
    text = str(raw)
    hidden = f"<hidden, {len(text)} characters>"
    fix = "make one with `remotedbg token`"
    if len(text) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            name,
            hidden,
            f"a token needs at least {MIN_TOKEN_LENGTH} characters ({MIN_TOKEN_BITS} random bits)",
            fix,
        )
    if not all(33 <= ord(char) <= 126 for char in text):
        raise ConfigError(
            name, hidden, "holds spaces or characters other than printable ASCII", fix
        )
    if token_bits(text) < MIN_TOKEN_BITS - _CHANCE_BITS:
        raise ConfigError(
            name,
            hidden,
            f"looks guessable: runs, repeats or few distinct characters leave it well short "
            f"of {MIN_TOKEN_BITS} random bits",
            fix,
        )
    return text


def parse_until(name: str, raw: object) -> datetime:
    if isinstance(raw, datetime):
        moment = raw
    else:
        text = str(raw).strip()
        try:
            moment = datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", text))
        except ValueError:
            raise ConfigError(
                name, raw, "not an ISO 8601 date and time", "write it like 2026-11-21T18:00Z"
            ) from None
    if moment.tzinfo is None:
        raise ConfigError(
            name, raw, "has no time zone", "add one, like 2026-11-21T18:00Z or +01:00"
        )
    return moment.astimezone(timezone.utc)


BACKENDS = ("debugpy", "pycharm")


def parse_backend(name: str, raw: object) -> str:
    text = str(raw).strip().lower()
    if text not in BACKENDS:
        raise ConfigError(name, raw, "not a known backend", f"use one of: {', '.join(BACKENDS)}")
    return text


def parse_endpoint(name: str, raw: object) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``; a tuple is taken as it is."""
    if isinstance(raw, tuple) and len(raw) == 2:
        return parse_host(name, raw[0]), parse_port(name, raw[1])
    text = str(raw).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port:
        raise ConfigError(name, raw, "not a host:port address", "write it like 127.0.0.1:5679")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return parse_host(name, host), parse_port(name, port)


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
_BY_ENV = {spec.env: spec for spec in SPECS}


def _default_label(field: str) -> str:
    return f"{field}="


@dataclasses.dataclass(frozen=True)
class Settings:
    """Validated settings. Build with :meth:`load`; the defaults are the closed ones."""

    enable: bool = False
    allow: AddressSet = dataclasses.field(
        default_factory=lambda: AddressSet.parse(["127.0.0.1", "::1"])
    )
    trusted_proxies: AddressSet = dataclasses.field(default_factory=AddressSet)
    dap_host: str = "127.0.0.1"
    dap_port: int = 5678
    token: str | None = dataclasses.field(default=None, repr=False)
    ttl: float = 1800.0
    wait: float = 0.0
    until: datetime | None = None
    backend: str = "debugpy"
    ide: tuple[str, int] | None = None

    @classmethod
    def load(
        cls,
        environ: t.Mapping[str, str] | None = None,
        overrides: t.Mapping[str, object] | None = None,
        label: t.Callable[[str], str] = _default_label,
    ) -> Settings:
        """Read `environ` (default ``os.environ``), then apply `overrides` by field name.

        `label` turns a field name into what the user typed for an override (``--ttl``,
        ``app.config["REMOTEDBG_TTL"]``) so errors name it that way. None overrides are
        ignored, which lets a CLI pass every option through unconditionally.
        """
        environ = os.environ if environ is None else environ
        overrides = overrides or {}
        _check_names(environ, overrides, label)
        values: dict[str, t.Any] = {}
        for spec in SPECS:
            # An empty variable counts as unset, except an empty allowlist, which is refused
            # rather than read as "the default". Env values are checked even when an
            # override wins, so a typo there is never silently carried along.
            text = environ.get(spec.env)
            if text is not None and (text.strip() or spec.field == "allow"):
                values[spec.field] = spec.parse(spec.env, text)
            raw = overrides.get(spec.field)
            if raw is not None and raw != ():
                values[spec.field] = spec.parse(label(spec.field), raw)

        def name_of(field: str) -> str:
            if overrides.get(field) not in (None, ()):
                return label(field)
            return SPECS_BY_FIELD[field].env

        settings = cls(**values)
        settings._check(name_of)
        return settings

    def _check(self, name_of: t.Callable[[str], str]) -> None:
        if not self.dap_host_is_loopback and self.token is None:
            raise ConfigError(
                name_of("dap_host"),
                self.dap_host,
                "listens beyond this machine without a token, so anyone who reaches it runs code",
                "set REMOTEDBG_TOKEN (make one with `remotedbg token`), or keep 127.0.0.1 and "
                "use an SSH tunnel",
            )
        if self.backend == "pycharm" and self.ide is None:
            raise ConfigError(
                name_of("backend"),
                self.backend,
                "needs the address of PyCharm's debug server",
                "set REMOTEDBG_IDE=host:port (the port of your Python Debug Server "
                "run configuration)",
            )
        if self.wait > self.ttl:
            raise ConfigError(
                name_of("wait"),
                f"{self.wait:g}s",
                f"is longer than the armed window ({self.ttl:g}s)",
                "make REMOTEDBG_WAIT shorter than REMOTEDBG_TTL",
            )

    @property
    def dap_host_is_loopback(self) -> bool:
        if self.dap_host.rstrip(".").lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.dap_host).is_loopback
        except ValueError:
            return False

    @property
    def ttl_delta(self) -> timedelta:
        return timedelta(seconds=self.ttl)


def _check_names(
    environ: t.Mapping[str, str],
    overrides: t.Mapping[str, object],
    label: t.Callable[[str], str],
) -> None:
    """Refuse a misspelt setting: silently ignoring ``REMOTEDBG_ALOW`` would arm for the default."""
    for key in environ:
        if key.startswith(ENV_PREFIX) and key not in _BY_ENV:
            close = difflib.get_close_matches(key, _BY_ENV, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(_BY_ENV)}"
            raise ConfigError(key, environ[key], "is not a remotedbg setting", hint)
    for field in overrides:
        if field not in SPECS_BY_FIELD:
            close = difflib.get_close_matches(field, SPECS_BY_FIELD, n=1)
            known = ", ".join(label(name) for name in SPECS_BY_FIELD)
            hint = f"did you mean {label(close[0])}?" if close else f"known: {known}"
            raise ConfigError(label(field), overrides[field], "is not a remotedbg setting", hint)

"""The parsers of ``REMOTEDBG_*`` values: text as a user typed it, to a checked value.

Each takes the name the user wrote (env var, CLI option or config key) and the raw value,
and returns the value or raises :class:`~remotedbg.errors.ConfigError` naming that name,
so one parser serves the environment, the command line and ``app.config`` alike. The CLI
uses some on their own (``--host``, ``--port``), which is why they are not private to
:mod:`remotedbg.settings`.
"""

from __future__ import annotations

import ipaddress
import math
import re
import string
import typing as t
from datetime import datetime, timedelta, timezone

from .errors import ConfigError
from .sansio.addresses import AddressSet, parse_network
from .sansio.status_page import parse_iso8601

__all__ = [
    "BACKENDS",
    "ENV_PREFIX",
    "MAX_TTL",
    "MAX_WAIT",
    "MIN_TOKEN_BITS",
    "MIN_TOKEN_LENGTH",
    "format_duration",
    "parse_allow",
    "parse_backend",
    "parse_bool",
    "parse_duration",
    "parse_endpoint",
    "parse_host",
    "parse_networks",
    "parse_port",
    "parse_proxies",
    "parse_token",
    "parse_until",
    "token_bits",
]

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
            moment = parse_iso8601(text)
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

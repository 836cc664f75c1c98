"""One typed settings object, read from ``REMOTEDBG_*`` and validated once at start-up.

Every value a user can type passes through a parser here, so a bad one fails before the app
serves a single request, in one line that names the setting as the user wrote it (the env
var, the CLI option or the config key), the bad value, and how to fix it. The parsers are
in :mod:`remotedbg.settings_parsers` and the table of specs, which the docs' configuration
reference is generated from, in :mod:`remotedbg.settings_specs`; their names are
importable from here too.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import typing as t
from datetime import datetime, timedelta

from .errors import ConfigError
from .sansio.addresses import AddressSet
from .settings_parsers import (
    BACKENDS,
    ENV_PREFIX,
    MAX_TTL,
    MAX_WAIT,
    MIN_TOKEN_BITS,
    MIN_TOKEN_LENGTH,
    format_duration,
    parse_allow,
    parse_backend,
    parse_bool,
    parse_duration,
    parse_endpoint,
    parse_host,
    parse_networks,
    parse_port,
    parse_proxies,
    parse_token,
    parse_until,
    token_bits,
)
from .settings_specs import SPECS, SPECS_BY_ENV, SPECS_BY_FIELD, SettingSpec

__all__ = [
    "BACKENDS",
    "ENV_PREFIX",
    "MAX_TTL",
    "MAX_WAIT",
    "MIN_TOKEN_BITS",
    "MIN_TOKEN_LENGTH",
    "SPECS",
    "SPECS_BY_FIELD",
    "SettingSpec",
    "Settings",
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
        if key.startswith(ENV_PREFIX) and key not in SPECS_BY_ENV:
            close = difflib.get_close_matches(key, SPECS_BY_ENV, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(SPECS_BY_ENV)}"
            raise ConfigError(key, environ[key], "is not a remotedbg setting", hint)
    for field in overrides:
        if field not in SPECS_BY_FIELD:
            close = difflib.get_close_matches(field, SPECS_BY_FIELD, n=1)
            known = ", ".join(label(name) for name in SPECS_BY_FIELD)
            hint = f"did you mean {label(close[0])}?" if close else f"known: {known}"
            raise ConfigError(label(field), overrides[field], "is not a remotedbg setting", hint)

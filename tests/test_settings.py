"""Settings: every bad value fails once, at start-up, in one line naming setting and fix."""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone

import pytest

from remotedbg.errors import ConfigError
from remotedbg.settings import SPECS, Settings

GOOD_TOKEN = "test-Vq3Xr8Lm2Kp9Tz4Wn7Bc6Hd"

# (env var, bad value, text the message must contain)
BAD_ENV = [
    ("REMOTEDBG_ENABLE", "maybe", "not a yes/no value"),
    ("REMOTEDBG_ALLOW", "10.0.0.300", "not an IP address or CIDR"),
    ("REMOTEDBG_ALLOW", "10.0.0.1/8", "host bits"),
    ("REMOTEDBG_ALLOW", "localhost", "not an IP address or CIDR"),
    ("REMOTEDBG_ALLOW", "0.0.0.0/0", "matches every address"),
    ("REMOTEDBG_ALLOW", "::/0", "matches every address"),
    ("REMOTEDBG_ALLOW", "", "allowlist is empty"),
    ("REMOTEDBG_TRUSTED_PROXIES", "10.0.0.0/33", "not an IP address or CIDR"),
    ("REMOTEDBG_TRUSTED_PROXIES", "0.0.0.0/0", "trusts every address"),
    ("REMOTEDBG_ALLOW", "2000::/3", "matches 2^125 public IPv6 addresses"),
    ("REMOTEDBG_TRUSTED_PROXIES", "0.0.0.0/1", "trusts as proxies 2.11 billion public IPv4"),
    ("REMOTEDBG_TRUSTED_PROXIES", "2001:db8::/31", "trusts as proxies 2^97 public IPv6"),
    ("REMOTEDBG_DAP_HOST", "bad host!", "not an IP address or host name"),
    ("REMOTEDBG_DAP_HOST", "0.0.0.0", "without a token"),
    ("REMOTEDBG_DAP_PORT", "70000", "not a TCP port"),
    ("REMOTEDBG_DAP_PORT", "-1", "not a TCP port"),
    ("REMOTEDBG_DAP_PORT", "http", "not a TCP port"),
    ("REMOTEDBG_TOKEN", "short", "at least 22"),
    ("REMOTEDBG_TOKEN", "spaces are not ok in tokens", "printable ASCII"),
    ("REMOTEDBG_TTL", "soon", "not a duration"),
    ("REMOTEDBG_TTL", "0", "more than zero"),
    ("REMOTEDBG_TTL", "48h", "24h limit"),
    ("REMOTEDBG_TTL", "5 minutes", "not a duration"),
    ("REMOTEDBG_WAIT", "-3s", "not a duration"),
    ("REMOTEDBG_WAIT", "1h", "limit"),
    ("REMOTEDBG_UNTIL", "tomorrow", "not an ISO 8601"),
    ("REMOTEDBG_UNTIL", "2026-11-21T18:00", "no time zone"),
    ("REMOTEDBG_ALOW", "10.0.0.1", "did you mean REMOTEDBG_ALLOW"),
]


@pytest.mark.parametrize(("var", "value", "problem"), BAD_ENV)
def test_bad_env_values(var: str, value: str, problem: str) -> None:
    """A bad env value raises ConfigError naming the variable, the value and a fix."""
    with pytest.raises(ConfigError) as info:
        Settings.load({var: value})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{var}=")
    assert problem in message
    assert "; " in message  # the fix follows the problem
    if var != "REMOTEDBG_TOKEN" and value and var != "REMOTEDBG_ALLOW":
        assert value in message


def test_token_never_echoed() -> None:
    """A rejected token is described, never printed, since errors end up in logs."""
    with pytest.raises(ConfigError) as info:
        Settings.load({"REMOTEDBG_TOKEN": "secret-but-bad"})
    assert "secret-but-bad" not in str(info.value)
    assert "hidden, 14 characters" in str(info.value)


def test_token_not_in_repr() -> None:
    """The settings repr, which may be logged, hides the token."""
    settings = Settings.load({"REMOTEDBG_TOKEN": GOOD_TOKEN})
    assert GOOD_TOKEN not in repr(settings)


def test_defaults_are_closed() -> None:
    """With no settings, the hook is off, loopback-only, and armed windows are short."""
    settings = Settings.load({})
    assert settings.enable is False
    assert "127.0.0.1" in settings.allow
    assert "::1" in settings.allow
    assert "10.0.0.1" not in settings.allow
    assert settings.dap_host == "127.0.0.1"
    assert settings.dap_port == 5678
    assert settings.token is None
    assert settings.ttl == 1800
    assert settings.wait == 0
    assert not settings.trusted_proxies


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1h30m", 5400),
        ("45s", 45),
        ("1.5h", 5400),
        (" 10M ", 600),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    """Durations take s/m/h units and combinations of them."""
    assert Settings.load({"REMOTEDBG_TTL": text}).ttl == seconds


@pytest.mark.parametrize(("var", "text"), [("REMOTEDBG_TTL", "30"), ("REMOTEDBG_WAIT", "1.5")])
def test_bare_number_durations_are_refused(var: str, text: str) -> None:
    """Text without a unit is refused, offering both readings, instead of meaning seconds."""
    with pytest.raises(ConfigError) as info:
        Settings.load({var: text})
    assert str(info.value) == (
        f"{var}={text!r}: a duration needs a unit; write {text}s for seconds or {text}m for minutes"
    )


def test_zero_needs_no_unit() -> None:
    """0 is the same in every unit, so REMOTEDBG_WAIT=0 still means no wait."""
    assert Settings.load({"REMOTEDBG_WAIT": "0"}).wait == 0


@pytest.mark.parametrize("value", [30, 30.0, timedelta(seconds=30)])
def test_python_durations_are_seconds(value: object) -> None:
    """From Python, an int, a float or a timedelta is a number of seconds, as before."""
    assert Settings.load({}, {"ttl": value, "wait": value}).ttl == 30


def test_values_from_env() -> None:
    """Every variable is read and typed."""
    settings = Settings.load(
        {
            "REMOTEDBG_ENABLE": "yes",
            "REMOTEDBG_ALLOW": "203.0.113.7, 10.1.0.0/16 2001:db8::/32",
            "REMOTEDBG_TRUSTED_PROXIES": "10.0.0.1",
            "REMOTEDBG_DAP_HOST": "0.0.0.0",
            "REMOTEDBG_DAP_PORT": "6000",
            "REMOTEDBG_TOKEN": GOOD_TOKEN,
            "REMOTEDBG_TTL": "2h",
            "REMOTEDBG_WAIT": "30s",
            "REMOTEDBG_UNTIL": "2030-01-02T03:04:05+01:00",
        }
    )
    assert settings.enable is True
    assert len(settings.allow) == 3
    assert "10.1.200.3" in settings.allow
    assert "10.0.0.1" in settings.trusted_proxies
    assert (settings.dap_host, settings.dap_port) == ("0.0.0.0", 6000)
    assert settings.token == GOOD_TOKEN
    assert (settings.ttl, settings.wait) == (7200, 30)
    assert settings.until == datetime(2030, 1, 2, 2, 4, 5, tzinfo=timezone.utc)


def test_overrides_win_and_are_named_by_label() -> None:
    """Overrides beat the environment, and their errors use the caller's label."""
    settings = Settings.load({"REMOTEDBG_TTL": "2h"}, {"ttl": timedelta(minutes=5)})
    assert settings.ttl == 300
    with pytest.raises(ConfigError, match=r"^--ttl='soon'"):
        Settings.load({}, {"ttl": "soon"}, label=lambda field: f"--{field}")
    with pytest.raises(ConfigError, match=r"^bogus=.*is not a remotedbg setting"):
        Settings.load({}, {"bogus": 1})


def test_bad_env_is_reported_even_when_overridden() -> None:
    """A typo in the environment is not hidden by an option that overrides it."""
    with pytest.raises(ConfigError, match="REMOTEDBG_ENABLE='maybe'"):
        Settings.load({"REMOTEDBG_ENABLE": "maybe"}, {"enable": True})


def test_python_values_accepted() -> None:
    """Keyword arguments may be typed values instead of strings."""
    settings = Settings.load(
        {}, {"enable": True, "allow": ["10.0.0.0/8", "192.0.2.1"], "dap_port": 0, "ttl": 60}
    )
    assert settings.enable
    assert settings.dap_port == 0
    assert settings.ttl == 60
    assert "192.0.2.1" in settings.allow


def test_empty_values_are_unset() -> None:
    """An empty variable (common in compose files) means unset, except the allowlist."""
    assert Settings.load({"REMOTEDBG_TTL": "", "REMOTEDBG_ENABLE": " "}).ttl == 1800


def test_wait_longer_than_ttl() -> None:
    """Waiting for an IDE longer than the window lasts is a contradiction."""
    with pytest.raises(ConfigError, match="REMOTEDBG_WAIT"):
        Settings.load({"REMOTEDBG_TTL": "60s", "REMOTEDBG_WAIT": "2m"})


@pytest.mark.parametrize("host", ["localhost", "127.0.0.5", "::1"])
def test_loopback_hosts_need_no_token(host: str) -> None:
    """Loopback debugger addresses do not require a token."""
    assert Settings.load({"REMOTEDBG_DAP_HOST": host}).dap_host_is_loopback


def test_every_spec_documented() -> None:
    """Each setting has an env var, help text and a default, for the docs' reference."""
    fields = set(Settings.__dataclass_fields__)
    assert {spec.field for spec in SPECS} == fields
    for spec in SPECS:
        assert spec.env.startswith("REMOTEDBG_")
        assert spec.help
        assert spec.default


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("ttl", "soon", "not a duration"),
        ("allow", "10.0.0.300", "not an IP address or CIDR"),
        ("dap_port", 70000, "not a TCP port"),
        ("enable", "maybe", "not a yes/no value"),
        ("token", "short", "at least 22"),
        ("until", "2026-11-21T18:00", "no time zone"),
    ],
)
def test_python_api_names_the_keyword(field: str, value: object, problem: str) -> None:
    """RemoteDebugMiddleware(x=bad) fails at once, naming the keyword as the user typed it."""
    from remotedbg import RemoteDebugMiddleware

    kwargs: dict[str, t.Any] = {field: value}
    with pytest.raises(ConfigError) as info:
        RemoteDebugMiddleware(lambda e, s: [b""], **kwargs)
    assert str(info.value).startswith(f"RemoteDebugMiddleware({field}=...)=")
    assert problem in str(info.value)


def test_flask_config_names_the_config_key() -> None:
    """A bad app.config["REMOTEDBG_*"] value names that key; a misspelt key is refused too."""
    from flask import Flask

    from remotedbg import RemoteDebugger

    app = Flask(__name__)
    app.config["REMOTEDBG_TTL"] = "soon"
    with pytest.raises(ConfigError, match=r'^app\.config\["REMOTEDBG_TTL"\]=.*not a duration'):
        RemoteDebugger(app)
    other = Flask(__name__)
    other.config["REMOTEDBG_ALOW"] = "10.0.0.1"
    with pytest.raises(ConfigError, match=r'did you mean app\.config\["REMOTEDBG_ALLOW"\]\?'):
        RemoteDebugger(other)


@pytest.mark.parametrize(
    ("seconds", "text"), [(1800, "30m"), (5400, "1h30m"), (90, "1m30s"), (45, "45s"), (0, "0s")]
)
def test_format_duration_round_trips(seconds: float, text: str) -> None:
    """Durations print the way people write them, and read back to the same seconds."""
    from remotedbg.settings import format_duration

    assert format_duration(seconds) == text
    if seconds:
        assert Settings.load({"REMOTEDBG_TTL": text}).ttl == seconds


# Every IPv4 network but 0.0.0.0/8: not a catch-all, yet 4.24 billion public addresses.
ALL_BUT_ZERO_SLASH_8 = (
    "1.0.0.0/8,2.0.0.0/7,4.0.0.0/6,8.0.0.0/5,16.0.0.0/4,32.0.0.0/3,64.0.0.0/2,128.0.0.0/1"
)


@pytest.mark.parametrize("var", ["REMOTEDBG_ALLOW", "REMOTEDBG_TRUSTED_PROXIES"])
@pytest.mark.parametrize(
    ("value", "count"),
    [
        (ALL_BUT_ZERO_SLASH_8, "4.24 billion public IPv4 addresses"),
        ("0.0.0.0/2,64.0.0.0/2", "2.11 billion public IPv4 addresses"),
        ("11.0.0.0/8 12.0.0.1", "16.8 million public IPv4 addresses"),
        ("2000::/3", "2^125 public IPv6 addresses"),
        ("::/1", "about 2^127 public IPv6 addresses"),
    ],
)
def test_near_catch_alls_are_refused(var: str, value: str, count: str) -> None:
    """A set matching more than a /8 of public IPv4 or a /32 of IPv6 fails in one line."""
    with pytest.raises(ConfigError) as info:
        Settings.load({var: value})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{var}=")
    assert count in message
    assert "list only" in message.partition("; ")[2]


@pytest.mark.parametrize(
    "value",
    [
        "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16",
        "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16",
        "fc00::/7,fe80::/10,::1",
        "11.0.0.0/8",
        "198.51.0.0/16",
        "2001:db8:1234::/48",
        "2001:db8::/32",
        "10.0.0.0/7",  # 11.0.0.0/8 public plus 10.0.0.0/8 private: exactly a /8 public
    ],
)
def test_private_ranges_and_modest_public_ones_are_accepted(value: str) -> None:
    """Private networks of any size, a public /8 at most and an IPv6 /32 at most load."""
    settings = Settings.load({"REMOTEDBG_ALLOW": value, "REMOTEDBG_TRUSTED_PROXIES": value})
    assert settings.allow == settings.trusted_proxies
    assert len(settings.allow) == len(value.replace(",", " ").split())


def test_near_catch_all_allow_on_the_cli_is_one_line() -> None:
    """`--allow` with a near catch-all exits 2 with one line naming the count, no traceback."""
    from click.testing import CliRunner

    from remotedbg.cli import cli

    args = ["run", "tests/apps/flask_app.py", "--allow", ALL_BUT_ZERO_SLASH_8]
    result = CliRunner().invoke(cli, args, env={})
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "--allow=" in result.output
    assert "4.24 billion public IPv4 addresses" in result.output

"""Every exception remotedbg raises, drawn once so a caller sees what to catch::

RemotedbgError
├── ConfigError            a setting has a bad value; names the setting and the fix
├── AppLoadError           `remotedbg run APP` could not find or import APP
├── ArmError               the debugger could not be started in this process
├── AttachError            `remotedbg attach` cannot go on; one line, exit code 2
├── IdeConfigError         (remotedbg.client.ide_config) an attach configuration cannot be made
│   ├── LaunchJsonError    launch.json cannot be read, parsed, or has the wrong shape
│   └── StatusPageError    GET <url>/__remotedbg__ failed or returned no app_root
└── ProtocolError          bytes from a DAP peer broke the protocol (one connection)
    ├── FramingError       the Content-Length framing is wrong
    │   ├── MissingContentLength
    │   ├── BadContentLength
    │   ├── MessageTooLarge
    │   └── TruncatedMessage   EOF in the middle of a message
    ├── NotJSON            the body is not UTF-8 JSON
    └── NotDAPMessage      the body is JSON but not a DAP request, response or event

click.ClickException
└── CLIError               (remotedbg.cli.errors) one line on stderr, exit code 2

CLIError is outside the tree on purpose: it is how the command line reports an error, not
an error of its own. ``one_line_errors`` turns any RemotedbgError into it at the CLI's edge,
so the library below never imports click to raise one.
"""

from __future__ import annotations

__all__ = [
    "AppLoadError",
    "ArmError",
    "AttachError",
    "BadContentLength",
    "ConfigError",
    "FramingError",
    "MessageTooLarge",
    "MissingContentLength",
    "NotDAPMessage",
    "NotJSON",
    "ProtocolError",
    "RemotedbgError",
    "TruncatedMessage",
]


class RemotedbgError(Exception):
    """Base of every error remotedbg raises on purpose."""


class ConfigError(RemotedbgError, ValueError):
    """A setting is wrong. The message is one line: setting, bad value, and the fix."""

    def __init__(self, setting: str, value: object, problem: str, fix: str) -> None:
        self.setting = setting
        self.value = value
        self.problem = problem
        self.fix = fix
        super().__init__(f"{setting}={value!r}: {problem}; {fix}")


class AppLoadError(RemotedbgError):
    """APP given to `remotedbg run` or `doctor` cannot be located or imported."""


class ArmError(RemotedbgError):
    """The debugger listener could not start; the app keeps serving without it."""


class AttachError(RemotedbgError):
    """A failure `remotedbg attach` reports in one line, with exit code 2."""


class ProtocolError(RemotedbgError):
    """A peer sent bytes that break the Debug Adapter Protocol; close that connection only."""


class FramingError(ProtocolError):
    """The `Content-Length` header framing is broken."""


class MissingContentLength(FramingError):
    """A header block ended without a `Content-Length` header."""


class BadContentLength(FramingError):
    """`Content-Length` is not a non-negative decimal integer, or a header line is malformed."""


class MessageTooLarge(FramingError):
    """A header block or body exceeds the configured cap."""


class TruncatedMessage(FramingError):
    """The peer closed the stream in the middle of a message."""


class NotJSON(ProtocolError):
    """The body is not valid UTF-8 JSON."""


class NotDAPMessage(ProtocolError):
    """The body is JSON but not a DAP request, response or event."""

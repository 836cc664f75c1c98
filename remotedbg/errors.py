"""Every exception remotedbg raises, drawn once so a caller sees what to catch::

RemotedbgError
├── ConfigError            a setting has a bad value; names the setting and the fix
├── AppLoadError           `remotedbg run APP` could not find or import APP (.kind: AppLoadKind)
├── ArmError               the debugger could not be started in this process
├── AttachError            `remotedbg attach` cannot go on; one line, exit code 2
├── IdeConfigError         an attach configuration cannot be made
│   ├── LaunchJsonError    launch.json cannot be read, parsed, or has the wrong shape
│   └── StatusPageError    GET <url>/__remotedbg__ failed or returned no app_root
│       └── MalformedStatusPage   the page's JSON is not the schema (sansio.status_page)
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

Two enums let callers branch on what went wrong without reading the words, which may be
reworded: :class:`AppLoadKind` (on every AppLoadError) and :class:`RefusalKind` (why the
door refused an IDE; :mod:`remotedbg.sansio.refusals` reads it off the DAP response).
"""

from __future__ import annotations

import enum

__all__ = [
    "AppLoadError",
    "AppLoadKind",
    "ArmError",
    "AttachError",
    "BadContentLength",
    "ConfigError",
    "FramingError",
    "IdeConfigError",
    "LaunchJsonError",
    "MalformedStatusPage",
    "MessageTooLarge",
    "MissingContentLength",
    "NotDAPMessage",
    "NotJSON",
    "ProtocolError",
    "RefusalKind",
    "RemotedbgError",
    "StatusPageError",
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


class AppLoadKind(str, enum.Enum):
    """Why APP could not be loaded: what the doctor and tests branch on."""

    #: APP is not written as module:name, module, path/to/app.py[:name] or factory(literals).
    MALFORMED = "malformed"
    #: No such file, or no such module on the path.
    NOT_FOUND = "not_found"
    #: Importing the module failed: an import inside it, or its code raised.
    IMPORT_FAILED = "import_failed"
    #: The module's code does not compile.
    SYNTAX_ERROR = "syntax_error"
    #: A bare module holds no app, application, create_app or make_app.
    NO_APP = "no_app"
    #: module:name names an attribute the module does not have.
    NO_ATTRIBUTE = "no_attribute"
    #: The factory was called and raised.
    FACTORY_FAILED = "factory_failed"
    #: What APP names is not callable, so it is no WSGI app.
    NOT_AN_APP = "not_an_app"
    #: What APP names is callable, but neither a WSGI nor an ASGI 3 app (its signature fits
    #: neither, or it is an ASGI 2 class); details: what was found, in words.
    WRONG_SIGNATURE = "wrong_signature"
    #: Raised with a message only: nothing more is known.
    OTHER = "other"


class AppLoadError(RemotedbgError):
    """APP given to `remotedbg run` or `doctor` cannot be located or imported.

    The message is ``APP 'spec': problem; fix``. The parts are kept (`app`, `problem`,
    `fix`) with the `kind` and its `details` (the missing name, the exception's line...),
    so that the doctor shows problem and fix apart without parsing the words. Given only a
    message, as older callers do, it is read as ``problem; fix``.
    """

    def __init__(
        self,
        problem: str,
        fix: str | None = None,
        *,
        app: str | None = None,
        kind: AppLoadKind = AppLoadKind.OTHER,
        details: tuple[str, ...] = (),
    ) -> None:
        if app is None and fix is None:
            title, separator, rest = problem.partition("; ")
            problem, fix = title, (rest if separator else None)
        self.app = app
        self.problem = problem
        self.fix = fix
        self.kind = kind
        self.details = details
        super().__init__(self.title + (f"; {fix}" if fix else ""))

    @property
    def title(self) -> str:
        """The problem, naming APP: the message without its fix."""
        return self.problem if self.app is None else f"APP {self.app!r}: {self.problem}"


class ArmError(RemotedbgError):
    """The debugger listener could not start; the app keeps serving without it."""


class AttachError(RemotedbgError):
    """A failure `remotedbg attach` reports in one line, with exit code 2."""


class IdeConfigError(RemotedbgError):
    """An attach configuration cannot be made or written. The message is one line."""


class LaunchJsonError(IdeConfigError):
    """launch.json cannot be read or parsed as JSONC, or its top level or
    ``configurations`` has the wrong type. The file is left untouched."""


class StatusPageError(IdeConfigError):
    """The status page could not be fetched, or did not hold an ``app_root``."""


class MalformedStatusPage(StatusPageError):
    """The status page's JSON does not follow the schema: one key of the wrong type.

    `key` is the offending key, or None when the page is not a JSON object at all;
    `problem` says what is wrong with it, without naming where the page came from (the
    reader that fetched it adds that).
    """

    def __init__(self, key: str | None, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"malformed status page: {problem}")


class RefusalKind(str, enum.Enum):
    """Why the door refused an IDE: carried in the DAP error (see remotedbg.sansio.refusals)."""

    #: The attach request's remotedbgToken is missing, not a string, or wrong.
    TOKEN = "token"  # noqa: S105 (a kind, not a secret)
    #: Another IDE is already attached.
    BUSY = "busy"
    #: The connection's address is not on REMOTEDBG_ALLOW.
    PEER = "peer"
    #: No armed window: it was never opened, or it has ended.
    EXPIRED = "expired"
    #: Too many connections or tries from this address (or from everyone) just now.
    RATE_LIMITED = "rate_limited"
    #: The connection comes from another local user than the app's (a tokenless loopback door).
    OTHER_USER = "other_user"
    #: The request is not one the door answers (not attach, or attach before initialize).
    UNSUPPORTED = "unsupported"
    #: The debugger behind the door cannot be reached (it is starting, or gone).
    UNAVAILABLE = "unavailable"
    #: A refusal this client cannot place: a newer server's kind, or words it does not know.
    UNKNOWN = "unknown"


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

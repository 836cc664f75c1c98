"""remotedbg: stop in your IDE inside a remote web app, through a door that closes itself.

Importing this package costs nothing when debugging is off: debugpy, Flask and the hook's
machinery load only when first used (PEP 562 ``__getattr__``), and so does
``__version__``, read from the installed package's metadata.
"""

from __future__ import annotations

import importlib

# Not `typing.TYPE_CHECKING`: importing typing alone would cost more than the whole package.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .errors import (
        AppLoadError,
        ArmError,
        ConfigError,
        ProtocolError,
        RemotedbgError,
    )
    from .hooks.asgi import RemoteDebugASGIMiddleware
    from .hooks.flask import RemoteDebugger
    from .hooks.wsgi import RemoteDebugMiddleware
    from .settings import Settings

    __version__: str

__all__ = [
    "AppLoadError",
    "ArmError",
    "ConfigError",
    "ProtocolError",
    "RemoteDebugASGIMiddleware",
    "RemoteDebugMiddleware",
    "RemoteDebugger",
    "RemotedbgError",
    "Settings",
]

_WHERE = {
    "AppLoadError": "errors",
    "ArmError": "errors",
    "ConfigError": "errors",
    "ProtocolError": "errors",
    "RemotedbgError": "errors",
    "RemoteDebugASGIMiddleware": "hooks.asgi",
    "RemoteDebugger": "hooks.flask",
    "RemoteDebugMiddleware": "hooks.wsgi",
    "Settings": "settings",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":  # from the installed metadata, read on first use only
        from importlib.metadata import version

        globals()["__version__"] = found = version(__name__)
        return found
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'remotedbg' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)

"""The Django hook, by the name users put in ``MIDDLEWARE``::

    MIDDLEWARE = ["remotedbg.django.RemoteDebugMiddleware", ...]  # first

A module of its own so that ``import remotedbg`` never imports Django: this one does, and
only a project that names it loads it.
"""

from __future__ import annotations

from .hooks.django import RemoteDebugMiddleware

__all__ = ["RemoteDebugMiddleware"]

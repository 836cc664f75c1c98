"""Where the app's code lives on the server: the remote side of the IDE's path mapping.

The useful root is the folder the app's top-level package is imported from, which is what a
developer opens as the project on their laptop, not the package folder itself (Flask's
``root_path``): ``/srv/shop/shop/views.py`` maps from ``/srv/shop``.
"""

from __future__ import annotations

import os
import sys

__all__ = ["guess_app_root", "import_root"]


def import_root(module_name: str) -> str | None:
    """The sys.path folder that `module_name` was imported from, if it came from a file."""
    module = sys.modules.get(module_name)
    filename = getattr(module, "__file__", None)
    if not isinstance(filename, str):
        return None
    path = os.path.dirname(os.path.abspath(filename))
    depth = module_name.count(".")
    if os.path.basename(filename).startswith("__init__."):
        depth += 1
    for _ in range(depth):
        path = os.path.dirname(path)
    return path


def guess_app_root(app: object) -> str:
    """The import root of the module that defines `app`, else the working directory."""
    module_name = getattr(app, "__module__", None) or type(app).__module__
    if module_name in (None, "builtins", "__main__"):
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        return os.path.dirname(os.path.abspath(main_file)) if main_file else os.getcwd()
    return import_root(module_name) or os.getcwd()

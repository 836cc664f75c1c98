"""Find the app named by `remotedbg run APP`, the way ``flask --app`` does, and its kind.

APP is ``module:name``, ``module:factory(args)``, a bare ``module`` (which must hold ``app``
or ``application``, or a ``create_app()`` / ``make_app()`` factory), or
``path/to/file.py[:name]``. Failures become one-line :class:`AppLoadError` messages: the
user's typo must not look like a crash of the tool. What APP names must be a WSGI or an
ASGI app (:mod:`.app_kind`), so that `run` knows which server to serve it with.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import sys
import typing as t

from ..errors import AppLoadError, AppLoadKind
from .app_kind import AppKind, AppShape, app_shape

__all__ = ["LoadedApp", "load_app"]

_SPEC = re.compile(r"(?P<target>.+?)(?::(?P<attr>[A-Za-z_][\w.]*)(?P<call>\(.*\))?)?")
_MODULE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_FORMS = "write module:name, module:factory('args'), module or path/to/app.py[:name]"
_NAMES = ("app", "application")
_FACTORIES = ("create_app", "make_app")


class LoadedApp(t.NamedTuple):
    app: t.Callable[..., t.Any]
    module: str
    root: str
    #: What the app is: WSGI or ASGI, and its framework.
    shape: AppShape = AppShape(AppKind.WSGI)

    @property
    def kind(self) -> AppKind:
        return self.shape.kind or AppKind.WSGI


def _one_line(exc: BaseException) -> str:
    """`exc` as ``Type: message`` on one line, however the app's exception is worded."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _malformed(spec: str) -> AppLoadError:
    opened, closed = spec.count("("), spec.count(")")
    why = "the factory call's parentheses do not match" if opened != closed else "malformed"
    return AppLoadError(why, _FORMS, app=spec, kind=AppLoadKind.MALFORMED)


def _import_target(spec: str, target: str) -> tuple[str, str | None]:
    """Import `target` (a module or a file path); return the module name and its sys.path root."""
    root: str | None = None
    if target.endswith(".py") or os.sep in target or os.path.isdir(target):
        path = os.path.realpath(target)
        if not os.path.exists(path):
            if ":" in target or "(" in target:  # a path:name the pattern could not split
                raise _malformed(spec)
            raise AppLoadError(
                f"no file {target!r}",
                "check the path",
                app=spec,
                kind=AppLoadKind.NOT_FOUND,
                details=(target,),
            )
        if os.path.isfile(path):
            path = os.path.splitext(path)[0]
        if os.path.basename(path) == "__init__":
            path = os.path.dirname(path)
        parts = [os.path.basename(path)]
        root = os.path.dirname(path)
        while os.path.isfile(os.path.join(root, "__init__.py")):
            parts.insert(0, os.path.basename(root))
            root = os.path.dirname(root)
        module = ".".join(parts)
        if root not in sys.path:
            sys.path.insert(0, root)
    else:
        if not _MODULE.fullmatch(target):
            raise _malformed(spec)
        module = target
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if exc.name and module.startswith(exc.name) and exc.name not in sys.modules:
            raise AppLoadError(
                f"no module named {exc.name!r}",
                "run from the project folder or give a path like path/to/app.py",
                app=spec,
                kind=AppLoadKind.NOT_FOUND,
                details=(exc.name,),
            ) from None
        raise AppLoadError(
            f"importing {module!r} failed: {_one_line(exc)}",
            "install what it needs, or fix the import",
            app=spec,
            kind=AppLoadKind.IMPORT_FAILED,
            details=(module, _one_line(exc)),
        ) from None
    except SyntaxError as exc:
        raise AppLoadError(
            f"{exc.msg} at {exc.filename}:{exc.lineno}",
            "fix the code there",
            app=spec,
            kind=AppLoadKind.SYNTAX_ERROR,
            details=(module, f"{exc.filename}:{exc.lineno}", str(exc.msg)),
        ) from None
    except Exception as exc:
        raise AppLoadError(
            f"importing {module!r} raised {_one_line(exc)}",
            "fix what it needs at import time",
            app=spec,
            kind=AppLoadKind.IMPORT_FAILED,
            details=(module, _one_line(exc)),
        ) from None
    return module, root


def _call_factory(spec: str, factory: t.Callable[..., t.Any], call: str) -> t.Any:
    try:
        expr = ast.parse(f"f{call}", mode="eval").body
        if not isinstance(expr, ast.Call):
            raise ValueError
        args = [ast.literal_eval(arg) for arg in expr.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in expr.keywords if kw.arg}
    except (SyntaxError, ValueError):
        raise AppLoadError(
            f"cannot read the arguments {call!r}",
            "use literals, like create_app('staging')",
            app=spec,
            kind=AppLoadKind.MALFORMED,
            details=(call,),
        ) from None
    try:
        return factory(*args, **kwargs)
    except Exception as exc:
        raise AppLoadError(
            f"calling the factory raised {_one_line(exc)}",
            "fix what it needs",
            app=spec,
            kind=AppLoadKind.FACTORY_FAILED,
            details=(_one_line(exc),),
        ) from None


def _find_in_module(spec: str, module: t.Any) -> t.Any:
    for name in _NAMES:
        if hasattr(module, name):
            return getattr(module, name)
    for name in _FACTORIES:
        factory = getattr(module, name, None)
        if callable(factory):
            return _call_factory(spec, factory, "()")
    raise AppLoadError(
        f"found no 'app', 'application', 'create_app' or 'make_app' in {module.__name__!r}",
        f"name it, like {module.__name__}:my_app",
        app=spec,
        kind=AppLoadKind.NO_APP,
        details=(module.__name__,),
    )


def load_app(spec: str) -> LoadedApp:
    """Import and return the WSGI or ASGI app that `spec` names; raises AppLoadError."""
    match = _SPEC.fullmatch(spec.strip())
    if not spec.strip() or match is None:
        raise AppLoadError(
            "give module:name, module or path/to/app.py", app=spec, kind=AppLoadKind.MALFORMED
        )
    module_name, root = _import_target(spec, match["target"])
    module = sys.modules[module_name]
    if match["attr"] is None:
        app = _find_in_module(spec, module)
    else:
        app = module
        for part in match["attr"].split("."):
            try:
                app = getattr(app, part)
            except AttributeError:
                raise AppLoadError(
                    f"{module_name!r} has no attribute {match['attr']!r}",
                    app=spec,
                    kind=AppLoadKind.NO_ATTRIBUTE,
                    details=(module_name, match["attr"]),
                ) from None
        if match["call"] is not None:
            app = _call_factory(spec, app, match["call"])
    shape = app_shape(app)
    if shape.kind is None:
        callable_ = callable(app) and not isinstance(app, type(sys))
        raise AppLoadError(
            shape.problem,
            shape.fix,
            app=spec,
            kind=AppLoadKind.WRONG_SIGNATURE if callable_ else AppLoadKind.NOT_AN_APP,
            details=(shape.found,) if callable_ else (type(app).__name__,),
        )
    from ..hooks.app_root import import_root

    return LoadedApp(app, module_name, root or import_root(module_name) or os.getcwd(), shape)

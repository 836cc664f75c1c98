"""What APP names: a WSGI app, an ASGI app, or neither; which framework made it; whether
remotedbg's hook is already inside it.

`remotedbg run` serves WSGI with Werkzeug and ASGI with uvicorn, so it must tell them apart
before serving: an ASGI app served as WSGI would arm, then answer every request with a 500.
Only types and signatures are read. Nothing is called, and no framework is imported: a
framework's classes are recognised by module and name, since an app can only be made from
a framework that is already imported.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import inspect
import sys
import types
import typing as t

__all__ = ["AppKind", "AppShape", "app_shape", "installed_hook"]


class AppKind(str, enum.Enum):
    """The two interfaces `remotedbg run` serves."""

    WSGI = "WSGI"
    ASGI = "ASGI"


#: Framework app classes, by (module, class name), as they appear in an app's type's MRO.
#: FastAPI comes before Starlette in a FastAPI app's MRO, so the most precise name wins.
_FRAMEWORKS = {
    ("flask.app", "Flask"): "Flask",
    ("quart.app", "Quart"): "Quart",
    ("fastapi.applications", "FastAPI"): "FastAPI",
    ("starlette.applications", "Starlette"): "Starlette",
    ("django.core.handlers.wsgi", "WSGIHandler"): "Django",
    ("django.core.handlers.asgi", "ASGIHandler"): "Django",
}
#: remotedbg's own hooks, which say nothing of the framework inside them.
_HOOKS = {
    ("remotedbg.hooks.wsgi", "RemoteDebugMiddleware"),
    ("remotedbg.hooks.asgi", "RemoteDebugASGIMiddleware"),
}
_EXPECTED = (
    "name a WSGI app (a callable taking environ, start_response) or an ASGI app "
    "(an async callable taking scope, receive, send)"
)


@dataclasses.dataclass(frozen=True)
class AppShape:
    """What an object is as an app. `kind` is None when it is neither WSGI nor ASGI; then
    `problem` says what was found and `fix` what is expected, one line together."""

    kind: AppKind | None
    #: The framework that made it (Flask, Django, FastAPI...), or None for a plain app.
    framework: str | None = None
    #: What was found, in words ("a str", "a function taking 1 argument"), when neither.
    found: str = ""
    problem: str = ""
    fix: str = ""

    @property
    def label(self) -> str:
        """The app in a few words: ``a FastAPI app (ASGI)``, ``a plain WSGI app``."""
        if self.kind is None:
            return self.found
        if self.framework is None:
            return f"a plain {self.kind.value} app"
        return f"{_article(self.framework)} {self.framework} app ({self.kind.value})"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _class_key(cls: type) -> tuple[str, str]:
    return (getattr(cls, "__module__", ""), getattr(cls, "__qualname__", ""))


def _framework_class(cls: type) -> str | None:
    """The framework whose app class `cls` is, or derives from."""
    for base in cls.__mro__:
        name = _FRAMEWORKS.get(_class_key(base))
        if name is not None:
            return name
    return None


def _framework(app: object) -> str | None:
    """The framework whose app class `app` is an instance of; a hook's, that of its app."""
    for _ in range(8):  # hooks wrapping hooks, not a cycle
        name = _framework_class(type(app))
        if name is not None or not any(_class_key(cls) in _HOOKS for cls in type(app).__mro__):
            return name
        app = getattr(app, "app", None)
    return None


def _coroutine_function(func: object) -> bool:
    """`func` is an ``async def`` (or partial or bound method of one, or marked as one)."""
    if sys.version_info >= (3, 14):  # asyncio's version is deprecated there
        return inspect.iscoroutinefunction(func)
    # asyncio's also sees asgiref's mark (markcoroutinefunction before 3.12).
    return inspect.iscoroutinefunction(func) or asyncio.iscoroutinefunction(func)


def _is_async(app: object) -> bool:
    """Calling `app` returns a coroutine, as far as its definition tells."""
    if _coroutine_function(app):
        return True
    while isinstance(app, functools.partial):
        app = app.func
    if inspect.isroutine(app):
        try:
            return _coroutine_function(inspect.unwrap(app))  # under a functools.wraps decorator
        except ValueError:  # a __wrapped__ cycle
            return False
    return _coroutine_function(getattr(app, "__call__", None))  # noqa: B004 (not a callable test)


class _Arity(t.NamedTuple):
    """How many positional arguments a callable takes: `required` up to `most` (None: any),
    and the first keyword-only argument it requires, with which no server can call it."""

    required: int
    most: int | None
    keyword: str | None = None

    def accepts(self, count: int) -> bool:
        if self.keyword is not None:
            return False
        return self.required <= count and (self.most is None or count <= self.most)

    def __str__(self) -> str:
        if self.most is None:
            text = f"{self.required} or more arguments"
        elif self.required == self.most:
            text = f"{self.most} argument{'' if self.most == 1 else 's'}"
        else:
            text = f"{self.required} to {self.most} arguments"
        return text if self.keyword is None else f"{text} and a keyword {self.keyword!r}"


def _arity(func: object) -> _Arity | None:
    try:
        signature = inspect.signature(t.cast("t.Callable[..., t.Any]", func))
    except (TypeError, ValueError):  # builtins and extension types may have none
        return None
    required, most = 0, 0
    variadic = False
    keyword = None
    kind = inspect.Parameter
    for parameter in signature.parameters.values():
        if parameter.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD):
            most += 1
            required += parameter.default is kind.empty
        elif parameter.kind is kind.VAR_POSITIONAL:
            variadic = True
        elif parameter.kind is kind.KEYWORD_ONLY and parameter.default is kind.empty:
            keyword = keyword or parameter.name
    return _Arity(required, None if variadic else most, keyword)


def _neither(found: str, problem: str = "", fix: str = _EXPECTED) -> AppShape:
    problem = problem or f"found {found}, which is not a WSGI app or an ASGI app"
    return AppShape(None, found=found, problem=problem, fix=fix)


def _found_callable(app: object, is_async: bool, arity: _Arity) -> str:
    """A callable in words: "a function taking 1 argument", "a Foo object whose..."."""
    sync = "an async" if is_async else "a"
    if isinstance(app, functools.partial):
        return f"a functools.partial of {sync} function, taking {arity}"
    if inspect.isroutine(app):
        return f"{sync} {'method' if inspect.ismethod(app) else 'function'} taking {arity}"
    name = type(app).__name__
    call = "async __call__" if is_async else "__call__"
    return f"{_article(name)} {name} object whose {call} takes {arity}"


def _class_shape(cls: type, framework: str | None) -> AppShape:
    """A class named as the app: PEP 3333 allows a WSGI class; an ASGI 2 app is refused."""
    arity = _arity(cls)
    if framework is not None:
        return _neither(
            f"the class {cls.__name__}",
            fix=f"name the {framework} app made from it, like module:app "
            f"where app = {cls.__name__}(...)",
        )
    if (
        arity is not None
        and arity.accepts(1)
        and _coroutine_function(getattr(cls, "__call__", None))  # noqa: B004 (instances' call)
    ):
        return _neither(
            f"the class {cls.__name__}",
            problem=f"found the class {cls.__name__}, an ASGI 2 app, which remotedbg cannot serve",
            fix="serve an ASGI 3 app: wrap it with asgiref.compatibility."
            f"guarantee_single_callable({cls.__name__})",
        )
    if arity is not None and arity.accepts(2):
        return AppShape(AppKind.WSGI)
    taking = f" taking {arity}" if arity is not None else ""
    return _neither(
        f"the class {cls.__name__}{taking}",
        fix=f"name an app, not a class (like module:app where app = {cls.__name__}(...)), "
        "or " + _EXPECTED.removeprefix("name "),
    )


def app_shape(app: object) -> AppShape:
    """Whether `app` is a WSGI app, an ASGI 3 app or neither, and its framework.

    ASGI: a coroutine function or an object whose ``__call__`` is one, taking 3 arguments
    (scope, receive, send); or a plain callable taking exactly 3, which cannot be WSGI and
    must return an awaitable. WSGI: a plain callable taking 2 (environ, start_response),
    or a class so built (PEP 3333). A callable whose signature cannot be read is judged by
    being async or not.
    """
    framework = _framework(app)
    if isinstance(app, types.ModuleType):
        return _neither("a module", fix=f"name the app in it, like {app.__name__}:app")
    if isinstance(app, type):
        return _class_shape(app, _framework_class(app))
    if app is None:
        return _neither("None")
    if not callable(app):
        return _neither(f"{_article(type(app).__name__)} {type(app).__name__}")
    is_async = _is_async(app)
    arity = _arity(app)
    if arity is None:
        return AppShape(AppKind.ASGI if is_async else AppKind.WSGI, framework)
    if arity.accepts(3) and (is_async or not arity.accepts(2)):
        return AppShape(AppKind.ASGI, framework)
    if arity.accepts(2) and not is_async:
        return AppShape(AppKind.WSGI, framework)
    return _neither(_found_callable(app, is_async, arity))


def _static(obj: object, name: str) -> object:
    """`obj`'s attribute `name` without running a property or __getattr__, or None."""
    try:
        return inspect.getattr_static(obj, name, None)
    except Exception:  # an object that breaks on inspection holds no hook we can see
        return None


def installed_hook(app: object) -> str | None:
    """The remotedbg hook the app already has, named, or None.

    Found through the usual ways of wrapping: ``.app`` (middleware), ``.wsgi_app`` (Flask),
    ``.asgi_app`` (Quart), Flask's ``extensions["remotedbg"]``, Starlette's
    ``user_middleware`` (``add_middleware``) and built ``middleware_stack``.
    """
    seen: set[int] = set()
    todo = [app]
    while todo and len(seen) < 64:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for cls in type(obj).__mro__:
            if _class_key(cls) in _HOOKS:
                return cls.__name__
        extensions = _static(obj, "extensions")
        if isinstance(extensions, dict) and "remotedbg" in extensions:
            return "the RemoteDebugger Flask extension"
        middleware = _static(obj, "user_middleware")
        for entry in middleware if isinstance(middleware, list) else ():
            added = getattr(entry, "cls", None)
            if isinstance(added, type) and _class_key(added) in _HOOKS:
                return f"{added.__name__} (add_middleware)"
        for name in ("app", "wsgi_app", "asgi_app", "application", "middleware_stack"):
            inner = _static(obj, name)
            if inner is not None and callable(inner) and not inspect.isroutine(inner):
                todo.append(inner)
    return None
